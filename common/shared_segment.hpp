#pragma once

// The shared-memory segment the arbiter creates and every worker maps: a versioned header and
// one slot per worker (pid, generation, state, heartbeat, per-context "busy since" and time
// limit, counters).
// Every field a process writes while others read is a lock-free atomic, so a worker killed at
// any instant leaves nothing half-locked. The shared application state (common/state_store.hpp)
// follows the slots, then the pub/sub ring (common/pubsub_shm.hpp).

#include "common/pubsub_shm.hpp"
#include "common/state_store.hpp"
#include "common/unique_fd.hpp"

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace hornbeam::shm {

inline constexpr std::uint32_t segment_magic = 0x4842'4d53;  // "HBMS"
inline constexpr std::uint32_t layout_version = 5;
// Matches the `contexts` setting's maximum: every context has its own busy-since entry (job
// contexts and event loops of a worker that serves both are numbered one after the other).
inline constexpr std::size_t max_contexts = 1024;
inline constexpr std::size_t boot_error_size = 2048;

// CLOCK_MONOTONIC in nanoseconds: one clock for every process on the host.
std::int64_t monotonic_ns();

enum class SlotState : std::uint32_t {
  free = 0,
  booting = 1,   // spawned; the app is not imported yet
  ready = 2,     // app imported, accepting
  retiring = 3,  // past max_requests: still serving, asks the arbiter for a replacement
  draining = 4,  // stopping: finishing in-flight requests
};

// What a worker counts for the arbiter's /metrics (arbiter/metrics.hpp). One writer, the
// worker's I/O thread, and any number of readers: relaxed atomics, no lock. The counters are
// folded into the arbiter's totals when the worker exits, so totals never go backwards.
struct WorkerStats {
  // Upper bounds of the request-duration histogram's buckets, in seconds (Prometheus'
  // defaults); the last bucket counts what is above them all.
  static constexpr std::array<double, 11> duration_bounds = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                             0.5,   1,    2.5,   5,    10};
  enum AppKind : std::size_t { wsgi = 0, asgi = 1 };
  // By the kind of app that answered, then by status class: [1] 1xx ... [5] 5xx, [0] other.
  std::atomic<std::uint64_t> responses[2][6];
  std::atomic<std::uint64_t> duration_buckets[duration_bounds.size() + 1];  // not cumulative
  std::atomic<std::uint64_t> duration_sum_us;
  std::atomic<std::uint64_t> connections_accepted;
  std::atomic<std::uint64_t> tls_handshake_failures;  // failed, or not done in time
  std::atomic<std::uint64_t> gil_wait_us;  // job contexts waiting for the GIL, published per tick
  // Gauges: what is open now.
  std::atomic<std::int64_t> in_flight;  // requests handed to the app, response not complete
  std::atomic<std::int64_t> connections_open;
  std::atomic<std::int64_t> websockets_open;
  // The contexts that run one request at a time (WSGI), numbered first in the slot: their
  // busy-since says whether they are busy (an event loop's only says that it turns).
  std::atomic<std::uint32_t> job_contexts;

  // A response that is complete (or refused) after `duration`. The I/O thread only.
  void record_response(AppKind kind, int status, std::chrono::microseconds duration);
  static void bump(std::atomic<std::uint64_t>& counter) {
    counter.store(counter.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  static void add(std::atomic<std::int64_t>& gauge, std::int64_t delta) {
    gauge.store(gauge.load(std::memory_order_relaxed) + delta, std::memory_order_relaxed);
  }
  void clear();
};

// A request that has run past its time limit: the arbiter replaces its worker.
struct OverdueRequest {
  std::int64_t running_ns;
  std::int64_t limit_ns;
};

struct WorkerSlot {
  std::atomic<std::int32_t> owner;  // pid of the arbiter that claimed the slot; 0 = free
  std::atomic<std::int32_t> pid;
  std::atomic<std::uint64_t> generation;
  std::atomic<std::uint32_t> state;  // SlotState
  std::atomic<std::uint32_t> contexts;
  std::atomic<std::int64_t> heartbeat_ns;  // last sign of life of the worker's I/O thread
  std::atomic<std::uint64_t> requests;     // responses completed
  std::atomic<std::uint64_t>
      max_requests;                  // the limit this worker drew (jitter included); 0 = none
  char boot_error[boot_error_size];  // why the worker could not boot, written before it exits
  std::atomic<std::int64_t> busy_since_ns[max_contexts];  // 0 = idle
  // The running request's own limit (its mount's `timeout`): 0 = the worker's `timeout`,
  // negative = none (also while the request waits for its client). Written before
  // busy_since_ns, which publishes it.
  std::atomic<std::int64_t> time_limit_ns[max_contexts];
  WorkerStats stats;
  // The topics this worker's subscribers listen to (common/pubsub_shm.hpp).
  TopicTable topics;
  std::atomic<std::uint64_t> pubsub_lost;  // messages its subscribers never got (too slow)

  SlotState current_state() const {
    return static_cast<SlotState>(state.load(std::memory_order_acquire));
  }
  void set_state(SlotState next) {
    state.store(static_cast<std::uint32_t>(next), std::memory_order_release);
  }
  // The WSGI contexts (stats.job_contexts): how many, how many run a request, and since when
  // the oldest of those requests runs (0: none).
  struct JobContexts {
    std::size_t total = 0;
    std::size_t busy = 0;
    std::int64_t oldest_busy_since = 0;
  };
  JobContexts job_contexts() const;
  // The request furthest past its limit at `now_ns`, if any; `default_limit_ns` is the
  // worker's `timeout` (0 or less: none).
  std::optional<OverdueRequest> overdue_request(std::int64_t now_ns,
                                                std::int64_t default_limit_ns) const;
  void set_boot_error(std::string_view text);
  std::string boot_error_text() const;
  // Fresh state for a newly spawned worker (called by the arbiter before it spawns).
  void reset(std::int32_t worker_pid, std::uint64_t worker_generation);
};

struct SegmentHeader {
  std::uint32_t magic;
  std::uint32_t version;
  std::uint64_t size;  // bytes of the whole segment
  std::uint32_t slot_count;
  std::uint32_t reserved;
  std::uint64_t slots_offset;  // from the segment's start
  std::uint64_t slot_stride;
  std::uint64_t state_offset;  // the shared application state (a StateStore)
  std::uint64_t state_size;
  std::uint64_t pubsub_offset;  // the host's pub/sub MessageRing
  std::uint64_t pubsub_size;
};

static_assert(std::atomic<std::int64_t>::is_always_lock_free &&
                  std::atomic<std::int32_t>::is_always_lock_free,
              "slots are shared between processes: their atomics must not hide a lock");

// A mapping of the segment. The arbiter creates it (a memfd, close-on-exec, mode 0600: only
// processes it hands the fd to can map it); a worker or an upgraded arbiter attaches by fd.
class Segment {
 public:
  // A memfd is sparse: slots and state pages cost memory only once written. A worker run
  // without an arbiter creates one with no slots, for its own shared state.
  static Segment create(std::uint32_t slot_count, std::size_t state_size);
  // Throws std::runtime_error when the fd is not a segment of this layout version.
  static Segment attach(int fd);

  Segment(Segment&& other) noexcept;
  Segment& operator=(Segment&& other) noexcept;
  Segment(const Segment&) = delete;
  Segment& operator=(const Segment&) = delete;
  ~Segment();

  int fd() const { return fd_.get(); }
  std::uint32_t slot_count() const { return header()->slot_count; }
  WorkerSlot& slot(std::uint32_t index) const;
  // Claims a free slot for the arbiter `owner` (compare-and-swap, so two arbiters sharing
  // the segment during a binary upgrade never take the same one). Slots whose owner died
  // are taken back. Returns -1 when every slot is in use.
  int claim_slot(std::int32_t owner) const;
  void release_slot(std::uint32_t index) const;
  // The store formatted at creation; it lives as long as the segment (the arbiter's life).
  StateStore state() const;
  // The host's pub/sub ring.
  MessageRing* pubsub_ring() const;

 private:
  Segment(UniqueFd fd, void* base, std::size_t size)
      : fd_(std::move(fd)), base_(base), size_(size) {}
  SegmentHeader* header() const { return static_cast<SegmentHeader*>(base_); }

  UniqueFd fd_;
  void* base_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace hornbeam::shm
