#include "python/state_backend.hpp"

#include "python/gil.hpp"
#include "redis/state.hpp"

#include <optional>
#include <string>
#include <vector>

namespace hornbeam::python {
namespace {

class SharedMemoryBackend final : public StateBackend {
 public:
  explicit SharedMemoryBackend(shm::StateStore& store) : store_(store) {}

  bool get(std::string_view key, const ValueReader& read) override { return store_.get(key, read); }
  void get_many(std::span<const std::string_view> keys, const ManyReader& read) override {
    store_.get_many(keys, read);
  }
  void set(std::string_view key, shm::ValueType type, std::string_view value) override {
    store_.set(key, type, value);
  }
  bool add(std::string_view key, shm::ValueType type, std::string_view value) override {
    return store_.add(key, type, value);
  }
  bool erase(std::string_view key) override { return store_.erase(key); }
  std::int64_t increment(std::string_view key, std::int64_t delta) override {
    return store_.increment(key, delta);
  }
  void keys(std::string_view prefix, const KeyVisitor& visit) override {
    store_.keys(prefix, visit);
  }
  PyObject* info() override {
    const auto usage = store_.usage();
    return Py_BuildValue("{s:s,s:n,s:n,s:n,s:n,s:K}", "backend", "shm", "capacity",
                         static_cast<Py_ssize_t>(usage.capacity), "used",
                         static_cast<Py_ssize_t>(usage.used), "entries",
                         static_cast<Py_ssize_t>(usage.entries), "largest_free",
                         static_cast<Py_ssize_t>(usage.largest_free), "recoveries",
                         static_cast<unsigned long long>(store_.recoveries()));
  }

 private:
  shm::StateStore& store_;
};

// Every call waits on the network without the GIL; readers run once it is back.
class RedisBackend final : public StateBackend {
 public:
  explicit RedisBackend(redis::RedisState& state) : state_(state) {}

  bool get(std::string_view key, const ValueReader& read) override {
    std::optional<redis::StoredValue> value;
    {
      GilRelease released;
      value = state_.get(key);
    }
    if (value) read(value->type, value->bytes);
    return value.has_value();
  }
  void get_many(std::span<const std::string_view> keys, const ManyReader& read) override {
    std::vector<std::optional<redis::StoredValue>> values;
    {
      GilRelease released;
      values = state_.get_many(keys);
    }
    for (std::size_t i = 0; i < values.size(); ++i) {
      if (values[i]) read(i, values[i]->type, values[i]->bytes);
    }
  }
  void set(std::string_view key, shm::ValueType type, std::string_view value) override {
    GilRelease released;
    state_.set(key, type, value);
  }
  bool add(std::string_view key, shm::ValueType type, std::string_view value) override {
    GilRelease released;
    return state_.add(key, type, value);
  }
  bool erase(std::string_view key) override {
    GilRelease released;
    return state_.erase(key);
  }
  std::int64_t increment(std::string_view key, std::int64_t delta) override {
    GilRelease released;
    return state_.increment(key, delta);
  }
  void keys(std::string_view prefix, const KeyVisitor& visit) override {
    std::vector<std::string> keys;
    {
      GilRelease released;
      keys = state_.keys(prefix);
    }
    for (const auto& key : keys) visit(key);
  }
  PyObject* info() override {
    redis::StateInfo info;
    {
      GilRelease released;
      info = state_.info();
    }
    return Py_BuildValue(
        "{s:s,s:L,s:L,s:L,s:n}", "backend", state_.client().cluster() ? "redis-cluster" : "redis",
        "capacity", static_cast<long long>(info.capacity), "used",
        static_cast<long long>(info.used), "entries", static_cast<long long>(info.entries), "nodes",
        static_cast<Py_ssize_t>(info.nodes));
  }

 private:
  redis::RedisState& state_;
};

}  // namespace

std::unique_ptr<StateBackend> shared_memory_backend(shm::StateStore& store) {
  return std::make_unique<SharedMemoryBackend>(store);
}

std::unique_ptr<StateBackend> redis_backend(redis::RedisState& state) {
  return std::make_unique<RedisBackend>(state);
}

}  // namespace hornbeam::python
