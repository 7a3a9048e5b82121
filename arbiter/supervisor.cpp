#include "arbiter/supervisor.hpp"

#include "arbiter/metrics.hpp"
#include "arbiter/wait_status.hpp"
#include "common/logging.hpp"

#include <spdlog/logger.h>

#include <signal.h>

#include <algorithm>

namespace hornbeam::arbiter {
namespace {

std::int64_t nanoseconds(TimePoint time) {
  // steady_clock is CLOCK_MONOTONIC, the clock the workers write their heartbeats with.
  return std::chrono::duration_cast<std::chrono::nanoseconds>(time.time_since_epoch()).count();
}

double seconds(std::int64_t ns) { return static_cast<double>(ns) / 1e9; }
double seconds(Duration duration) { return static_cast<double>(duration.count()) / 1e3; }
double mebibytes(std::uint64_t bytes) { return static_cast<double>(bytes) / (1024.0 * 1024.0); }

ExitCause exit_cause(RetireCause retired) {
  switch (retired) {
    case RetireCause::max_requests: return ExitCause::max_requests;
    case RetireCause::memory: return ExitCause::memory;
    case RetireCause::lifetime: return ExitCause::lifetime;
    case RetireCause::none: break;
  }
  return ExitCause::scale_down;
}

std::string last_line(const std::string& text) {
  auto end = text.find_last_not_of("\r\n ");
  if (end == std::string::npos) return {};
  const auto start = text.rfind('\n', end);
  return text.substr(start == std::string::npos ? 0 : start + 1,
                     end + 1 - (start == std::string::npos ? 0 : start + 1));
}

}  // namespace

Supervisor::Supervisor(Processes& processes, const shm::Segment& segment, std::int32_t owner_pid)
    : processes_(processes), segment_(segment), owner_(owner_pid) {}

void Supervisor::start_generation(std::uint64_t generation, const GenerationSettings& settings) {
  // The generation to go back to if this one cannot boot: the last one that was complete.
  if (current_.generation != 0 && current_.announced_ready) previous_ = current_;
  current_ = Generation{generation, settings, false};
  stopping_ = false;
  boot_failures_in_a_row_ = 0;
}

void Supervisor::set_target(int workers) { current_.settings.workers = std::max(workers, 0); }

int Supervisor::max_workers() const { return static_cast<int>(segment_.slot_count() / 2); }

int Supervisor::ready_in_current() const {
  return static_cast<int>(
      std::count_if(workers_.begin(), workers_.end(), [&](const WorkerRecord& w) {
        return w.generation == current_.generation && w.phase == Phase::ready;
      }));
}

int Supervisor::ready_count() const {
  return static_cast<int>(
      std::count_if(workers_.begin(), workers_.end(),
                    [](const WorkerRecord& w) { return w.phase == Phase::ready; }));
}

std::vector<SupervisorEvent> Supervisor::take_events() { return std::exchange(events_, {}); }

void Supervisor::tick(TimePoint now) {
  for (auto& worker : workers_) {
    observe(worker, now);
    check_deadlines(worker, now);
    check_recycling(worker, now);
  }
  if (stopping_) return;
  finish_generation_switch(now);
  reconcile(now);
}

std::string Supervisor::name(const WorkerRecord& worker) const {
  return "worker " + std::to_string(worker.slot) + " (pid " + std::to_string(worker.pid) +
         ", generation " + std::to_string(worker.generation) + ")";
}

void Supervisor::note_readiness(WorkerRecord& worker, shm::SlotState state) {
  if (worker.phase != Phase::booting ||
      (state != shm::SlotState::ready && state != shm::SlotState::retiring &&
       state != shm::SlotState::draining)) {
    return;
  }
  worker.phase = Phase::ready;
  worker.was_ready = true;
  if (worker.generation == current_.generation) boot_failures_in_a_row_ = 0;
  crash_streaks_.erase(worker.slot);
  logging::error_log().info("{} ready", name(worker));
}

void Supervisor::observe(WorkerRecord& worker, TimePoint now) {
  const auto& slot = segment_.slot(worker.slot);
  const auto state = slot.current_state();
  note_readiness(worker, state);
  if (worker.phase == Phase::ready && state == shm::SlotState::retiring) {
    worker.phase = Phase::retiring;
    worker.retire_cause = RetireCause::max_requests;
    logging::error_log().info("{} reached max_requests ({}): starting its replacement",
                              name(worker), slot.max_requests.load(std::memory_order_relaxed));
  }

  // `timeout` is the boot deadline, the heartbeat deadline and the default time limit of a
  // request; a mount's own `timeout` (written by the worker per request) replaces the last.
  const auto timeout = worker.settings.timeout;
  const auto limit = std::chrono::duration_cast<std::chrono::nanoseconds>(timeout).count();
  if (worker.phase == Phase::booting) {
    if (timeout.count() <= 0) return;
    const auto boot_limit = std::max(timeout, min_boot_timeout);
    if (now - worker.spawned > boot_limit) {
      logging::error_log().error("{} did not boot within {:.0f}s: killing it", name(worker),
                                 seconds(boot_limit));
      worker.timed_out = true;
      kill_hard(worker, now);
    }
    return;
  }
  if (worker.phase != Phase::ready && worker.phase != Phase::retiring) return;
  const auto silent = nanoseconds(now) - slot.heartbeat_ns.load(std::memory_order_relaxed);
  if (const auto overdue = slot.overdue_request(nanoseconds(now), limit)) {
    logging::error_log().error(
        "{} has been running a request for {:.1f}s (timeout {:.1f}s): replacing it", name(worker),
        seconds(overdue->running_ns), seconds(overdue->limit_ns));
  } else if (limit > 0 && silent > limit) {
    logging::error_log().error("{} sent no heartbeat for {:.1f}s (timeout {:.1f}s): replacing it",
                               name(worker), seconds(silent), seconds(timeout));
  } else {
    return;
  }
  worker.timed_out = true;
  // ABRT: the worker logs its tracebacks and answers 504 to the stuck requests, then exits.
  stop(worker, SIGABRT, kill_grace, now);
}

void Supervisor::check_deadlines(WorkerRecord& worker, TimePoint now) {
  if ((worker.phase == Phase::stopping || worker.phase == Phase::killing) && !worker.kill_sent &&
      now >= worker.deadline) {
    logging::error_log().warn("{} did not exit in time: SIGKILL", name(worker));
    kill_hard(worker, now);
  }
}

void Supervisor::check_recycling(WorkerRecord& worker, TimePoint now) {
  if (stopping_ || (worker.phase != Phase::ready && worker.phase != Phase::retiring)) return;
  const auto limit = worker.settings.max_memory;
  if (limit > 0 && worker.generation != memory_limit_too_low_in_ &&
      now - worker.memory_checked >= memory_check_period) {
    const bool first_look = worker.memory_checked == TimePoint{};
    worker.memory_checked = now;
    const auto resident = processes_.resident_memory(worker.pid).value_or(0);
    if (resident > limit && first_look) {
      // Over the limit as soon as it is ready: its replacement would be too, and replacing
      // (or killing) would only churn.
      memory_limit_too_low_in_ = worker.generation;
      logging::error_log().error(
          "{} uses {:.1f} MiB as soon as it is ready, above max_worker_memory ({:.1f} MiB): the "
          "limit is below what the app needs to run; recycling by memory is off for generation "
          "{} (raise the limit and reload)",
          name(worker), mebibytes(resident), mebibytes(limit), worker.generation);
      return;
    }
    if (worker.phase == Phase::retiring && resident > 2 * limit) {
      logging::error_log().error(
          "{} uses {:.1f} MiB, past twice max_worker_memory ({:.1f} MiB) before its "
          "replacement was ready: killing it",
          name(worker), mebibytes(resident), mebibytes(limit));
      worker.retire_cause = RetireCause::memory;
      kill_hard(worker, now);
      return;
    }
    if (worker.phase == Phase::ready && resident > limit) {
      logging::error_log().warn(
          "{} uses {:.1f} MiB, above max_worker_memory ({:.1f} MiB): starting its replacement",
          name(worker), mebibytes(resident), mebibytes(limit));
      retire(worker, RetireCause::memory);
      // Checked again a second from now: past twice the limit then, it does not wait.
      return;
    }
  }
  // By age, one worker at a time: the next goes once the last one's replacement is ready.
  if (worker.phase == Phase::ready && worker.lifetime.count() > 0 &&
      worker.generation == current_.generation && now - worker.spawned >= worker.lifetime &&
      !replacement_in_progress()) {
    logging::error_log().info("{} reached max_worker_lifetime ({:.1f}s): starting its replacement",
                              name(worker), seconds(worker.lifetime));
    retire(worker, RetireCause::lifetime);
  }
}

void Supervisor::retire(WorkerRecord& worker, RetireCause cause) {
  worker.phase = Phase::retiring;
  worker.retire_cause = cause;
  // What the metrics and hornbeamctl show; the worker itself serves on until its TERM.
  segment_.slot(worker.slot).set_state(shm::SlotState::retiring);
}

bool Supervisor::replacement_in_progress() const {
  return std::any_of(workers_.begin(), workers_.end(), [&](const WorkerRecord& w) {
    return w.generation == current_.generation &&
           (w.phase == Phase::retiring || w.phase == Phase::booting);
  });
}

void Supervisor::finish_generation_switch(TimePoint now) {
  const int target = current_.settings.workers;
  if (target == 0 || ready_in_current() < target) return;
  if (!current_.announced_ready) {
    current_.announced_ready = true;
    previous_.reset();
    events_.push_back({SupervisorEvent::Kind::generation_ready, current_.generation, {}});
  }
  // The new generation serves: older ones drain; so does a retiring worker, now replaced.
  for (auto& worker : workers_) {
    const bool serving = worker.phase == Phase::booting || worker.phase == Phase::ready ||
                         worker.phase == Phase::retiring;
    if (serving && (worker.generation != current_.generation || worker.phase == Phase::retiring)) {
      stop(worker, SIGTERM, worker.settings.graceful_timeout + stop_margin, now);
    }
  }
}

int Supervisor::active_in_current() const {
  return static_cast<int>(
      std::count_if(workers_.begin(), workers_.end(), [&](const WorkerRecord& w) {
        return w.generation == current_.generation &&
               (w.phase == Phase::booting || w.phase == Phase::ready);
      }));
}

void Supervisor::reconcile(TimePoint now) {
  const int target = current_.settings.workers;
  if (target == 0) {  // WINCH: no workers until the next HUP
    for (auto& worker : workers_) {
      if (worker.phase != Phase::stopping && worker.phase != Phase::killing) {
        stop(worker, SIGTERM, worker.settings.graceful_timeout + stop_margin, now);
      }
    }
  }
  int active = active_in_current();
  // Fewer wanted (TTOU): the newest go first, booting ones before ready ones.
  while (active > target) {
    WorkerRecord* newest = nullptr;
    for (auto& worker : workers_) {
      if (worker.generation != current_.generation) continue;
      if (worker.phase != Phase::booting && worker.phase != Phase::ready) continue;
      const auto rank = [](const WorkerRecord& w) {
        return std::make_pair(w.phase == Phase::booting, w.spawn_order);
      };
      if (!newest || rank(worker) > rank(*newest)) newest = &worker;
    }
    if (!newest) break;
    stop(*newest, SIGTERM, newest->settings.graceful_timeout + stop_margin, now);
    --active;
  }
  int missing = target - active;
  if (current_.settings.one_first && !current_.announced_ready && ready_in_current() == 0)
    missing = std::min(missing, 1 - active);
  // First the slots kept for crashed workers' replacements (each waits for its backoff).
  for (auto it = respawns_.begin(); it != respawns_.end();) {
    if (missing <= 0) {
      segment_.release_slot(it->first);
      it = respawns_.erase(it);
      continue;
    }
    --missing;
    if (now >= it->second.not_before) {
      const auto slot = it->first;
      it = respawns_.erase(it);
      spawn_in(slot, now);
    } else {
      ++it;
    }
  }
  for (; missing > 0; --missing) {
    const int slot = segment_.claim_slot(owner_);
    if (slot < 0) {
      if (!no_free_slot_logged_) {
        logging::error_log().error(
            "no free worker slot in the shared-memory segment ({} slots): cannot add workers",
            segment_.slot_count());
      }
      no_free_slot_logged_ = true;
      return;
    }
    no_free_slot_logged_ = false;
    spawn_in(static_cast<std::uint32_t>(slot), now);
  }
}

void Supervisor::spawn_in(std::uint32_t slot, TimePoint now) {
  segment_.slot(slot).reset(0, current_.generation);
  WorkerRecord worker;
  worker.slot = slot;
  worker.generation = current_.generation;
  worker.spawned = now;
  worker.spawn_order = ++spawns_;
  worker.settings = current_.settings;
  if (worker.settings.max_lifetime.count() > 0) {
    const auto jitter = worker.settings.lifetime_jitter.count();
    worker.lifetime =
        worker.settings.max_lifetime +
        Duration(jitter > 0 ? std::uniform_int_distribution<std::int64_t>(0, jitter)(jitter_random_)
                            : 0);
  }
  try {
    worker.pid = processes_.spawn(slot, current_.generation);
  } catch (const std::exception& e) {
    logging::error_log().error("cannot start worker {}: {}", slot, e.what());
    segment_.slot(slot).set_boot_error(e.what());
    boot_failed(worker, "could not be started", now);
    return;
  }
  segment_.slot(slot).pid.store(worker.pid, std::memory_order_relaxed);
  if (metrics_) metrics_->worker_spawned();
  logging::error_log().info("spawned {}", name(worker));
  workers_.push_back(worker);
}

void Supervisor::stop(WorkerRecord& worker, int signal, Duration grace, TimePoint now) {
  processes_.signal(worker.pid, signal);
  worker.phase = signal == SIGABRT ? Phase::killing : Phase::stopping;
  worker.deadline = now + grace;
}

void Supervisor::kill_hard(WorkerRecord& worker, TimePoint now) {
  processes_.signal(worker.pid, SIGKILL);
  worker.phase = Phase::killing;
  worker.kill_sent = true;
  worker.deadline = now;
}

bool Supervisor::on_exit(pid_t pid, int wait_status, TimePoint now) {
  const auto found = std::find_if(workers_.begin(), workers_.end(),
                                  [&](const WorkerRecord& w) { return w.pid == pid; });
  if (found == workers_.end()) return false;
  // The worker says it is ready in its slot before it accepts a connection, and its exit is
  // reaped before the slot is looked at again: one that crashed on its first request was past
  // its boot all the same. Taken for a boot failure, a request that crashes every worker
  // made the arbiter give up (or a reload go back) within seconds.
  note_readiness(*found, segment_.slot(found->slot).current_state());
  const WorkerRecord worker = *found;
  workers_.erase(found);
  // SIGKILL from us (a stop past its time, a boot or a request past `timeout`) is no mystery:
  // "perhaps out of memory?" would send the reader the wrong way.
  const bool our_kill =
      worker.kill_sent && WIFSIGNALED(wait_status) && WTERMSIG(wait_status) == SIGKILL;
  const std::string how =
      our_kill ? "was killed (SIGKILL from the arbiter)" : describe_wait_status(wait_status);
  const bool asked_to_stop =
      worker.phase == Phase::stopping || (worker.phase == Phase::killing && !worker.timed_out);
  if (metrics_) {
    ExitCause cause = ExitCause::crash;
    if (worker.timed_out) {
      cause = ExitCause::timeout;
    } else if (!worker.was_ready && !asked_to_stop) {
      cause = ExitCause::boot_failure;
    } else if (asked_to_stop) {
      cause = stopping_                                  ? ExitCause::shutdown
              : worker.generation != current_.generation ? ExitCause::reload
                                                         : exit_cause(worker.retire_cause);
    }
    metrics_->worker_exited(worker.slot, cause);
  }
  // The process is gone: a slot kept for its replacement names no worker meanwhile.
  segment_.slot(worker.slot).pid.store(0, std::memory_order_relaxed);
  if (!worker.was_ready && !asked_to_stop) {
    boot_failed(worker, how, now);
  } else if (asked_to_stop || worker.timed_out) {
    const bool clean = WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0;
    logging::error_log().info("{} {}", name(worker), clean ? "exited" : how);
    segment_.release_slot(worker.slot);
  } else {
    crashed(worker, how, now);
  }
  return true;
}

void Supervisor::boot_failed(const WorkerRecord& worker, const std::string& how, TimePoint now) {
  const std::string error = segment_.slot(worker.slot).boot_error_text();
  logging::error_log().error("{} failed to boot: it {}{}", name(worker), how,
                             error.empty() ? "" : ": " + last_line(error));
  if (worker.generation != current_.generation || stopping_) {
    segment_.release_slot(worker.slot);
    return;
  }
  if (previous_) {
    // A reload whose new workers cannot boot: the previous generation keeps serving.
    logging::error_log().error(
        "reload abandoned: generation {} cannot boot; generation {} keeps serving",
        current_.generation, previous_->generation);
    events_.push_back({SupervisorEvent::Kind::generation_failed, current_.generation,
                       error.empty() ? how : error});
    for (auto& other : workers_) {
      if (other.generation == current_.generation && other.phase != Phase::stopping &&
          other.phase != Phase::killing) {
        stop(other, SIGTERM, kill_grace, now);
      }
    }
    for (const auto& [slot, respawn] : respawns_) segment_.release_slot(slot);
    respawns_.clear();
    segment_.release_slot(worker.slot);
    current_ = *previous_;
    previous_.reset();
    boot_failures_in_a_row_ = 0;
    return;
  }
  if (++boot_failures_in_a_row_ >= boot_failures_to_give_up) {
    segment_.release_slot(worker.slot);
    events_.push_back({SupervisorEvent::Kind::gave_up, current_.generation,
                       "workers failed to boot " + std::to_string(boot_failures_in_a_row_) +
                           " times in a row; last error: " +
                           (error.empty() ? "the worker " + how : last_line(error))});
    return;
  }
  crashed(worker, {}, now);
}

Duration Supervisor::backoff(std::uint32_t slot) const {
  const auto streak = crash_streaks_.count(slot) ? crash_streaks_.at(slot) : 1;
  return std::min<Duration>(Duration(1000) * (1 << std::min(streak - 1, 5)), Duration(30'000));
}

void Supervisor::crashed(const WorkerRecord& worker, const std::string& how, TimePoint now) {
  if (!how.empty()) logging::error_log().error("{} {}", name(worker), how);
  if (worker.generation != current_.generation || stopping_) {
    segment_.release_slot(worker.slot);
    return;
  }
  ++crash_streaks_[worker.slot];
  // The replacement takes the same slot: at most one spawn per second per slot, then longer
  // while it keeps failing.
  respawns_[worker.slot] = Respawn{std::max(now, worker.spawned + backoff(worker.slot))};
}

void Supervisor::stop_all(bool graceful, TimePoint now) {
  stopping_ = true;
  for (const auto& [slot, respawn] : respawns_) segment_.release_slot(slot);
  respawns_.clear();
  for (auto& worker : workers_) {
    if (worker.kill_sent) continue;
    if (graceful) {
      if (worker.phase != Phase::stopping && worker.phase != Phase::killing) {
        stop(worker, SIGTERM, worker.settings.graceful_timeout + stop_margin, now);
      }
    } else {
      const bool already_stopping =
          worker.phase == Phase::stopping || worker.phase == Phase::killing;
      processes_.signal(worker.pid, SIGQUIT);
      worker.deadline =
          already_stopping ? std::min(worker.deadline, now + kill_grace) : now + kill_grace;
      if (worker.phase != Phase::killing) worker.phase = Phase::stopping;
    }
  }
}

bool Supervisor::time_out(std::uint32_t slot, TimePoint now) {
  for (auto& worker : workers_) {
    if (worker.slot != slot || (worker.phase != Phase::ready && worker.phase != Phase::retiring))
      continue;
    logging::error_log().error("{} is timed out on request (control socket): replacing it",
                               name(worker));
    worker.timed_out = true;
    stop(worker, SIGABRT, kill_grace, now);
    return true;
  }
  return false;
}

void Supervisor::signal_all(int signal) {
  for (const auto& worker : workers_) {
    if (!worker.kill_sent) processes_.signal(worker.pid, signal);
  }
}

}  // namespace hornbeam::arbiter
