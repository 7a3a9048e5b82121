#include "worker/chunked_decoder.hpp"

#include "common/http_text.hpp"
#include "worker/request_target.hpp"

#include <algorithm>

namespace hornbeam::worker {
namespace {

bool is_hex_digit(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

unsigned hex_value(char c) {
  if (c >= '0' && c <= '9') return static_cast<unsigned>(c - '0');
  if (c >= 'a' && c <= 'f') return static_cast<unsigned>(c - 'a' + 10);
  return static_cast<unsigned>(c - 'A' + 10);
}

bool is_whitespace(char c) { return c == ' ' || c == '\t'; }

void skip_whitespace(std::string_view text, std::size_t& at) {
  while (at < text.size() && is_whitespace(text[at])) ++at;
}

std::size_t token_end(std::string_view text, std::size_t at) {
  while (at < text.size() && is_token_char(text[at])) ++at;
  return at;
}

// RFC 9110 quoted-string from text[at] (an opening DQUOTE): the position after its closing
// DQUOTE, or npos when it is not one.
std::size_t quoted_string_end(std::string_view text, std::size_t at) {
  const auto is_qdtext = [](unsigned char c) {
    return c == '\t' || c == ' ' || c == 0x21 || (c >= 0x23 && c <= 0x5b) ||
           (c >= 0x5d && c <= 0x7e) || c >= 0x80;
  };
  const auto is_quotable = [](unsigned char c) {
    return c == '\t' || c == ' ' || (c >= 0x21 && c <= 0x7e) || c >= 0x80;
  };
  for (++at; at < text.size(); ++at) {
    const auto c = static_cast<unsigned char>(text[at]);
    if (c == '"') return at + 1;
    if (c == '\\') {
      if (++at >= text.size() || !is_quotable(static_cast<unsigned char>(text[at])))
        return std::string_view::npos;
    } else if (!is_qdtext(c)) {
      return std::string_view::npos;
    }
  }
  return std::string_view::npos;
}

// chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
bool is_chunk_extension(std::string_view text) {
  std::size_t at = 0;
  while (true) {
    skip_whitespace(text, at);
    if (at == text.size()) return at == 0;  // whitespace alone is not an extension
    if (text[at] != ';') return false;
    skip_whitespace(text, ++at);
    const auto name_end = token_end(text, at);
    if (name_end == at) return false;
    at = name_end;
    std::size_t after_name = at;
    skip_whitespace(text, after_name);
    if (after_name < text.size() && text[after_name] == '=') {
      at = after_name + 1;
      skip_whitespace(text, at);
      if (at < text.size() && text[at] == '"') {
        at = quoted_string_end(text, at);
        if (at == std::string_view::npos) return false;
      } else {
        const auto value_end = token_end(text, at);
        if (value_end == at) return false;
        at = value_end;
      }
    }
    if (at == text.size()) return true;
  }
}

bool is_field_value_char(unsigned char c) { return c == '\t' || (c >= 0x20 && c != 0x7f); }

}  // namespace

std::size_t ChunkedDecoder::decode(std::string_view input, std::string& out, std::size_t room) {
  std::size_t at = 0;
  while (outcome_ == Outcome::more && at < input.size()) {
    switch (state_) {
      case State::data: {
        if (room == 0) return at;
        const auto take = static_cast<std::size_t>(
            std::min<std::uint64_t>({chunk_left_, input.size() - at, room}));
        out.append(input.substr(at, take));
        at += take;
        room -= take;
        chunk_left_ -= take;
        if (chunk_left_ == 0) state_ = State::data_end;
        break;
      }
      case State::size_line:
        if (collect_line(input, at, limits_.max_chunk_line, "chunk size line")) end_of_line();
        break;
      case State::data_end:
        if (collect_line(input, at, 2, "chunk data")) end_of_line();
        break;
      case State::trailer_line:
        if (collect_line(input, at, limits_.max_trailer_line, "trailer field")) end_of_line();
        break;
      case State::finished: return at;
    }
  }
  return at;
}

bool ChunkedDecoder::collect_line(std::string_view input, std::size_t& at, std::size_t limit,
                                  const char* what) {
  const auto rest = input.substr(at);
  const auto lf = rest.find('\n');
  const auto take = lf == std::string_view::npos ? rest.size() : lf + 1;
  if (line_.size() + take > limit) {
    // Past the limit without its end: a chunk's data that runs on past its size lands here.
    fail(Outcome::malformed, state_ == State::data_end
                                 ? "chunk data longer than its chunk size"
                                 : std::string(what) + " longer than " + std::to_string(limit));
    return false;
  }
  line_.append(rest.substr(0, take));
  at += take;
  return lf != std::string_view::npos;
}

// line_ holds a whole line, LF included: it must end in CRLF and hold no other CR.
void ChunkedDecoder::end_of_line() {
  if (state_ == State::data_end && line_ != "\r\n") {
    return fail(Outcome::malformed, line_ == "\n" ? "bare LF in the chunked body"
                                                  : "chunk data longer than its chunk size");
  }
  if (line_.size() < 2 || line_[line_.size() - 2] != '\r') {
    return fail(Outcome::malformed, "bare LF in the chunked body");
  }
  const std::string_view line(line_.data(), line_.size() - 2);
  if (line.find('\r') != std::string_view::npos) {
    return fail(Outcome::malformed, "bare CR in the chunked body");
  }
  switch (state_) {
    case State::size_line: size_line(line); break;
    case State::data_end: state_ = State::size_line; break;
    case State::trailer_line: trailer_line(line); break;
    default: break;
  }
  line_.clear();
}

// chunk-size [ chunk-ext ]
void ChunkedDecoder::size_line(std::string_view line) {
  std::size_t digits = 0;
  std::uint64_t size = 0;
  while (digits < line.size() && is_hex_digit(line[digits])) {
    if (size >> 60) return fail(Outcome::malformed, "chunk size over 64 bits");
    size = size << 4 | hex_value(line[digits]);
    ++digits;
  }
  if (digits == 0) return fail(Outcome::malformed, "chunk size is not hexadecimal");
  if (!is_chunk_extension(line.substr(digits))) {
    return fail(Outcome::malformed, "bad chunk size or extension");
  }
  if (limits_.max_body_size && size > limits_.max_body_size - body_size_) {
    return fail(Outcome::too_large, "request body larger than limits.max_body_size");
  }
  body_size_ += size;
  chunk_left_ = size;
  state_ = size == 0 ? State::trailer_line : State::data;
}

// field-line = field-name ":" OWS field-value OWS, or the empty line that ends the body.
void ChunkedDecoder::trailer_line(std::string_view line) {
  if (line.empty()) {
    state_ = State::finished;
    outcome_ = Outcome::done;
    return;
  }
  if (++trailer_fields_ > limits_.max_trailer_fields) {
    return fail(Outcome::malformed, "more trailer fields than limits.max_headers");
  }
  if (is_whitespace(line.front()))
    return fail(Outcome::malformed, "obsolete line folding in a trailer");
  const auto colon = line.find(':');
  if (colon == std::string_view::npos || !is_token(line.substr(0, colon))) {
    return fail(Outcome::malformed, "invalid trailer field");
  }
  const auto value = line.substr(colon + 1);
  if (!std::all_of(value.begin(), value.end(),
                   [](char c) { return is_field_value_char(static_cast<unsigned char>(c)); })) {
    return fail(Outcome::malformed, "control character in a trailer field value");
  }
  if (is_forbidden_trailer(line.substr(0, colon))) {
    return fail(Outcome::malformed,
                "forbidden trailer field " + std::string(line.substr(0, colon)));
  }
}

void ChunkedDecoder::fail(Outcome outcome, std::string why) {
  outcome_ = outcome;
  why_ = std::move(why);
  state_ = State::finished;
}

}  // namespace hornbeam::worker
