#pragma once

// The `hornbeam` module's store and pub/sub, as `shared_state.backend` says: the arbiter's
// shared memory (or this worker's own when it runs alone), or Redis through one client per
// worker. Declared before the interpreter, which uses it to its end.

#include "config/config.hpp"

#include <memory>

namespace hornbeam::python {
class StateBackend;
}
namespace hornbeam::pubsub {
class Bus;
}

namespace hornbeam::worker {

class ArbiterLink;

class SharedStateChoice {
 public:
  // Throws std::runtime_error when the store cannot be had (Redis being down is not that:
  // calls raise StateUnavailable until it is up).
  SharedStateChoice(const config::Config& config, ArbiterLink& link);
  ~SharedStateChoice();
  SharedStateChoice(const SharedStateChoice&) = delete;
  SharedStateChoice& operator=(const SharedStateChoice&) = delete;

  python::StateBackend& backend() { return *backend_; }
  pubsub::Bus& bus() { return *bus_; }

 private:
  struct Parts;
  std::unique_ptr<Parts> parts_;
  std::unique_ptr<python::StateBackend> backend_;
  std::unique_ptr<pubsub::Bus> bus_;
};

}  // namespace hornbeam::worker
