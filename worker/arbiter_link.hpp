#pragma once

// The worker's side of its shared-memory slot: what the arbiter reads to supervise it (state,
// heartbeat, per-context busy-since, request count). Without an arbiter (a worker run alone)
// there is no slot and every call only keeps the local counters.

#include "common/shared_segment.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace hornbeam::worker {

class ArbiterLink {
 public:
  struct Placement {
    int shm_fd = -1;
    std::uint32_t slot = 0;
    std::uint64_t generation = 0;
  };

  // Until attach(): standalone, no slot.
  // Throws std::runtime_error when the fd is not a segment or the slot is not ours.
  void attach(const Placement& placement);

  bool supervised() const { return segment_.has_value(); }
  // The arbiter's segment; only when supervised().
  const shm::Segment& segment() const { return *segment_; }

  void set_max_requests(std::uint64_t limit);  // 0 = none
  void ready(int contexts);
  void draining();
  void heartbeat();
  // Before exiting with a boot failure: the arbiter logs this as the reason it gave up.
  void boot_failed(std::string_view error);

  // Whether the arbiter that started this worker has died (the worker was reparented). The
  // kernel's death signal normally ends the worker first; this is the second guard, checked
  // on every tick, for whatever clears that signal. Only when supervised().
  bool arbiter_gone() const;

  // From context threads. `time_limit` is the request's own stuck-request deadline (its
  // mount's `timeout`, zero for none); without one the worker's `timeout` applies.
  void context_busy(int index, bool busy,
                    std::optional<std::chrono::milliseconds> time_limit = std::nullopt);
  // From the context's thread, while it runs a request: it waits for its client (room for the
  // response, body bytes; common/client_wait.hpp). The request's clock stops meanwhile: the
  // arbiter sees no limit for it, and when the wait ends its "busy since" moves later by the
  // time waited, so `timeout` judges the app's time only.
  void context_waits_for_client(int index, bool waiting);
  // Counts a finished request; true exactly once, when it reaches max_requests.
  bool count_request();
  // This worker's slot; null when standalone.
  shm::WorkerSlot* slot() const { return slot_; }
  // The slot's counters for the arbiter's /metrics; null when standalone.
  shm::WorkerStats* stats() const { return slot_ ? &slot_->stats : nullptr; }

 private:
  std::optional<shm::Segment> segment_;
  shm::WorkerSlot* slot_ = nullptr;
  std::uint64_t max_requests_ = 0;
  std::atomic<std::uint64_t> requests_{0};
  // Per context, its client wait under way (each touched only by its context's thread).
  struct ClientWaitUnderWay {
    std::int64_t began_ns = 0;
    std::int64_t time_limit_ns = 0;  // the request's, given back when the wait ends
  };
  std::vector<ClientWaitUnderWay> client_waits_ =
      std::vector<ClientWaitUnderWay>(shm::max_contexts);
};

}  // namespace hornbeam::worker
