#pragma once

// What the arbiter tells Prometheus and the orchestrator's probes: the workers' own counters
// (their shared-memory slots, common/shared_segment.hpp), the arbiter's (spawns, exits by
// cause, reloads), the shared state's usage, and readiness. The arbiter's thread records; the
// metrics listener's thread renders (metrics_server.hpp): one mutex between them, so that a
// worker's counters folded at its exit are never counted twice nor lost by a scrape.

#include "common/shared_segment.hpp"

#include <sys/types.h>
#include <array>
#include <atomic>

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

namespace hornbeam::arbiter {

struct BuildInfo {
  std::string version;
  std::string python;
  std::string context_mode;
};

// Why a worker exited, as the `cause` label of hornbeam_worker_exits_total.
enum class ExitCause {
  boot_failure,
  crash,
  timeout,
  max_requests,
  memory,
  lifetime,
  reload,
  scale_down,
  shutdown
};

class Metrics {
 public:
  Metrics(const shm::Segment& segment, std::int32_t owner_pid, BuildInfo build);

  // The arbiter's thread.
  void worker_spawned();
  // Folds the slot's counters into the totals (the worker is gone: nothing writes them).
  void worker_exited(std::uint32_t slot, ExitCause cause);
  void generation_started(std::uint64_t generation);
  void reloaded(bool ok);
  void set_ready_workers(int ready);
  void set_stopping(std::string why);
  // Every turn of the arbiter's loop: /healthz checks that it still turns.
  void loop_turned() { loop_turned_ns_.store(shm::monotonic_ns(), std::memory_order_relaxed); }

  // Any thread.
  struct Readiness {
    bool ready;
    std::string reason;  // one line, for the 503
  };
  Readiness readiness() const;
  // The arbiter's loop turned within the last few seconds.
  bool alive() const {
    return shm::monotonic_ns() - loop_turned_ns_.load(std::memory_order_relaxed) < 5'000'000'000;
  }
  // The Prometheus text exposition (version 0.0.4).
  std::string render() const;

 private:
  struct Totals {
    std::array<std::array<std::uint64_t, 6>, 2> responses{};  // by app kind, status class
    std::array<std::uint64_t, shm::WorkerStats::duration_bounds.size() + 1> duration_buckets{};
    std::uint64_t duration_sum_us = 0;
    std::uint64_t connections_accepted = 0;
    std::uint64_t tls_handshake_failures = 0;
    std::uint64_t gil_wait_us = 0;
  };
  static void add_counters(Totals& totals, const shm::WorkerStats& stats);

  const shm::Segment& segment_;
  const std::int32_t owner_;
  const BuildInfo build_;
  mutable std::mutex mutex_;
  Totals retired_;  // the counters of workers that have exited
  std::uint64_t spawns_ = 0;
  std::map<ExitCause, std::uint64_t> exits_;
  std::uint64_t generation_ = 0;
  std::uint64_t reloads_ = 0;
  std::uint64_t failed_reloads_ = 0;
  int ready_workers_ = 0;
  std::string stopping_;  // why, once the arbiter stops
  std::atomic<std::int64_t> loop_turned_ns_{shm::monotonic_ns()};
};

}  // namespace hornbeam::arbiter
