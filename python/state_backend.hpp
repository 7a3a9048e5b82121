#pragma once

// Where the `hornbeam` module's shared state lives: the shared-memory store of the host
// (`shared_state.backend: shm`) or Redis (`redis://`, `redis-cluster://`). The module encodes
// and decodes values the same way for both (common/state_store.hpp's ValueType and bytes);
// a backend stores them.
//
// Called with the GIL held; readers are called with it held too. A backend that waits on the
// network releases the GIL while it waits. Errors are thrown as the backends' exceptions
// (shm::StoreFull, redis::OutOfMemory, redis::Unavailable, shm::NotAnInteger,
// std::overflow_error), which the module turns into Python's.

#include "common/state_store.hpp"

#include <Python.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string_view>

namespace hornbeam::redis {
class RedisState;
}

namespace hornbeam::python {

class StateBackend {
 public:
  using ValueReader = std::function<void(shm::ValueType, std::string_view)>;
  using ManyReader = std::function<void(std::size_t, shm::ValueType, std::string_view)>;
  using KeyVisitor = std::function<void(std::string_view)>;

  virtual ~StateBackend() = default;

  // `read` is called with the value when the key is there. On the shared-memory store it
  // runs under the store's lock: it must build only objects the collector does not track.
  virtual bool get(std::string_view key, const ValueReader& read) = 0;
  // The keys found, read at one instant (on a Redis Cluster: one instant per node).
  virtual void get_many(std::span<const std::string_view> keys, const ManyReader& read) = 0;
  virtual void set(std::string_view key, shm::ValueType type, std::string_view value) = 0;
  virtual bool add(std::string_view key, shm::ValueType type, std::string_view value) = 0;
  virtual bool erase(std::string_view key) = 0;
  virtual std::int64_t increment(std::string_view key, std::int64_t delta) = 0;
  virtual void keys(std::string_view prefix, const KeyVisitor& visit) = 0;
  // state_info()'s dict (a new reference, or null with an exception set).
  virtual PyObject* info() = 0;
};

std::unique_ptr<StateBackend> shared_memory_backend(shm::StateStore& store);
std::unique_ptr<StateBackend> redis_backend(redis::RedisState& state);

}  // namespace hornbeam::python
