#include "worker/request_head_check.hpp"
#include "common/http_text.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <limits>
#include <vector>

namespace hornbeam::worker {
namespace {

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

HeadVerdict refuse(int status, std::string reason) { return {status, std::move(reason)}; }

// absolute-form: scheme "://" authority [path-abempty] [ "?" query ].
bool is_absolute_form(std::string_view target) {
  const auto separator = target.find("://");
  if (separator == std::string_view::npos || separator == 0) return false;
  const std::string_view scheme = target.substr(0, separator);
  if (!std::isalpha(static_cast<unsigned char>(scheme.front())) ||
      !std::all_of(scheme.begin(), scheme.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.';
      })) {
    return false;
  }
  const std::string_view rest = target.substr(separator + 3);
  const std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
  return is_authority(authority);
}

}  // namespace

bool is_authority(std::string_view authority) {
  if (const auto at = authority.rfind('@'); at != std::string_view::npos)
    authority.remove_prefix(at + 1);
  if (authority.empty()) return false;
  std::string_view host = authority;
  std::string_view port;
  if (authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos || close < 2) return false;
    host = authority.substr(1, close - 1);
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty() && after.front() != ':') return false;
    if (!after.empty()) port = after.substr(1);
    if (!std::all_of(host.begin(), host.end(), [](char c) {
          return std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.';
        })) {
      return false;
    }
  } else {
    const auto colon = authority.rfind(':');
    if (colon != std::string_view::npos) {
      host = authority.substr(0, colon);
      port = authority.substr(colon + 1);
    }
    static constexpr std::string_view allowed = "-._~!$&'()*+,;=%";
    if (host.empty() || !std::all_of(host.begin(), host.end(), [](char c) {
          return std::isalnum(static_cast<unsigned char>(c)) ||
                 allowed.find(c) != std::string_view::npos;
        })) {
      return false;
    }
  }
  return std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; });
}

namespace {

HeadVerdict check_request_line(std::string_view line) {
  const auto first_space = line.find(' ');
  const auto last_space = line.rfind(' ');
  if (first_space == std::string_view::npos || first_space == last_space) {
    return refuse(400, "malformed request line");
  }
  const std::string_view method = line.substr(0, first_space);
  const std::string_view target = line.substr(first_space + 1, last_space - first_space - 1);
  const std::string_view version = line.substr(last_space + 1);
  // Methods are case-sensitive tokens; like Gunicorn, lower case is refused rather than
  // guessed at (a lower-case "get" is a client bug or a probe, never a real method).
  if (method.empty() || !std::all_of(method.begin(), method.end(), [](char c) {
        return is_token_char(c) && !std::islower(static_cast<unsigned char>(c)) && c != '#';
      })) {
    return refuse(400, "invalid method");
  }
  if (target.empty() || std::any_of(target.begin(), target.end(),
                                    [](unsigned char c) { return c <= 0x20 || c == 0x7f; })) {
    return refuse(400, "invalid request target");
  }
  // RFC 9112 §3.2: the four target forms, each where it belongs.
  const bool form_ok = target.front() == '/' || is_absolute_form(target) ||
                       (target == "*" && method == "OPTIONS") ||
                       (method == "CONNECT" && is_authority(target));
  if (!form_ok) return refuse(400, "invalid request target");
  if (version != "HTTP/1.1" && version != "HTTP/1.0")
    return refuse(400, "unsupported HTTP version");
  return {};
}

// Calls `visit` with each element of a comma-separated list, without its white space (empty
// elements included), while it returns true. False when `visit` stopped the walk.
template <class Visit>
bool each_list_element(std::string_view list, Visit visit) {
  while (true) {
    const auto comma = list.find(',');
    if (!visit(trim(list.substr(0, comma)))) return false;
    if (comma == std::string_view::npos) return true;
    list.remove_prefix(comma + 1);
  }
}

// RFC 9112 §6.3: the final coding must be chunked, and chunked only once; the codings
// before it (gzip, identity...) are the app's to undo.
HeadVerdict check_transfer_codings(std::string_view list) {
  std::vector<std::string_view> codings;
  each_list_element(list, [&codings](std::string_view coding) {
    codings.push_back(coding);
    return true;
  });
  for (std::size_t i = 0; i < codings.size(); ++i) {
    const bool last = i + 1 == codings.size();
    if (codings[i].empty()) return refuse(400, "empty Transfer-Encoding coding");
    // A coding is a token; parameters are no use on a request. Anything else and Beast reads
    // the list otherwise than this check does (it found no `chunked` in "identit{, chunked"
    // and framed the body as empty: found by the request head fuzzer).
    if (!is_token(codings[i])) return refuse(400, "invalid Transfer-Encoding coding");
    if (iequals(codings[i], "chunked") != last)
      return refuse(400, "Transfer-Encoding without a final, single chunked");
  }
  return {};
}

// A Connection (or Proxy-Connection) value: tokens separated by commas, with optional white
// space around them and empty elements allowed (RFC 9110 §5.6.1), as Beast's parser requires.
bool is_token_list(std::string_view list) {
  return each_list_element(
      list, [](std::string_view element) { return element.empty() || is_token(element); });
}

bool is_connection_field(std::string_view name) {
  return iequals(name, "Connection") || iequals(name, "Proxy-Connection");
}

// Field values: visible characters, SP, HTAB and obs-text; no other control characters (CR
// and LF included).
constexpr std::array<bool, 256> value_chars = [] {
  std::array<bool, 256> table{};
  for (int c = 0; c < 256; ++c)
    table[static_cast<std::size_t>(c)] = c == '\t' || (c >= 0x20 && c != 0x7f);
  return table;
}();

// A loop over a table, inlined (std::all_of with a function pointer called a function per
// byte: a browser's head has a few hundred).
bool all_value_chars(std::string_view text) {
  for (const char c : text) {
    if (!value_chars[static_cast<unsigned char>(c)]) return false;
  }
  return true;
}

// A line refused for what it holds: where that is a CR, the reason is the bare CR (the line's
// own CRLF is not part of `line`).
HeadVerdict refuse_line(std::string_view line, std::string reason) {
  if (line.find('\r') != std::string_view::npos) return refuse(400, "bare CR in the request head");
  return refuse(400, std::move(reason));
}

// The first bare LF or bare CR of the whole head, as a refusal; none: status 0.
HeadVerdict refuse_bare_line_break(std::string_view head) {
  for (auto at = head.find('\n'); at != std::string_view::npos; at = head.find('\n', at + 1)) {
    if (at == 0 || head[at - 1] != '\r') return refuse(400, "bare LF in the request head");
  }
  for (auto at = head.find('\r'); at != std::string_view::npos; at = head.find('\r', at + 1)) {
    if (at + 1 >= head.size() || head[at + 1] != '\n')
      return refuse(400, "bare CR in the request head");
  }
  return {};
}

// A limit exceeded (414, 431): unless the head also has a bare CR or LF, which is refused first
// (the framing is in doubt before any size is).
HeadVerdict refuse_limit(std::string_view head, int status, std::string reason) {
  if (auto verdict = refuse_bare_line_break(head); verdict.status) return verdict;
  return refuse(status, std::move(reason));
}

}  // namespace

// One pass over the head, a line at a time (memchr finds each LF): every line ends in CRLF, and
// a CR elsewhere is refused with the line that holds it (no other check lets a CR through).
HeadVerdict check_request_head(std::string_view head, const config::Limits& limits,
                               std::vector<HttpHeader>* fields_out) {
  // fields_out's elements are assigned to, not made anew: a connection reads its heads into
  // one vector (ResponseSink::return_fields), and its next head usually has the same fields,
  // whose strings then keep their memory. Whatever the outcome, only this head's stay.
  std::size_t kept = 0;
  struct KeepOnlyThisHeads {
    std::vector<HttpHeader>* fields;
    const std::size_t& kept;
    ~KeepOnlyThisHeads() {
      if (fields) fields->resize(kept);
    }
  } keep_only_this_heads{fields_out, kept};
  const auto line_at = [&head](std::size_t start, std::string_view& line) {
    const auto lf = head.find('\n', start);
    if (lf == std::string_view::npos) return std::string_view::npos;
    line = head.substr(start, lf - start);
    if (line.empty() || line.back() != '\r') return lf;  // a bare LF: the caller refuses it
    line.remove_suffix(1);
    return lf;
  };
  const auto ends_in_crlf = [&head](std::size_t lf) { return lf > 0 && head[lf - 1] == '\r'; };

  std::string_view request_line;
  std::size_t lf = line_at(0, request_line);
  if (lf == std::string_view::npos) {
    if (auto verdict = refuse_bare_line_break(head); verdict.status) return verdict;
    return refuse(400, "incomplete request head");
  }
  if (!ends_in_crlf(lf)) return refuse(400, "bare LF in the request head");
  if (static_cast<std::int64_t>(request_line.size()) > limits.max_request_line) {
    return refuse_limit(head, 414, "request line longer than limits.max_request_line");
  }
  if (auto verdict = check_request_line(request_line); verdict.status)
    return refuse_line(request_line, std::move(verdict.reason));

  if (fields_out) fields_out->reserve(16);  // a browser's head fits: no reallocation
  std::int64_t fields = 0;
  int content_lengths = 0;
  int hosts = 0;
  int content_types = 0;
  std::string transfer_codings;    // every Transfer-Encoding field, joined as one list
  bool transfer_encoding = false;  // one was sent (an empty one is refused, not ignored)
  while (true) {
    std::string_view line;
    lf = line_at(lf + 1, line);
    if (lf == std::string_view::npos) break;  // no blank line: what was read is the head
    if (!ends_in_crlf(lf)) return refuse(400, "bare LF in the request head");
    if (line.empty()) break;  // the blank line
    // The field's line with its CRLF, as Gunicorn counts limit_request_field_size.
    if (static_cast<std::int64_t>(line.size() + 2) > limits.max_header_size) {
      return refuse_limit(head, 431, "header field larger than limits.max_header_size");
    }
    if (++fields > limits.max_headers)
      return refuse_limit(head, 431, "more header fields than limits.max_headers");
    if (line.front() == ' ' || line.front() == '\t')
      return refuse_line(line, "obsolete line folding in a header");
    const auto colon = line.find(':');
    if (colon == 0 || colon == std::string_view::npos)
      return refuse_line(line, "header field without a name");
    const std::string_view name = line.substr(0, colon);
    if (!is_token(name)) return refuse_line(line, "invalid header field name");
    const std::string_view value = trim(line.substr(colon + 1));
    if (!all_value_chars(value))
      return refuse_line(line, "control character in a header field value");
    if (fields_out) {
      if (kept < fields_out->size()) {
        (*fields_out)[kept].name.assign(name);
        (*fields_out)[kept].value.assign(value);
      } else {
        fields_out->push_back({std::string(name), std::string(value)});
      }
      ++kept;
    }
    if (iequals(name, "Content-Length")) {
      ++content_lengths;
      if (value.empty() ||
          !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        return refuse(400, "Content-Length is not a plain number");
      }
    } else if (iequals(name, "Transfer-Encoding")) {
      transfer_codings += (transfer_encoding ? "," : "") + std::string(value);
      transfer_encoding = true;
    } else if (iequals(name, "Host")) {
      ++hosts;
    } else if (iequals(name, "Content-Type")) {
      ++content_types;
    } else if (is_connection_field(name) && !is_token_list(value)) {
      return refuse(400, "invalid Connection field");
    }
  }
  if (content_lengths > 1) return refuse(400, "repeated Content-Length");
  if (hosts > 1) return refuse(400, "repeated Host");
  if (content_types > 1) return refuse(400, "repeated Content-Type");
  if (transfer_encoding) {
    if (content_lengths) return refuse(400, "both Content-Length and Transfer-Encoding");
    if (request_line.ends_with("HTTP/1.0")) return refuse(400, "Transfer-Encoding on HTTP/1.0");
    if (const auto verdict = check_transfer_codings(transfer_codings); verdict.status)
      return verdict;
  }
  return {};
}

std::size_t find_bare_lf(std::string_view received, std::size_t from) {
  for (auto at = received.find('\n', from); at != std::string_view::npos;
       at = received.find('\n', at + 1)) {
    if (at == 0 || received[at - 1] != '\r') return at;
  }
  return std::string_view::npos;
}

RequestLine request_line_of(std::string_view head) {
  const std::string_view line = head.substr(0, head.find("\r\n"));
  const auto first_space = line.find(' ');
  const auto last_space = line.rfind(' ');
  return {line.substr(0, first_space), line.substr(first_space + 1, last_space - first_space - 1),
          line.ends_with("HTTP/1.0") ? 10 : 11};
}

namespace {

// Whether a comma-separated list of tokens (a Connection field's value) has `token`.
bool lists_token(std::string_view list, std::string_view token) {
  return !each_list_element(list,
                            [token](std::string_view element) { return !iequals(element, token); });
}

}  // namespace

bool wants_keep_alive(int version, const std::vector<HttpHeader>& fields) {
  bool close = false;
  bool keep_alive = false;
  for (const auto& field : fields) {
    if (!is_connection_field(field.name)) continue;
    close = close || lists_token(field.value, "close");
    keep_alive = keep_alive || lists_token(field.value, "keep-alive");
  }
  return !close && (version >= 11 || keep_alive);
}

bool is_plain_bodiless(const std::vector<HttpHeader>& fields) {
  return std::none_of(fields.begin(), fields.end(), [](const HttpHeader& field) {
    return iequals(field.name, "Content-Length") || iequals(field.name, "Transfer-Encoding") ||
           iequals(field.name, "Upgrade") || iequals(field.name, "Expect");
  });
}

std::vector<HttpHeader> head_fields(std::string_view head) {
  config::Limits unlimited;
  unlimited.max_request_line = std::numeric_limits<std::int64_t>::max();
  unlimited.max_headers = std::numeric_limits<std::int64_t>::max();
  unlimited.max_header_size = std::numeric_limits<std::int64_t>::max();
  std::vector<HttpHeader> fields;
  check_request_head(head, unlimited, &fields);
  return fields;
}

}  // namespace hornbeam::worker
