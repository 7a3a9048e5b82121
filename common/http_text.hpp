#pragma once

// Small ASCII helpers for HTTP text (field names are case-insensitive ASCII tokens).

#include <algorithm>
#include <array>
#include <string>
#include <string_view>
#include <vector>

namespace hornbeam {

struct HttpHeader;  // common/http_exchange.hpp

// One character in lowercase, ASCII only (locale-independent, unlike std::tolower).
inline char ascii_lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

// Case-insensitive ASCII comparison.
inline bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return ascii_lower(x) == ascii_lower(y);
         });
}

// `text` in lowercase, ASCII only: HTTP/2's field names.
inline std::string ascii_lowercase(std::string_view text) {
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(), ascii_lower);
  return lower;
}

// RFC 9110 tchar, as a table: every response header name passes through it.
inline constexpr std::array<bool, 256> token_chars = [] {
  std::array<bool, 256> table{};
  for (int c = 'a'; c <= 'z'; ++c) table[static_cast<std::size_t>(c)] = true;
  for (int c = 'A'; c <= 'Z'; ++c) table[static_cast<std::size_t>(c)] = true;
  for (int c = '0'; c <= '9'; ++c) table[static_cast<std::size_t>(c)] = true;
  for (const char c : std::string_view("!#$%&'*+-.^_`|~"))
    table[static_cast<unsigned char>(c)] = true;
  return table;
}();

inline bool is_token_char(char c) { return token_chars[static_cast<unsigned char>(c)]; }

// RFC 9110 token: one or more tchar.
// A plain loop: std::all_of given is_token_char as a function pointer called it per byte.
inline bool is_token(std::string_view text) {
  for (const char c : text) {
    if (!is_token_char(c)) return false;
  }
  return !text.empty();
}

// RFC 9110 hop-by-hop fields, and Proxy-Connection (RFC 9113 §8.2.2 names it with them as
// connection-specific): the server decides these, never the app.
inline bool is_hop_by_hop(std::string_view name) {
  static constexpr std::array<std::string_view, 9> fields = {
      "connection",       "keep-alive", "proxy-authenticate", "proxy-authorization",
      "proxy-connection", "te",         "trailers",           "transfer-encoding",
      "upgrade"};
  return std::any_of(fields.begin(), fields.end(),
                     [&](std::string_view field) { return iequals(name, field); });
}

// What would split a response if an app's status or field carried it.
// (A loop, not find_first_of, which calls memchr once per character of `text`.)
inline bool has_line_break_or_nul(std::string_view text) {
  return std::any_of(text.begin(), text.end(),
                     [](char c) { return c == '\r' || c == '\n' || c == '\0'; });
}

// The Content-Length fields of an app's response, made sound before they go out: each value
// trimmed of white space and one to 19 digits (RFC 9110 §8.6), repeats of one value kept once.
// Returns why not, for the app's error ("" when sound): a value that is not a length, or two
// different lengths, would frame the response in two ways for two readers.
std::string settle_content_length(std::vector<HttpHeader>& headers);

// "%41%2F" → "A/": the bytes a percent-encoded path stands for (invalid escapes stay as sent).
std::string percent_decode(std::string_view raw);

// RFC 9110's reason phrase for a status code ("" for codes it does not name).
std::string_view reason_phrase(int status);

}  // namespace hornbeam
