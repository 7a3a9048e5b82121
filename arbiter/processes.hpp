#pragma once

// The process layer the supervisor drives. The real one forks and execs hornbeam-worker
// (spawner.cpp); the unit tests' one records what it was asked, so that the state machine is
// tested without a single fork.

#include <sys/types.h>
#include <cstdint>
#include <optional>

namespace hornbeam::arbiter {

class Processes {
 public:
  virtual ~Processes() = default;
  // Starts a worker of `generation` in `slot` (the slot was reset for it). Returns its pid;
  // throws std::runtime_error when it could not be started.
  virtual pid_t spawn(std::uint32_t slot, std::uint64_t generation) = 0;
  virtual void signal(pid_t pid, int signal) = 0;
  // The process's resident memory (RSS) in bytes; nothing when it cannot be read.
  virtual std::optional<std::uint64_t> resident_memory(pid_t pid) = 0;
};

}  // namespace hornbeam::arbiter
