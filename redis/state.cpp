#include "redis/state.hpp"

#include <openssl/evp.h>

#include <charconv>
#include <cstring>

namespace hornbeam::redis {
namespace {

using shm::ValueType;

// First writer wins: the whole hash is written only when the key is missing.
constexpr const char* add_script = R"lua(
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'type', ARGV[1], 'value', ARGV[2])
return 1
)lua";

// INCRBY found a hash: HINCRBY on `value` when it is a counter kept as a hash (by hornbeam
// before ints became plain strings), an error for any other hash. The key may have changed
// since INCRBY answered: a string or no key is counted as INCRBY would.
constexpr const char* increment_script = R"lua(
local kind = redis.call('TYPE', KEYS[1]).ok
if kind == 'string' or kind == 'none' then return redis.call('INCRBY', KEYS[1], ARGV[1]) end
if kind == 'hash' and redis.call('HGET', KEYS[1], 'type') == 'int' then
  return redis.call('HINCRBY', KEYS[1], 'value', ARGV[1])
end
return redis.error_reply('NOTINT the value of the key is not an int')
)lua";

// A value of another type where an int (a plain string) was: the key is replaced whole.
constexpr const char* replace_script = R"lua(
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'type', ARGV[1], 'value', ARGV[2])
return 1
)lua";

std::string sha1_hex(const char* text) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(text, std::strlen(text), digest, &size, EVP_sha1(), nullptr);
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < size; ++i) {
    out += hex[digest[i] >> 4];
    out += hex[digest[i] & 15];
  }
  return out;
}

const std::string& add_sha() {
  static const std::string sha = sha1_hex(add_script);
  return sha;
}
const std::string& increment_sha() {
  static const std::string sha = sha1_hex(increment_script);
  return sha;
}
const std::string& replace_sha() {
  static const std::string sha = sha1_hex(replace_script);
  return sha;
}

constexpr std::string_view type_names[] = {"none", "bool",  "int",   "float",
                                           "str",  "bytes", "pickle"};

// An error reply as the exception the caller expects.
[[noreturn]] void raise(const Reply& reply) {
  const std::string& text = reply.text;
  if (reply.error_code() == "OOM" || text.find("OOM command not allowed") != std::string::npos)
    throw OutOfMemory("Redis is out of memory (maxmemory): " + text);
  if (reply.error_code() == "NOTINT" || text.find("NOTINT") != std::string::npos ||
      text.find("value is not an integer") != std::string::npos)  // INCRBY on another string
    throw shm::NotAnInteger("the value of the key is not an int");
  if (text.find("would overflow") != std::string::npos)
    throw std::overflow_error("the counter would go past a 64-bit int");
  if (text.find("WRONGTYPE") != std::string::npos)
    throw std::runtime_error("the Redis key holds something that is not a hornbeam value");
  if (text.find("LOADING") == 0 || text.find("MASTERDOWN") == 0 || text.find("READONLY") == 0)
    throw Unavailable(text);
  throw std::runtime_error("Redis: " + text);
}

Reply checked(Reply reply) {
  if (reply.is_error()) raise(reply);
  return reply;
}

// A glob pattern matching the keys that start with `prefix`.
std::string starting_with(std::string_view prefix) {
  std::string pattern;
  for (const char c : prefix) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') pattern += '\\';
    pattern += c;
  }
  return pattern + '*';
}

std::int64_t info_field(const std::string& info, std::string_view name) {
  const auto at = info.find(std::string(name) + ":");
  if (at == std::string::npos) return 0;
  std::int64_t value = 0;
  const char* begin = info.data() + at + name.size() + 1;
  std::from_chars(begin, info.data() + info.size(), value);
  return value;
}

}  // namespace

std::pair<std::string_view, std::string> to_fields(ValueType type, std::string_view bytes) {
  const auto name = type_names[static_cast<std::size_t>(type)];
  switch (type) {
    case ValueType::none: return {name, {}};
    case ValueType::boolean: return {name, bytes.size() == 1 && bytes[0] ? "1" : "0"};
    case ValueType::integer: {
      std::int64_t number = 0;
      std::memcpy(&number, bytes.data(), std::min<std::size_t>(bytes.size(), 8));
      return {name, std::to_string(number)};
    }
    case ValueType::floating: {
      double number = 0;
      std::memcpy(&number, bytes.data(), std::min<std::size_t>(bytes.size(), 8));
      char text[32];
      const auto end = std::to_chars(text, text + sizeof text, number).ptr;
      return {name, std::string(text, end)};
    }
    case ValueType::text:
    case ValueType::bytes:
    case ValueType::pickle: return {name, std::string(bytes)};
  }
  throw std::invalid_argument("a value of an unknown type");
}

std::optional<StoredValue> from_fields(const Reply& type, const Reply& value) {
  if (type.is_nil()) return std::nullopt;
  const std::string& text = value.text;
  StoredValue stored;
  std::size_t index = 0;
  while (index < std::size(type_names) && type_names[index] != type.text) ++index;
  if (index == std::size(type_names))
    throw std::runtime_error("the Redis key holds a value of an unknown type '" + type.text + "'");
  stored.type = static_cast<ValueType>(index);
  switch (stored.type) {
    case ValueType::none: break;
    case ValueType::boolean: stored.bytes.assign(1, text == "1" ? 1 : 0); break;
    case ValueType::integer: {
      std::int64_t number = 0;
      std::from_chars(text.data(), text.data() + text.size(), number);
      stored.bytes.assign(reinterpret_cast<const char*>(&number), 8);
      break;
    }
    case ValueType::floating: {
      double number = 0;
      std::from_chars(text.data(), text.data() + text.size(), number);
      stored.bytes.assign(reinterpret_cast<const char*>(&number), 8);
      break;
    }
    default: stored.bytes = text;
  }
  return stored;
}

namespace {

std::string decimal_of(std::string_view int64_bytes) {
  std::int64_t number = 0;
  std::memcpy(&number, int64_bytes.data(), std::min<std::size_t>(int64_bytes.size(), 8));
  return std::to_string(number);
}

// A plain Redis string under the prefix: an int in decimal (what INCR makes and reads).
StoredValue integer_value(const std::string& text) {
  std::int64_t number = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (error != std::errc() || end != text.data() + text.size())
    throw std::runtime_error("the Redis key holds something that is not a hornbeam value");
  return {ValueType::integer, std::string(reinterpret_cast<const char*>(&number), 8)};
}

// A key's value from the replies to GET and to HMGET type value, sent together: an int is a
// plain string (HMGET answered WRONGTYPE), any other type a hash (GET answered WRONGTYPE), a
// missing key nil and two nils.
std::optional<StoredValue> read_value(const Reply& as_string, const Reply& as_hash) {
  if (!as_string.is_error() && !as_string.is_nil()) return integer_value(as_string.text);
  if (as_string.is_error() && as_string.error_code() != "WRONGTYPE") raise(as_string);
  if (as_hash.is_error()) raise(as_hash);  // neither a string nor a hash: not ours
  if (as_hash.elements.size() != 2) throw std::runtime_error("HMGET: a reply of the wrong shape");
  return from_fields(as_hash.elements[0], as_hash.elements[1]);
}

}  // namespace

RedisState::RedisState(Client& client, std::string prefix)
    : client_(client), prefix_(std::move(prefix)) {}

std::optional<StoredValue> RedisState::get(std::string_view key) {
  const auto name = stored(key);
  const Client::Keyed commands[] = {{name, {"GET", name}},
                                    {name, {"HMGET", name, "type", "value"}}};
  const auto replies = client_.call_each(commands);
  return read_value(replies[0], replies[1]);
}

std::vector<std::optional<StoredValue>> RedisState::get_many(
    std::span<const std::string_view> keys) {
  std::vector<std::string> names;
  names.reserve(keys.size());
  for (const auto key : keys) names.push_back(stored(key));
  std::vector<Reply> replies;  // two per key: GET, HMGET (read_value)
  if (client_.cluster()) {
    std::vector<Client::Keyed> commands;
    for (const auto& name : names) {
      commands.push_back({name, {"GET", name}});
      commands.push_back({name, {"HMGET", name, "type", "value"}});
    }
    replies = client_.call_each(commands);
  } else if (!names.empty()) {
    // One transaction: the values are read at one instant, as on the shared-memory store.
    std::vector<std::vector<std::string_view>> commands;
    for (const auto& name : names) {
      commands.push_back({"GET", name});
      commands.push_back({"HMGET", name, "type", "value"});
    }
    replies = client_.transaction(commands);
  }
  std::vector<std::optional<StoredValue>> values;
  for (std::size_t i = 0; i + 1 < replies.size(); i += 2)
    values.push_back(read_value(replies[i], replies[i + 1]));
  return values;
}

void RedisState::set(std::string_view key, ValueType type, std::string_view bytes) {
  const auto name = stored(key);
  if (type == ValueType::integer) {
    const auto number = decimal_of(bytes);
    const std::string_view words[] = {"SET", name, number};  // whatever the key held
    checked(client_.call(name, words));
    return;
  }
  const auto [type_name, value] = to_fields(type, bytes);
  const std::string_view words[] = {"HSET", name, "type", type_name, "value", value};
  Reply reply = client_.call(name, words);
  if (reply.error_code() == "WRONGTYPE") {  // an int was there (a string): replaced whole
    const std::string_view arguments[] = {type_name, value};
    reply = script(replace_sha(), replace_script, name, arguments);
  }
  checked(std::move(reply));
}

Reply RedisState::script(const std::string& sha, const char* source, std::string_view key,
                         std::span<const std::string_view> arguments) {
  std::vector<std::string_view> words{"EVALSHA", sha, "1", key};
  words.insert(words.end(), arguments.begin(), arguments.end());
  Reply reply = client_.call(key, words);
  if (reply.error_code() != "NOSCRIPT") return reply;
  // Not in this server's script cache yet (a new or restarted server): EVAL caches it.
  words[0] = "EVAL";
  words[1] = source;
  return client_.call(key, words);
}

bool RedisState::add(std::string_view key, ValueType type, std::string_view bytes) {
  const auto name = stored(key);
  if (type == ValueType::integer) {
    const auto number = decimal_of(bytes);
    const std::string_view words[] = {"SET", name, number, "NX"};
    return !checked(client_.call(name, words)).is_nil();  // OK, or nil when the key exists
  }
  const auto [type_name, value] = to_fields(type, bytes);
  const std::string_view arguments[] = {type_name, value};
  return checked(script(add_sha(), add_script, name, arguments)).integer == 1;
}

bool RedisState::erase(std::string_view key) {
  const auto name = stored(key);
  const std::string_view words[] = {"DEL", name};
  return checked(client_.call(name, words)).integer > 0;
}

std::int64_t RedisState::increment(std::string_view key, std::int64_t delta) {
  const auto name = stored(key);
  const auto by = std::to_string(delta);
  const std::string_view words[] = {"INCRBY", name, by};
  Reply reply = client_.call(name, words);
  if (reply.error_code() == "WRONGTYPE") {
    // A hash: a value of another type (the script refuses it), or a counter an older hornbeam
    // kept as a hash {type int, value} (the script counts on).
    const std::string_view arguments[] = {by};
    reply = script(increment_sha(), increment_script, name, arguments);
  }
  return checked(std::move(reply)).integer;
}

std::vector<std::string> RedisState::keys(std::string_view prefix) {
  const auto pattern = starting_with(prefix_ + std::string(prefix));
  std::vector<std::string> keys;
  for (const auto node : client_.masters()) {
    std::string cursor = "0";
    do {
      const std::string_view words[] = {"SCAN", cursor, "MATCH", pattern, "COUNT", "1000"};
      const Reply reply = checked(client_.call_on(node, words));
      if (reply.elements.size() != 2) throw std::runtime_error("SCAN: a reply of the wrong shape");
      cursor = reply.elements[0].text;
      for (const auto& key : reply.elements[1].elements)
        keys.push_back(key.text.substr(prefix_.size()));
    } while (cursor != "0");
  }
  return keys;
}

StateInfo RedisState::info() {
  StateInfo info;
  for (const auto node : client_.masters()) {
    const std::string_view words[] = {"INFO", "memory"};
    const Reply reply = checked(client_.call_on(node, words));
    info.used += info_field(reply.text, "used_memory");
    info.capacity += info_field(reply.text, "maxmemory");
    ++info.nodes;
  }
  info.entries = static_cast<std::int64_t>(keys("").size());
  return info;
}

}  // namespace hornbeam::redis
