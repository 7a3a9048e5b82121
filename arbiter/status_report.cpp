#include "arbiter/status_report.hpp"

#include "arbiter/process_memory.hpp"

#include <unistd.h>
#include <nlohmann/json.hpp>

namespace hornbeam::arbiter {
namespace {

const char* phase_name(Phase phase) {
  switch (phase) {
    case Phase::booting: return "booting";
    case Phase::ready: return "ready";
    case Phase::retiring: return "retiring";
    case Phase::stopping: return "stopping";
    case Phase::killing: return "killing";
  }
  return "unknown";
}

double seconds_between(TimePoint from, TimePoint to) {
  return std::chrono::duration<double>(to - from).count();
}

}  // namespace

nlohmann::json status_report(const Supervisor& supervisor, const shm::Segment& segment,
                             TimePoint now, TimePoint arbiter_started) {
  const auto now_ns = shm::monotonic_ns();
  nlohmann::json workers = nlohmann::json::array();
  for (const auto& worker : supervisor.workers()) {
    const auto& slot = segment.slot(worker.slot);
    const auto jobs = slot.job_contexts();
    const auto oldest = jobs.oldest_busy_since;
    workers.push_back({
        {"slot", worker.slot},
        {"pid", worker.pid},
        {"generation", worker.generation},
        {"state", phase_name(worker.phase)},
        {"requests", slot.requests.load(std::memory_order_relaxed)},
        {"contexts", slot.contexts.load(std::memory_order_relaxed)},
        {"busy_contexts", jobs.busy},
        // The age of the oldest request a WSGI context is running (null: none running).
        {"oldest_request_s",
         oldest ? nlohmann::json(static_cast<double>(now_ns - oldest) / 1e9) : nlohmann::json()},
        {"rss_bytes", resident_memory_of(worker.pid).value_or(0)},
        {"heartbeat_age_s",
         static_cast<double>(now_ns - slot.heartbeat_ns.load(std::memory_order_relaxed)) / 1e9},
        {"uptime_s", seconds_between(worker.spawned, now)},
    });
  }
  return {
      {"arbiter",
       {{"pid", ::getpid()},
        {"generation", supervisor.generation()},
        {"workers_target", supervisor.target()},
        {"stopping", supervisor.stopping()},
        {"uptime_s", seconds_between(arbiter_started, now)}}},
      {"workers", std::move(workers)},
  };
}

}  // namespace hornbeam::arbiter
