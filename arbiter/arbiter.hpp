#pragma once

// hornbeam-arbiter's process: owns the listen sockets, the shared-memory segment and the
// pidfile; spawns the workers and keeps them as the configuration says; turns signals into
// actions (Gunicorn's semantics, docs/operations.md).

#include "config/config.hpp"
#include "config/loader.hpp"

#include <memory>
#include <string>
#include <vector>

namespace hornbeam::arbiter {

// What an arbiter started by a binary upgrade (USR2) inherits from the old one.
struct Inheritance {
  std::vector<std::string> listen;  // "BIND=FD"
  int shm_fd = -1;
  bool any() const { return shm_fd >= 0 || !listen.empty(); }
};

struct ArbiterOptions {
  config::Config config;
  config::Sources sources;        // loaded again on HUP
  std::vector<std::string> argv;  // this arbiter's arguments, for the upgraded one
  Inheritance inherited;
};

// Runs until stopped; returns the exit status (0, or exit_code::boot_failure when the
// workers never booted, exit_code::config_error when the sockets cannot be opened).
int run_arbiter(ArbiterOptions options);

}  // namespace hornbeam::arbiter
