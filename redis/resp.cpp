#include "redis/resp.hpp"

#include <charconv>
#include <cstring>
#include <stdexcept>

namespace hornbeam::redis {

std::string_view Reply::error_code() const {
  if (kind != Kind::error) return {};
  const std::string_view message = text;
  return message.substr(0, message.find(' '));
}

void append_command(std::string& out, std::span<const std::string_view> words) {
  out += '*';
  out += std::to_string(words.size());
  out += "\r\n";
  for (const auto word : words) {
    out += '$';
    out += std::to_string(word.size());
    out += "\r\n";
    out += word;
    out += "\r\n";
  }
}

char* ReplyParser::prepare(std::size_t size) {
  // What was consumed goes first, so the buffer holds at most the replies in flight. Only
  // the unconsumed bytes move (none, usually): the buffer's size is its room, and erasing from
  // it would move all of that room on every read.
  if (consumed_ > 0 && (consumed_ == filled_ || consumed_ >= buffer_.size() / 2)) {
    std::memmove(buffer_.data(), buffer_.data() + consumed_, filled_ - consumed_);
    filled_ -= consumed_;
    consumed_ = 0;
  }
  // Grown, never shrunk: a resize that grows writes zeros, which would cost on every read.
  if (buffer_.size() < filled_ + size) buffer_.resize(filled_ + size);
  return buffer_.data() + filled_;
}

void ReplyParser::commit(std::size_t size) { filled_ += size; }

void ReplyParser::feed(std::string_view bytes) {
  std::copy(bytes.begin(), bytes.end(), prepare(bytes.size()));
  commit(bytes.size());
}

std::optional<Reply> ReplyParser::next() {
  std::size_t at = consumed_;
  Reply reply;
  if (!parse(at, reply, 0)) return std::nullopt;
  consumed_ = at;
  return reply;
}

bool ReplyParser::line(std::size_t& at, std::string_view& text) {
  const std::string_view available(buffer_.data() + at, filled_ - at);
  const auto end = available.find("\r\n");
  if (end == std::string_view::npos) {
    if (available.size() > 64 * 1024) throw std::runtime_error("a RESP line without its end");
    return false;
  }
  text = available.substr(0, end);
  at += end + 2;
  return true;
}

std::int64_t ReplyParser::number(std::string_view text) {
  std::int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size())
    throw std::runtime_error("a RESP number that is not one");
  return value;
}

bool ReplyParser::parse(std::size_t& at, Reply& reply, int depth) {
  if (at >= filled_) return false;
  if (depth > max_depth) throw std::runtime_error("RESP arrays nested too deep");
  const char type = buffer_[at];
  std::size_t cursor = at + 1;
  std::string_view text;
  if (!line(cursor, text)) return false;
  switch (type) {
    case '+':
      reply.kind = Reply::Kind::status;
      reply.text = text;
      break;
    case '-':
      reply.kind = Reply::Kind::error;
      reply.text = text;
      break;
    case ':':
      reply.kind = Reply::Kind::integer;
      reply.integer = number(text);
      break;
    case '$': {
      const auto length = number(text);
      if (length < 0) {
        reply.kind = Reply::Kind::nil;
        break;
      }
      if (length > max_bulk) throw std::runtime_error("a RESP string too long");
      const auto size = static_cast<std::size_t>(length);
      if (filled_ - cursor < size + 2) return false;
      reply.kind = Reply::Kind::bulk;
      reply.text.assign(buffer_.data() + cursor, size);
      cursor += size + 2;
      break;
    }
    case '*': {
      const auto count = number(text);
      if (count < 0) {
        reply.kind = Reply::Kind::nil;
        break;
      }
      if (count > max_bulk) throw std::runtime_error("a RESP array too long");
      reply.kind = Reply::Kind::array;
      reply.elements.clear();
      for (std::int64_t i = 0; i < count; ++i) {
        Reply element;
        if (!parse(cursor, element, depth + 1)) return false;
        reply.elements.push_back(std::move(element));
      }
      break;
    }
    default: throw std::runtime_error("a reply that is not RESP");
  }
  at = cursor;
  return true;
}

}  // namespace hornbeam::redis
