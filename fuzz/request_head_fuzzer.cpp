// The worker's reading of a request head, as http_server.cpp does it: the bare-LF scan of the
// bytes received, the strict check of the head, its fields in order, the target's split, and
// Beast's parser with the worker's limits. Besides crashes, it checks that where our check
// accepts a head, Beast sees the same head: the same number of fields, and chunked framing
// exactly when a Transfer-Encoding was sent (a disagreement there is how smuggling starts).
// A head the worker serves without Beast (is_plain_bodiless) must be one Beast accepts, with
// the same request line, no body, and the same keep-alive answer as Beast's parser (but for
// an HTTP/1.0 head that lists both close and keep-alive: close wins, RFC 9112 §9.3).

#include "common/http_text.hpp"
#include "config/config.hpp"
#include "worker/request_head_check.hpp"
#include "worker/request_target.hpp"

#include <boost/beast/core/buffers_range.hpp>
#include <boost/beast/http.hpp>

#include <cstdint>
#include <cstdlib>
#include <iterator>
#include <string_view>

namespace beast = boost::beast;
namespace http = beast::http;
using namespace hornbeam;

namespace {

bool has_transfer_encoding(const std::vector<HttpHeader>& fields) {
  for (const auto& field : fields) {
    if (iequals(field.name, "Transfer-Encoding")) return true;
  }
  return false;
}

void check(bool holds) {
  if (!holds) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view received(reinterpret_cast<const char*>(data), size);
  config::Limits limits;
  limits.max_request_line = 4096;
  limits.max_header_size = 1024;
  limits.max_headers = 32;

  const auto end = received.find("\r\n\r\n");
  const auto bare_lf = worker::find_bare_lf(received.substr(0, end), 0);
  if (end == std::string_view::npos || bare_lf != std::string_view::npos) return 0;
  const std::string_view head = received.substr(0, end + 4);
  if (worker::check_request_head(head, limits).status != 0) return 0;

  const auto fields = worker::head_fields(head);
  http::request_parser<http::empty_body> parser;
  parser.header_limit(static_cast<std::uint32_t>(head.size()));
  parser.body_limit(1 << 20);
  parser.eager(false);
  beast::error_code ec;
  parser.put(boost::asio::buffer(head.data(), head.size()), ec);
  const bool served_without_beast = worker::is_plain_bodiless(fields);
  if (served_without_beast) check(!ec && parser.is_done());
  if (ec || !parser.is_header_done()) return 0;  // the worker answers 400: no harm done

  const auto& message = parser.get();
  if (served_without_beast) {
    const auto line = worker::request_line_of(head);
    check(line.method == std::string_view(message.method_string()));
    check(line.target == std::string_view(message.target()));
    check(line.version == message.version());
    const bool keep_alive = worker::wants_keep_alive(line.version, fields);
    // Beast's answer, but for the case where the RFC and Beast differ.
    const bool both =
        line.version == 10 && !worker::wants_keep_alive(11, fields) && parser.keep_alive();
    check(keep_alive == (parser.keep_alive() && !both));
  }
  check(static_cast<std::size_t>(std::distance(message.begin(), message.end())) == fields.size());
  check(parser.chunked() == has_transfer_encoding(fields));

  HttpRequest request;
  worker::split_target(message.target(), message.method() == http::verb::connect, request);
  check(request.path.size() + request.query.size() <= message.target().size());
  return 0;
}
