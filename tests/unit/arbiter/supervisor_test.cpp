// The worker lifecycle, cell by cell, through a fake process layer: no fork anywhere. The
// shared-memory segment is real (a memfd), and the tests write into the slots what a worker
// would write.

#include "arbiter/supervisor.hpp"

#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>

#include <map>
#include <set>
#include <stdexcept>

namespace hornbeam::arbiter {
namespace {

using namespace std::chrono_literals;

struct FakeProcesses : Processes {
  struct Spawn {
    std::uint32_t slot;
    std::uint64_t generation;
    pid_t pid;
  };
  std::vector<Spawn> spawns;
  std::vector<std::pair<pid_t, int>> signals;
  bool fail_next_spawn = false;
  pid_t next_pid = 1000;

  pid_t spawn(std::uint32_t slot, std::uint64_t generation) override {
    if (fail_next_spawn) {
      fail_next_spawn = false;
      throw std::runtime_error("no such file");
    }
    spawns.push_back({slot, generation, next_pid});
    return next_pid++;
  }
  void signal(pid_t pid, int signal) override { signals.emplace_back(pid, signal); }
  std::map<pid_t, std::uint64_t> memory;  // resident bytes by pid; absent: unreadable
  std::optional<std::uint64_t> resident_memory(pid_t pid) override {
    const auto found = memory.find(pid);
    return found == memory.end() ? std::nullopt : std::optional(found->second);
  }

  std::vector<int> signals_to(pid_t pid) const {
    std::vector<int> sent;
    for (const auto& [to, signal] : signals) {
      if (to == pid) sent.push_back(signal);
    }
    return sent;
  }
};

int exited(int code) { return code << 8; }  // a wait status as waitpid reports it
int killed_by(int signal) { return signal; }

class SupervisorTest : public ::testing::Test {
 protected:
  SupervisorTest()
      : segment(shm::Segment::create(16, 64 * 1024)), supervisor(processes, segment, ::getpid()) {}

  std::int64_t ns(TimePoint time) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(time.time_since_epoch()).count();
  }
  static std::int64_t ns(Duration duration) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(duration).count();
  }
  shm::WorkerSlot& slot_of(pid_t pid) {
    for (const auto& spawn : processes.spawns) {
      if (spawn.pid == pid) return segment.slot(spawn.slot);
    }
    throw std::logic_error("no such worker");
  }
  // What a worker does once its app is imported.
  void ready(pid_t pid) {
    auto& slot = slot_of(pid);
    slot.contexts = 2;
    slot.heartbeat_ns = ns(now);
    slot.set_state(shm::SlotState::ready);
  }
  void beat_all() {
    for (const auto& worker : supervisor.workers())
      segment.slot(worker.slot).heartbeat_ns = ns(now);
  }
  void advance(Duration by) {
    now += by;
    beat_all();
    supervisor.tick(now);
  }
  Phase phase_of(pid_t pid) {
    for (const auto& worker : supervisor.workers()) {
      if (worker.pid == pid) return worker.phase;
    }
    throw std::logic_error("not supervised");
  }
  // Starts `workers` workers of generation 1 and gets them ready.
  void serving(int workers, GenerationSettings settings = {}) {
    settings.workers = workers;
    supervisor.start_generation(1, settings);
    supervisor.tick(now);
    for (const auto& spawn : processes.spawns) ready(spawn.pid);
    supervisor.tick(now);
    supervisor.take_events();
  }

  FakeProcesses processes;
  shm::Segment segment;
  Supervisor supervisor;
  TimePoint now = Clock::now();
};

TEST_F(SupervisorTest, AGenerationSpawnsItsWorkersInFreshSlots) {
  supervisor.start_generation(1, {.workers = 3});
  supervisor.tick(now);
  ASSERT_EQ(processes.spawns.size(), 3u);
  for (const auto& spawn : processes.spawns) {
    EXPECT_EQ(spawn.generation, 1u);
    EXPECT_EQ(segment.slot(spawn.slot).current_state(), shm::SlotState::booting);
    EXPECT_EQ(segment.slot(spawn.slot).pid.load(), spawn.pid);
    EXPECT_EQ(segment.slot(spawn.slot).owner.load(), ::getpid());
  }
  EXPECT_NE(processes.spawns[0].slot, processes.spawns[1].slot);
  supervisor.tick(now);
  EXPECT_EQ(processes.spawns.size(), 3u) << "booting workers count: no second round of spawns";
}

TEST_F(SupervisorTest, AWorkerIsReadyWhenItsSlotSaysSoAndTheGenerationIsAnnouncedOnce) {
  supervisor.start_generation(1, {.workers = 2});
  supervisor.tick(now);
  ready(processes.spawns[0].pid);
  supervisor.tick(now);
  EXPECT_EQ(phase_of(processes.spawns[0].pid), Phase::ready);
  EXPECT_EQ(phase_of(processes.spawns[1].pid), Phase::booting);
  EXPECT_TRUE(supervisor.take_events().empty()) << "half a generation is not ready";
  ready(processes.spawns[1].pid);
  supervisor.tick(now);
  const auto events = supervisor.take_events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, SupervisorEvent::Kind::generation_ready);
  supervisor.tick(now);
  EXPECT_TRUE(supervisor.take_events().empty());
}

TEST_F(SupervisorTest, ACrashedWorkerIsReplacedInItsSlotAtMostOncePerSecond) {
  serving(1);
  const auto first = processes.spawns[0];
  EXPECT_TRUE(supervisor.on_exit(first.pid, killed_by(SIGKILL), now));  // 0 s after its spawn
  supervisor.tick(now);
  EXPECT_EQ(processes.spawns.size(), 1u) << "respawned within a second of the last spawn";
  advance(1s);
  ASSERT_EQ(processes.spawns.size(), 2u);
  EXPECT_EQ(processes.spawns[1].slot, first.slot);
  // It keeps failing before it is ready: the wait grows (2 s after its spawn now).
  EXPECT_TRUE(supervisor.on_exit(processes.spawns[1].pid, killed_by(SIGSEGV), now));
  advance(1500ms);
  EXPECT_EQ(processes.spawns.size(), 2u);
  advance(600ms);
  EXPECT_EQ(processes.spawns.size(), 3u);
}

TEST_F(SupervisorTest, AWorkerThatCrashesLongAfterItsSpawnIsReplacedAtOnce) {
  serving(2);
  advance(10s);
  ASSERT_TRUE(supervisor.on_exit(processes.spawns[1].pid, killed_by(SIGKILL), now));
  supervisor.tick(now);
  ASSERT_EQ(processes.spawns.size(), 3u);
  EXPECT_EQ(processes.spawns[2].slot, processes.spawns[1].slot);
}

TEST_F(SupervisorTest, ThreeBootFailuresInARowGiveUpWithTheAppsError) {
  supervisor.start_generation(1, {.workers = 1});
  supervisor.tick(now);
  for (int attempt = 0; attempt < 3; ++attempt) {
    ASSERT_EQ(processes.spawns.size(), static_cast<std::size_t>(attempt + 1));
    const auto spawn = processes.spawns.back();
    segment.slot(spawn.slot)
        .set_boot_error("Traceback...\nModuleNotFoundError: No module named 'nope'\n");
    ASSERT_TRUE(supervisor.on_exit(spawn.pid, exited(4), now));
    if (attempt < 2) {
      EXPECT_TRUE(supervisor.take_events().empty());
    }
    advance(40s);
  }
  const auto events = supervisor.take_events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, SupervisorEvent::Kind::gave_up);
  EXPECT_NE(events[0].error.find("3 times in a row"), std::string::npos);
  EXPECT_NE(events[0].error.find("ModuleNotFoundError: No module named 'nope'"), std::string::npos);
}

// A worker that said it was ready in its slot and died before the next tick (on its first
// request, say): a crash to recover from, never a boot failure to give up on.
TEST_F(SupervisorTest, WorkersDyingRightAfterTheirSlotSaidReadyAreCrashesNotBootFailures) {
  supervisor.start_generation(1, {.workers = 1});
  supervisor.tick(now);
  for (int attempt = 0; attempt < 5; ++attempt) {
    ASSERT_EQ(processes.spawns.size(), static_cast<std::size_t>(attempt + 1));
    const auto spawn = processes.spawns.back();
    ready(spawn.pid);  // no tick in between: the exit is reaped first
    ASSERT_TRUE(supervisor.on_exit(spawn.pid, killed_by(SIGSEGV), now));
    EXPECT_TRUE(supervisor.take_events().empty()) << "attempt " << attempt;
    advance(1s);
  }
  EXPECT_EQ(processes.spawns.size(), 6u) << "each replaced after a second, no growing backoff";
}

TEST_F(SupervisorTest, AReloadWhoseNewWorkerDiesRightAfterItWasReadyGoesOn) {
  serving(1);
  supervisor.start_generation(2, {.workers = 1});
  supervisor.tick(now);
  const auto fresh = processes.spawns[1];
  ready(fresh.pid);
  ASSERT_TRUE(supervisor.on_exit(fresh.pid, killed_by(SIGSEGV), now));
  EXPECT_TRUE(supervisor.take_events().empty()) << "not a generation that cannot boot";
  EXPECT_EQ(supervisor.generation(), 2u);
  advance(1s);
  ASSERT_EQ(processes.spawns.size(), 3u);
  EXPECT_EQ(processes.spawns[2].generation, 2u);
}

TEST_F(SupervisorTest, AGenerationMayHaveHalfTheSlotsAsAReloadRunsTwo) {
  EXPECT_EQ(supervisor.max_workers(), 8);  // the segment of these tests has 16 slots
}

TEST_F(SupervisorTest, AWorkerThatCannotBeStartedCountsAsABootFailure) {
  processes.fail_next_spawn = true;
  supervisor.start_generation(1, {.workers = 1});
  supervisor.tick(now);
  EXPECT_TRUE(processes.spawns.empty());
  advance(1s);
  EXPECT_EQ(processes.spawns.size(), 1u) << "tried again after its backoff";
}

TEST_F(SupervisorTest, AStuckRequestGetsTheWorkerAbortedReplacedAndThenKilled) {
  serving(1, {.workers = 1, .timeout = 2s});
  const pid_t stuck = processes.spawns[0].pid;
  slot_of(stuck).busy_since_ns[1] = ns(now);
  advance(1900ms);
  EXPECT_TRUE(processes.signals_to(stuck).empty());
  advance(200ms);
  EXPECT_EQ(processes.signals_to(stuck), std::vector<int>{SIGABRT}) << "tracebacks, 504, exit";
  EXPECT_EQ(processes.spawns.size(), 2u) << "the replacement starts at once";
  advance(Supervisor::kill_grace);
  EXPECT_EQ(processes.signals_to(stuck), (std::vector<int>{SIGABRT, SIGKILL}));
  EXPECT_TRUE(supervisor.on_exit(stuck, killed_by(SIGKILL), now));
  supervisor.tick(now);
  EXPECT_EQ(processes.spawns.size(), 2u) << "an expected exit is not a crash to replace again";
}

TEST_F(SupervisorTest, ARequestWithItsOwnTimeLimitIsJudgedByIt) {
  // A mount's `timeout`: longer than the worker's for one context, shorter for the other.
  serving(1, {.workers = 1, .timeout = 2s});
  const pid_t worker = processes.spawns[0].pid;
  slot_of(worker).time_limit_ns[0] = ns(5s);
  slot_of(worker).busy_since_ns[0] = ns(now);
  advance(3s);
  EXPECT_TRUE(processes.signals_to(worker).empty()) << "3s into its own 5s";
  slot_of(worker).time_limit_ns[1] = ns(500ms);
  slot_of(worker).busy_since_ns[1] = ns(now);
  advance(600ms);
  EXPECT_EQ(processes.signals_to(worker), std::vector<int>{SIGABRT}) << "past its own 500ms";
}

TEST_F(SupervisorTest, WithoutAWorkerTimeoutOnlyOwnTimeLimitsCount) {
  serving(1, {.workers = 1, .timeout = 0s});
  const pid_t worker = processes.spawns[0].pid;
  slot_of(worker).busy_since_ns[0] = ns(now);
  now += 1h;  // no heartbeat either
  supervisor.tick(now);
  EXPECT_TRUE(processes.signals_to(worker).empty());
  slot_of(worker).time_limit_ns[1] = ns(1s);
  slot_of(worker).busy_since_ns[1] = ns(now);
  advance(1100ms);
  EXPECT_EQ(processes.signals_to(worker), std::vector<int>{SIGABRT});
}

TEST_F(SupervisorTest, ASilentWorkerIsReplaced) {
  serving(1, {.workers = 1, .timeout = 2s});
  const pid_t silent = processes.spawns[0].pid;
  now += 3s;  // no heartbeat meanwhile
  supervisor.tick(now);
  EXPECT_EQ(processes.signals_to(silent), std::vector<int>{SIGABRT});
}

TEST_F(SupervisorTest, ABootThatNeverEndsIsKilledAndCountedAsABootFailure) {
  supervisor.start_generation(1, {.workers = 1, .timeout = 1s});
  supervisor.tick(now);
  const pid_t slow = processes.spawns[0].pid;
  advance(Supervisor::min_boot_timeout + 1s);
  EXPECT_EQ(processes.signals_to(slow), std::vector<int>{SIGKILL});
  EXPECT_TRUE(supervisor.on_exit(slow, killed_by(SIGKILL), now));
  advance(1s);
  EXPECT_EQ(processes.spawns.size(), 2u);
}

TEST_F(SupervisorTest, AReloadDrainsTheOldGenerationOnlyOnceTheNewOneIsReady) {
  serving(2, {.workers = 2, .graceful_timeout = 10s});
  supervisor.start_generation(2, {.workers = 2, .graceful_timeout = 10s});
  supervisor.tick(now);
  ASSERT_EQ(processes.spawns.size(), 4u);
  EXPECT_EQ(processes.spawns[2].generation, 2u);
  EXPECT_TRUE(processes.signals.empty()) << "the old generation serves until the new one is ready";
  ready(processes.spawns[2].pid);
  supervisor.tick(now);
  EXPECT_TRUE(processes.signals.empty());
  ready(processes.spawns[3].pid);
  supervisor.tick(now);
  EXPECT_EQ(processes.signals_to(processes.spawns[0].pid), std::vector<int>{SIGTERM});
  EXPECT_EQ(processes.signals_to(processes.spawns[1].pid), std::vector<int>{SIGTERM});
  const auto events = supervisor.take_events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].generation, 2u);
  // An old worker that overstays graceful_timeout is killed.
  advance(10s + Supervisor::stop_margin + 1ms);
  EXPECT_EQ(processes.signals_to(processes.spawns[0].pid), (std::vector<int>{SIGTERM, SIGKILL}));
  EXPECT_TRUE(supervisor.on_exit(processes.spawns[0].pid, exited(0), now));
  EXPECT_TRUE(supervisor.on_exit(processes.spawns[1].pid, exited(0), now));
  advance(1s);
  EXPECT_EQ(processes.spawns.size(), 4u) << "drained workers are not replaced";
}

TEST_F(SupervisorTest, AReloadWhoseWorkersCannotBootGoesBackToThePreviousGeneration) {
  serving(2);
  supervisor.start_generation(2, {.workers = 2});
  supervisor.tick(now);
  const auto broken = processes.spawns[2];
  segment.slot(broken.slot).set_boot_error("SyntaxError: invalid syntax");
  ASSERT_TRUE(supervisor.on_exit(broken.pid, exited(4), now));
  const auto events = supervisor.take_events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, SupervisorEvent::Kind::generation_failed);
  EXPECT_EQ(events[0].error, "SyntaxError: invalid syntax");
  EXPECT_EQ(supervisor.generation(), 1u);
  EXPECT_EQ(processes.signals_to(processes.spawns[3].pid), std::vector<int>{SIGTERM});
  EXPECT_TRUE(processes.signals_to(processes.spawns[0].pid).empty())
      << "the old generation keeps serving";
  advance(5s);
  EXPECT_EQ(processes.spawns.size(), 4u) << "no more workers of the broken generation";
}

TEST_F(SupervisorTest, AWorkerPastMaxRequestsDrainsOnlyOnceItsReplacementIsReady) {
  serving(1);
  const pid_t old = processes.spawns[0].pid;
  slot_of(old).set_state(shm::SlotState::retiring);
  supervisor.tick(now);
  EXPECT_EQ(phase_of(old), Phase::retiring);
  ASSERT_EQ(processes.spawns.size(), 2u) << "the replacement starts first";
  EXPECT_TRUE(processes.signals.empty());
  ready(processes.spawns[1].pid);
  supervisor.tick(now);
  EXPECT_EQ(processes.signals_to(old), std::vector<int>{SIGTERM});
}

TEST_F(SupervisorTest, AWorkerAboveMaxMemoryIsReplacedFirstAndKilledPastTwiceTheLimit) {
  constexpr std::uint64_t limit = 100 << 20;
  serving(2, {.max_memory = limit});
  const pid_t leaking = processes.spawns[0].pid;
  const pid_t fine = processes.spawns[1].pid;
  processes.memory[leaking] = limit;  // at the limit is not above it
  processes.memory[fine] = 10 << 20;
  advance(Supervisor::memory_check_period);
  EXPECT_EQ(phase_of(leaking), Phase::ready);
  processes.memory[leaking] = limit + 1;
  advance(Supervisor::memory_check_period / 2);
  EXPECT_EQ(phase_of(leaking), Phase::ready) << "checked once a second, not every tick";
  advance(Supervisor::memory_check_period / 2);
  EXPECT_EQ(phase_of(leaking), Phase::retiring);
  EXPECT_EQ(slot_of(leaking).current_state(), shm::SlotState::retiring);
  ASSERT_EQ(processes.spawns.size(), 3u) << "the replacement starts first";
  EXPECT_TRUE(processes.signals.empty()) << "it serves until its replacement is ready";
  EXPECT_EQ(phase_of(fine), Phase::ready);
  // Still booting when the leak passes twice the limit: killed now.
  processes.memory[leaking] = 2 * limit + 1;
  advance(Supervisor::memory_check_period);
  EXPECT_EQ(processes.signals_to(leaking), std::vector<int>{SIGKILL});
  EXPECT_TRUE(supervisor.on_exit(leaking, killed_by(SIGKILL), now));
  advance(1s);
  EXPECT_EQ(processes.spawns.size(), 3u) << "its replacement was already booting";
}

TEST_F(SupervisorTest, PastTwiceTheLimitAtOnceIsReplacedFirstThenKilledIfStillBooting) {
  serving(1, {.max_memory = 1 << 20});
  const pid_t hog = processes.spawns[0].pid;
  processes.memory[hog] = 3 << 20;
  advance(Supervisor::memory_check_period);
  EXPECT_TRUE(processes.signals.empty()) << "its replacement first, even past twice";
  ASSERT_EQ(processes.spawns.size(), 2u);
  advance(Supervisor::memory_check_period);
  EXPECT_EQ(processes.signals_to(hog), std::vector<int>{SIGKILL});
}

TEST_F(SupervisorTest, ALimitBelowWhatAFreshWorkerUsesTurnsMemoryRecyclingOff) {
  GenerationSettings settings{.workers = 1, .max_memory = 1 << 20};
  supervisor.start_generation(1, settings);
  supervisor.tick(now);
  processes.memory[processes.spawns[0].pid] = 3 << 20;  // as big as the app is
  ready(processes.spawns[0].pid);
  supervisor.tick(now);
  for (int i = 0; i < 5; ++i) advance(Supervisor::memory_check_period);
  EXPECT_EQ(processes.spawns.size(), 1u) << "no churn of replacements just as big";
  EXPECT_TRUE(processes.signals.empty());
  // A reload (with a higher limit, say) has it back.
  supervisor.start_generation(2, {.workers = 1, .max_memory = 4 << 20});
  supervisor.tick(now);
  ASSERT_EQ(processes.spawns.size(), 2u);
  processes.memory[processes.spawns[1].pid] = 2 << 20;
  ready(processes.spawns[1].pid);
  supervisor.tick(now);
  processes.memory[processes.spawns[1].pid] = 5 << 20;
  advance(Supervisor::memory_check_period);
  EXPECT_EQ(phase_of(processes.spawns[1].pid), Phase::retiring);
}

TEST_F(SupervisorTest, AWorkerRetiredForItsMemoryDrainsOnceItsReplacementIsReady) {
  serving(1, {.max_memory = 1 << 20});
  const pid_t old = processes.spawns[0].pid;
  processes.memory[old] = 2 << 20;  // above, not past twice
  advance(Supervisor::memory_check_period);
  ASSERT_EQ(processes.spawns.size(), 2u);
  processes.memory[processes.spawns[1].pid] = 512 << 10;
  ready(processes.spawns[1].pid);
  supervisor.tick(now);
  EXPECT_EQ(processes.signals_to(old), std::vector<int>{SIGTERM});
  EXPECT_EQ(phase_of(processes.spawns[1].pid), Phase::ready);
}

TEST_F(SupervisorTest, MaxLifetimeRecyclesOneWorkerAtATime) {
  serving(3, {.max_lifetime = 60s});
  advance(59s);
  EXPECT_EQ(processes.spawns.size(), 3u);
  advance(1s);
  ASSERT_EQ(processes.spawns.size(), 4u) << "one replacement, not three";
  EXPECT_EQ(phase_of(processes.spawns[0].pid), Phase::retiring);
  EXPECT_EQ(phase_of(processes.spawns[1].pid), Phase::ready);
  EXPECT_EQ(phase_of(processes.spawns[2].pid), Phase::ready);
  advance(1s);
  EXPECT_EQ(processes.spawns.size(), 4u) << "the next waits for this replacement";
  ready(processes.spawns[3].pid);
  supervisor.tick(now);
  EXPECT_EQ(processes.signals_to(processes.spawns[0].pid), std::vector<int>{SIGTERM});
  EXPECT_TRUE(supervisor.on_exit(processes.spawns[0].pid, exited(0), now));
  advance(100ms);
  ASSERT_EQ(processes.spawns.size(), 5u) << "then the second oldest";
  EXPECT_EQ(phase_of(processes.spawns[1].pid), Phase::retiring);
  EXPECT_EQ(phase_of(processes.spawns[2].pid), Phase::ready);
}

TEST_F(SupervisorTest, LifetimeJitterIsDrawnPerWorkerWithinItsBounds) {
  serving(8, {.max_lifetime = 10s, .lifetime_jitter = 5s});
  std::set<Duration::rep> lifetimes;
  for (const auto& worker : supervisor.workers()) {
    EXPECT_GE(worker.lifetime, 10s);
    EXPECT_LE(worker.lifetime, 15s);
    lifetimes.insert(worker.lifetime.count());
  }
  EXPECT_GT(lifetimes.size(), 1u) << "eight draws from 5,001 values all alike";
}

TEST_F(SupervisorTest, AOneFirstGenerationBootsOneWorkerBeforeTheOthers) {
  serving(3);
  supervisor.start_generation(2, {.workers = 3, .one_first = true});
  supervisor.tick(now);
  ASSERT_EQ(processes.spawns.size(), 4u);
  advance(1s);
  EXPECT_EQ(processes.spawns.size(), 4u) << "the others wait for the first";
  ready(processes.spawns[3].pid);
  supervisor.tick(now);
  EXPECT_EQ(processes.spawns.size(), 6u);
}

TEST_F(SupervisorTest, AOneFirstGenerationThatCannotBootFailsWithOneWorker) {
  serving(3);
  supervisor.start_generation(2, {.workers = 3, .one_first = true});
  supervisor.tick(now);
  ASSERT_TRUE(supervisor.on_exit(processes.spawns[3].pid, exited(4), now));
  const auto events = supervisor.take_events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, SupervisorEvent::Kind::generation_failed);
  advance(5s);
  EXPECT_EQ(processes.spawns.size(), 4u);
}

TEST_F(SupervisorTest, TtinAndTtouChangeTheNumberOfWorkersNewestFirst) {
  serving(2);
  supervisor.set_target(3);
  supervisor.tick(now);
  ASSERT_EQ(processes.spawns.size(), 3u);
  const pid_t newest = processes.spawns[2].pid;
  ready(newest);
  supervisor.tick(now);
  supervisor.set_target(2);
  supervisor.tick(now);
  EXPECT_EQ(processes.signals_to(newest), std::vector<int>{SIGTERM});
  EXPECT_TRUE(processes.signals_to(processes.spawns[0].pid).empty());
}

TEST_F(SupervisorTest, WinchStopsEveryWorkerAndSpawnsNone) {
  serving(2);
  supervisor.set_target(0);
  supervisor.tick(now);
  EXPECT_EQ(processes.signals.size(), 2u);
  for (const auto& spawn : processes.spawns) supervisor.on_exit(spawn.pid, exited(0), now);
  advance(2s);
  EXPECT_EQ(processes.spawns.size(), 2u);
  EXPECT_TRUE(supervisor.idle());
}

TEST_F(SupervisorTest, AGracefulStopBecomesFastOnASecondSignalAndEndsWithKill) {
  serving(2, {.workers = 2, .graceful_timeout = 30s});
  supervisor.stop_all(true, now);
  EXPECT_EQ(processes.signals_to(processes.spawns[0].pid), std::vector<int>{SIGTERM});
  advance(1s);
  supervisor.stop_all(false, now);
  EXPECT_EQ(processes.signals_to(processes.spawns[0].pid), (std::vector<int>{SIGTERM, SIGQUIT}));
  advance(Supervisor::kill_grace);
  EXPECT_EQ(processes.signals_to(processes.spawns[0].pid),
            (std::vector<int>{SIGTERM, SIGQUIT, SIGKILL}));
  supervisor.on_exit(processes.spawns[0].pid, killed_by(SIGKILL), now);
  supervisor.on_exit(processes.spawns[1].pid, killed_by(SIGKILL), now);
  advance(2s);
  EXPECT_TRUE(supervisor.idle());
  EXPECT_EQ(processes.spawns.size(), 2u) << "nothing is respawned while stopping";
}

TEST_F(SupervisorTest, AChildThatIsNotAWorkerIsNotOurs) {
  serving(1);
  EXPECT_FALSE(supervisor.on_exit(4242, exited(0), now));
}

TEST_F(SupervisorTest, SlotsOfAnotherLiveArbiterAreNeverTaken) {
  // A binary upgrade: two arbiters share the segment.
  const int theirs = segment.claim_slot(::getppid());
  ASSERT_EQ(theirs, 0);
  serving(1);
  EXPECT_NE(processes.spawns[0].slot, 0u);
}

}  // namespace
}  // namespace hornbeam::arbiter
