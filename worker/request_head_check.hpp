#pragma once

// The strict reading of a request head that Beast is lenient about. The raw head (request
// line and fields, up to and including the blank line) is judged before Beast parses it:
// anything ambiguous is refused, never guessed (request smuggling lives in the guesses).

#include "common/http_exchange.hpp"
#include "config/config.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace hornbeam::worker {

struct HeadVerdict {
  int status = 0;      // 0: acceptable; else 400, 414 or 431
  std::string reason;  // for the log line: which rule or which limit
};

// With `fields`, an accepted head's fields are left there as head_fields() gives them: the
// check walks every line anyway, and a second walk cost a request a few hundred instructions.
HeadVerdict check_request_head(std::string_view head, const config::Limits& limits,
                               std::vector<HttpHeader>* fields = nullptr);

// Where the first LF not preceded by CR is in `received[from..]`, or npos. A head whose lines
// end in bare LF never shows the CRLF CRLF that ends a head: the reader looks for this too, so
// that such a request is refused at once instead of waiting for the header timeout.
std::size_t find_bare_lf(std::string_view received, std::size_t from);

// The fields of a head that check_request_head accepted, in the order sent (Beast groups
// repeated names together, and ASGI wants the order as sent), values without their OWS.
// (check_request_head without limits.)
std::vector<HttpHeader> head_fields(std::string_view head);

// The request line of a head that check_request_head accepted, in its three parts.
struct RequestLine {
  std::string_view method;
  std::string_view target;
  int version = 11;  // 10 or 11: the only two the check accepts
};
RequestLine request_line_of(std::string_view head);

// Whether the client wants the connection kept after this request (RFC 9112 §9.3): on
// HTTP/1.1 unless a Connection field lists `close`; on HTTP/1.0 when one lists `keep-alive`
// and none `close` (Beast's parser lets keep-alive win there; the RFC says close). Every
// Connection field counts, and Proxy-Connection as one, as Beast's parser counts them;
// check_request_head refused a head where one is not a list of tokens.
bool wants_keep_alive(int version, const std::vector<HttpHeader>& fields);

// A request without a body (no Content-Length, no Transfer-Encoding) that asks for nothing
// beyond an answer (no Upgrade, no Expect): the head alone is the whole request, and the
// worker serves it from check_request_head's reading without Beast's parser.
bool is_plain_bodiless(const std::vector<HttpHeader>& fields);

// host[:port], [v6][:port] or user@host[:port] (the authority of RFC 3986).
bool is_authority(std::string_view authority);

}  // namespace hornbeam::worker
