#pragma once

// The worker lifecycle as an explicit state machine, driven by three inputs: the clock
// (tick), child exits (on_exit) and the arbiter's decisions (start a generation, change the
// number of workers, stop). It reads the workers' shared-memory slots and acts through a
// Processes layer; it never forks or sleeps itself, so every transition is unit-tested.
//
//   spawn ──► booting ──(slot says ready)──► ready ──(max_requests, memory, age)──► retiring
//                │ exit: boot failure          │ exit: crash → respawn      │ replacement ready
//                ▼                             ▼ (backoff per slot)         ▼
//           respawn / give up            stopping (TERM sent) ──(past deadline)──► killing (KILL)
//           (3 in a row)                 timed out: killing (ABRT, then KILL)

#include "arbiter/processes.hpp"
#include "common/shared_segment.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace hornbeam::arbiter {

class Metrics;

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;
using Duration = std::chrono::milliseconds;

struct GenerationSettings {
  int workers = 1;
  Duration timeout{30'000};  // 0 = never
  Duration graceful_timeout{30'000};
  std::uint64_t max_memory = 0;  // bytes of RSS; 0 = no limit
  Duration max_lifetime{0};      // 0 = never
  Duration lifetime_jitter{0};   // random extra lifetime, drawn per worker
  // One worker boots first and the others once it is ready (a reload on a code change: a
  // save that breaks the import fails once, with one traceback).
  bool one_first = false;
};

// Why a serving worker is being replaced while its generation is current.
enum class RetireCause { none, max_requests, memory, lifetime };

enum class Phase { booting, ready, retiring, stopping, killing };

struct WorkerRecord {
  pid_t pid = 0;
  std::uint32_t slot = 0;
  std::uint64_t generation = 0;
  Phase phase = Phase::booting;
  TimePoint spawned{};
  std::uint64_t spawn_order = 0;  // newest has the highest
  TimePoint deadline{};           // stopping/killing: when the next, harder signal goes
  GenerationSettings settings;
  bool kill_sent = false;
  bool timed_out = false;
  bool was_ready = false;
  RetireCause retire_cause = RetireCause::none;  // set when it is recycled
  Duration lifetime{0};                          // max_lifetime plus its jitter; 0 = none
  TimePoint memory_checked{};
};

// What the arbiter must react to, taken with take_events().
struct SupervisorEvent {
  enum class Kind {
    generation_ready,   // every worker of `generation` is ready; older generations are stopping
    generation_failed,  // a reload's workers could not boot: back to the previous generation
    gave_up,            // the first generation failed to boot 3 times in a row: exit 3
  };
  Kind kind;
  std::uint64_t generation = 0;
  std::string error;
};

class Supervisor {
 public:
  static constexpr int boot_failures_to_give_up = 3;
  static constexpr Duration kill_grace{5'000};         // after ABRT (timeout) or a fast stop
  static constexpr Duration stop_margin{5'000};        // after graceful_timeout, before KILL
  static constexpr Duration min_boot_timeout{30'000};  // importing an app may take a while
  static constexpr Duration memory_check_period{1'000};

  Supervisor(Processes& processes, const shm::Segment& segment, std::int32_t owner_pid);

  // A new generation becomes the current one: its workers are spawned on the next tick, and
  // the older generations are stopped once all of them are ready.
  void start_generation(std::uint64_t generation, const GenerationSettings& settings);
  std::uint64_t generation() const { return current_.generation; }
  // TTIN / TTOU / WINCH: the number of workers of the current generation.
  void set_target(int workers);
  // The most workers a generation may have: half the segment's slots, as a reload runs two
  // generations side by side until the new one is ready (with more, the new one could never
  // get all of its slots, and the reload would never end).
  int max_workers() const;
  int target() const { return current_.settings.workers; }

  void tick(TimePoint now);
  // A child ended; false when it is not one of the workers (an orphan, an upgraded arbiter).
  bool on_exit(pid_t pid, int wait_status, TimePoint now);
  // TERM (graceful) or INT/QUIT (fast); a fast stop after a graceful one hurries it.
  void stop_all(bool graceful, TimePoint now);
  void signal_all(int signal);  // USR1
  // The stuck-request path for the worker in `slot` (the control socket's `kill`): its
  // tracebacks are logged, its requests answered 504, and it is replaced. False when no
  // serving worker is in that slot.
  bool time_out(std::uint32_t slot, TimePoint now);

  bool stopping() const { return stopping_; }
  bool idle() const { return workers_.empty(); }
  const std::vector<WorkerRecord>& workers() const { return workers_; }
  int ready_count() const;
  std::vector<SupervisorEvent> take_events();
  // Where spawns and exits (by cause) are counted, and exited workers' counters folded.
  void set_metrics(Metrics* metrics) { metrics_ = metrics; }

 private:
  struct Generation {
    std::uint64_t generation = 0;
    GenerationSettings settings;
    bool announced_ready = false;
  };
  struct Respawn {  // a slot kept for the replacement of a crashed worker
    TimePoint not_before{};
  };

  void observe(WorkerRecord& worker, TimePoint now);
  // A booting worker whose slot says it got past its boot becomes ready (once).
  void note_readiness(WorkerRecord& worker, shm::SlotState state);
  void check_deadlines(WorkerRecord& worker, TimePoint now);
  void check_recycling(WorkerRecord& worker, TimePoint now);
  void retire(WorkerRecord& worker, RetireCause cause);
  bool replacement_in_progress() const;
  int ready_in_current() const;
  void finish_generation_switch(TimePoint now);
  void reconcile(TimePoint now);
  void spawn_in(std::uint32_t slot, TimePoint now);
  void stop(WorkerRecord& worker, int signal, Duration grace, TimePoint now);
  void kill_hard(WorkerRecord& worker, TimePoint now);
  void boot_failed(const WorkerRecord& worker, const std::string& how, TimePoint now);
  void crashed(const WorkerRecord& worker, const std::string& how, TimePoint now);
  Duration backoff(std::uint32_t slot) const;
  std::string name(const WorkerRecord& worker) const;
  int active_in_current() const;

  Processes& processes_;
  const shm::Segment& segment_;
  std::int32_t owner_;
  Generation current_;
  std::optional<Generation> previous_;  // during a reload: what to go back to
  std::vector<WorkerRecord> workers_;
  std::map<std::uint32_t, Respawn> respawns_;
  std::map<std::uint32_t, int> crash_streaks_;  // per slot, reset when its worker gets ready
  int boot_failures_in_a_row_ = 0;
  std::uint64_t spawns_ = 0;
  bool stopping_ = false;
  bool no_free_slot_logged_ = false;
  Metrics* metrics_ = nullptr;
  std::vector<SupervisorEvent> events_;
  std::minstd_rand jitter_random_{std::random_device{}()};
  // A generation whose workers are over max_worker_memory as soon as they are ready: recycling
  // by memory is off for it.
  std::uint64_t memory_limit_too_low_in_ = 0;
};

}  // namespace hornbeam::arbiter
