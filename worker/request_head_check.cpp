#include "worker/request_head_check.hpp"

#include <algorithm>
#include <cctype>

namespace hornbeam::worker {
namespace {

bool is_token_char(unsigned char c) {
  static constexpr std::string_view extra = "!#$%&'*+-.^_`|~";
  return std::isalnum(c) || extra.find(static_cast<char>(c)) != std::string_view::npos;
}

// Field values: visible characters, SP, HTAB and obs-text; no other control characters.
bool is_value_char(unsigned char c) { return c == '\t' || (c >= 0x20 && c != 0x7f); }

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

HeadVerdict refuse(int status, std::string reason) { return {status, std::move(reason)}; }

HeadVerdict check_request_line(std::string_view line) {
  const auto first_space = line.find(' ');
  const auto last_space = line.rfind(' ');
  if (first_space == std::string_view::npos || first_space == last_space) {
    return refuse(400, "malformed request line");
  }
  const std::string_view method = line.substr(0, first_space);
  const std::string_view target = line.substr(first_space + 1, last_space - first_space - 1);
  const std::string_view version = line.substr(last_space + 1);
  if (method.empty() || !std::all_of(method.begin(), method.end(), [](char c) { return is_token_char(c); })) {
    return refuse(400, "invalid method");
  }
  if (target.empty() || std::any_of(target.begin(), target.end(), [](unsigned char c) { return c <= 0x20 || c == 0x7f; })) {
    return refuse(400, "invalid request target");
  }
  if (version != "HTTP/1.1" && version != "HTTP/1.0") return refuse(400, "unsupported HTTP version");
  return {};
}

}  // namespace

HeadVerdict check_request_head(std::string_view head, const config::Limits& limits) {
  // Every line ends in CRLF: a bare LF or a CR elsewhere makes the framing ambiguous.
  for (std::size_t i = 0; i < head.size(); ++i) {
    if (head[i] == '\n' && (i == 0 || head[i - 1] != '\r')) return refuse(400, "bare LF in the request head");
    if (head[i] == '\r' && (i + 1 >= head.size() || head[i + 1] != '\n')) return refuse(400, "bare CR in the request head");
  }
  std::size_t line_end = head.find("\r\n");
  if (line_end == std::string_view::npos) return refuse(400, "incomplete request head");
  if (static_cast<std::int64_t>(line_end) > limits.max_request_line) {
    return refuse(414, "request line longer than limits.max_request_line");
  }
  const std::string_view request_line = head.substr(0, line_end);
  if (auto verdict = check_request_line(request_line); verdict.status) return verdict;

  std::int64_t fields = 0;
  int content_lengths = 0;
  int transfer_encodings = 0;
  std::size_t start = line_end + 2;
  while (true) {
    line_end = head.find("\r\n", start);
    if (line_end == std::string_view::npos || line_end == start) break;  // the blank line
    const std::string_view line = head.substr(start, line_end - start);
    start = line_end + 2;
    if (static_cast<std::int64_t>(line.size()) > limits.max_header_size) {
      return refuse(431, "header field larger than limits.max_header_size");
    }
    if (++fields > limits.max_headers) return refuse(431, "more header fields than limits.max_headers");
    if (line.front() == ' ' || line.front() == '\t') return refuse(400, "obsolete line folding in a header");
    const auto colon = line.find(':');
    if (colon == 0 || colon == std::string_view::npos) return refuse(400, "header field without a name");
    const std::string_view name = line.substr(0, colon);
    if (!std::all_of(name.begin(), name.end(), [](char c) { return is_token_char(c); })) {
      return refuse(400, "invalid header field name");
    }
    const std::string_view value = trim(line.substr(colon + 1));
    if (!std::all_of(value.begin(), value.end(), [](char c) { return is_value_char(c); })) {
      return refuse(400, "control character in a header field value");
    }
    if (iequals(name, "Content-Length")) {
      ++content_lengths;
      if (value.empty() || !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        return refuse(400, "Content-Length is not a plain number");
      }
    } else if (iequals(name, "Transfer-Encoding")) {
      ++transfer_encodings;
      if (!iequals(value, "chunked")) return refuse(400, "Transfer-Encoding other than a single chunked");
    }
  }
  if (content_lengths > 1) return refuse(400, "repeated Content-Length");
  if (transfer_encodings > 1) return refuse(400, "repeated Transfer-Encoding");
  if (content_lengths && transfer_encodings) return refuse(400, "both Content-Length and Transfer-Encoding");
  if (transfer_encodings && request_line.ends_with("HTTP/1.0")) {
    return refuse(400, "Transfer-Encoding on HTTP/1.0");
  }
  return {};
}

}  // namespace hornbeam::worker
