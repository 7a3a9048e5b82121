#pragma once

// The shared state's operations on Redis, with the same meaning as on the shared-memory store
// (common/state_store.hpp), under `prefix` + the key, in forms any Redis client reads:
// - an int is a plain Redis string holding its decimal, as INCR makes it: a counter is one
//   INCRBY (a Lua script's type check cost Redis more than the increment), and another
//   program's INCR or GET works on it;
// - any other value is a hash with two fields:
//     type   `none`, `bool`, `float`, `str`, `bytes` or `pickle` (`int` from older versions)
//     value  `float` as the shortest text that reads back the same, `bool` as `0`/`1`, `str`
//            in UTF-8, `bytes` and `pickle` as they are
// A read sends GET and HMGET together (one round trip): one of them answers WRONGTYPE.

#include "common/state_store.hpp"
#include "redis/client.hpp"

#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace hornbeam::redis {

// Redis refused the write for memory (maxmemory with noeviction): the key is unchanged.
class OutOfMemory : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct StoredValue {
  shm::ValueType type = shm::ValueType::none;
  std::string bytes;  // as the shared-memory store keeps them (int64 and double natively)
};

struct StateInfo {
  std::int64_t used = 0;      // Redis's used_memory, summed over the masters
  std::int64_t capacity = 0;  // maxmemory (0: no limit)
  std::int64_t entries = 0;   // the keys under the prefix
  std::size_t nodes = 0;
};

class RedisState {
 public:
  RedisState(Client& client, std::string prefix);

  // Each throws Unavailable, OutOfMemory, shm::NotAnInteger, std::overflow_error, or
  // std::runtime_error (a key that holds something else than a hornbeam value).
  std::optional<StoredValue> get(std::string_view key);
  std::vector<std::optional<StoredValue>> get_many(std::span<const std::string_view> keys);
  void set(std::string_view key, shm::ValueType type, std::string_view bytes);
  bool add(std::string_view key, shm::ValueType type, std::string_view bytes);
  bool erase(std::string_view key);
  std::int64_t increment(std::string_view key, std::int64_t delta);
  std::vector<std::string> keys(std::string_view prefix);
  StateInfo info();

  Client& client() { return client_; }

 private:
  std::string stored(std::string_view key) const { return prefix_ + std::string(key); }
  Reply script(const std::string& sha, const char* source, std::string_view key,
               std::span<const std::string_view> arguments);

  Client& client_;
  const std::string prefix_;
};

// For tests: a value's fields as Redis keeps them, and back.
std::pair<std::string_view, std::string> to_fields(shm::ValueType type, std::string_view bytes);
std::optional<StoredValue> from_fields(const Reply& type, const Reply& value);

}  // namespace hornbeam::redis
