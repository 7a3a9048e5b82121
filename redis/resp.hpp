#pragma once

// RESP2, the Redis protocol (https://redis.io/docs/reference/protocol-spec/): commands out as
// arrays of bulk strings, replies in as they come, a piece at a time.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace hornbeam::redis {

struct Reply {
  enum class Kind : std::uint8_t { status, error, integer, bulk, nil, array };
  Kind kind = Kind::nil;
  std::string text;  // status, error and bulk
  std::int64_t integer = 0;
  std::vector<Reply> elements;  // array

  bool is_error() const { return kind == Kind::error; }
  bool is_nil() const { return kind == Kind::nil; }
  // An error reply's first word (`MOVED`, `ASK`, `OOM`, `NOSCRIPT`...).
  std::string_view error_code() const;
};

// Appends the command `words` to `out`, as one RESP array of bulk strings.
void append_command(std::string& out, std::span<const std::string_view> words);
inline void append_command(std::string& out, std::initializer_list<std::string_view> words) {
  append_command(out, std::span<const std::string_view>(words.begin(), words.size()));
}

// Takes the bytes of a reply stream as they arrive and hands out whole replies.
class ReplyParser {
 public:
  // Nested arrays deeper than this, or a length past `max_bulk`, are a protocol error: a
  // server that sends them is not one to trust with memory.
  static constexpr int max_depth = 8;
  static constexpr std::int64_t max_bulk = std::int64_t{1} << 32;

  // Room for `size` more bytes: write into it, then commit() what was written.
  char* prepare(std::size_t size);
  void commit(std::size_t size);
  void feed(std::string_view bytes);

  // The next whole reply, if it has arrived. Throws std::runtime_error on bytes that are not
  // RESP (the stream cannot be trusted after).
  std::optional<Reply> next();

 private:
  // Parses one reply at `at`; false when it is not complete yet (nothing consumed).
  bool parse(std::size_t& at, Reply& reply, int depth);
  bool line(std::size_t& at, std::string_view& text);
  static std::int64_t number(std::string_view text);

  std::string buffer_;  // its first filled_ bytes are the stream's
  std::size_t filled_ = 0;
  std::size_t consumed_ = 0;
};

}  // namespace hornbeam::redis
