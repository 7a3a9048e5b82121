#include "arbiter/metrics.hpp"

#include "arbiter/process_memory.hpp"

#include <unistd.h>

#include <cstdio>

namespace hornbeam::arbiter {
namespace {

const char* cause_name(ExitCause cause) {
  switch (cause) {
    case ExitCause::boot_failure: return "boot_failure";
    case ExitCause::crash: return "crash";
    case ExitCause::timeout: return "timeout";
    case ExitCause::max_requests: return "max_requests";
    case ExitCause::memory: return "memory";
    case ExitCause::lifetime: return "lifetime";
    case ExitCause::reload: return "reload";
    case ExitCause::scale_down: return "scale_down";
    case ExitCause::shutdown: return "shutdown";
  }
  return "unknown";
}

constexpr std::array<ExitCause, 9> all_causes = {
    ExitCause::boot_failure, ExitCause::crash,      ExitCause::timeout,
    ExitCause::max_requests, ExitCause::memory,     ExitCause::lifetime,
    ExitCause::reload,       ExitCause::scale_down, ExitCause::shutdown};

const char* state_name(shm::SlotState state) {
  switch (state) {
    case shm::SlotState::booting: return "booting";
    case shm::SlotState::ready: return "ready";
    case shm::SlotState::retiring: return "retiring";
    case shm::SlotState::draining: return "draining";
    case shm::SlotState::free: break;
  }
  return "free";
}

// A label value as the exposition format wants it: \, " and newline escaped.
std::string label(std::string_view value) {
  std::string out;
  for (const char c : value) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

std::string number(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.15g", value);
  return text;
}

class Exposition {
 public:
  void family(const char* name, const char* type, const char* help) {
    text_ += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
  }
  void sample(const std::string& name, const std::string& labels, double value) {
    text_ += name;
    if (!labels.empty()) text_ += "{" + labels + "}";
    text_ += " " + number(value) + "\n";
  }
  std::string take() { return std::move(text_); }

 private:
  std::string text_;
};

}  // namespace

Metrics::Metrics(const shm::Segment& segment, std::int32_t owner_pid, BuildInfo build)
    : segment_(segment), owner_(owner_pid), build_(std::move(build)) {}

void Metrics::add_counters(Totals& totals, const shm::WorkerStats& stats) {
  for (std::size_t kind = 0; kind < totals.responses.size(); ++kind) {
    for (std::size_t i = 0; i < totals.responses[kind].size(); ++i)
      totals.responses[kind][i] += stats.responses[kind][i].load(std::memory_order_relaxed);
  }
  for (std::size_t i = 0; i < totals.duration_buckets.size(); ++i)
    totals.duration_buckets[i] += stats.duration_buckets[i].load(std::memory_order_relaxed);
  totals.duration_sum_us += stats.duration_sum_us.load(std::memory_order_relaxed);
  totals.connections_accepted += stats.connections_accepted.load(std::memory_order_relaxed);
  totals.tls_handshake_failures += stats.tls_handshake_failures.load(std::memory_order_relaxed);
  totals.gil_wait_us += stats.gil_wait_us.load(std::memory_order_relaxed);
}

void Metrics::worker_spawned() {
  std::lock_guard lock(mutex_);
  ++spawns_;
}

void Metrics::worker_exited(std::uint32_t slot, ExitCause cause) {
  std::lock_guard lock(mutex_);
  auto& stats = segment_.slot(slot).stats;
  add_counters(retired_, stats);
  stats.clear();
  ++exits_[cause];
}

void Metrics::generation_started(std::uint64_t generation) {
  std::lock_guard lock(mutex_);
  generation_ = generation;
}

void Metrics::reloaded(bool ok) {
  std::lock_guard lock(mutex_);
  ++(ok ? reloads_ : failed_reloads_);
}

void Metrics::set_ready_workers(int ready) {
  std::lock_guard lock(mutex_);
  ready_workers_ = ready;
}

void Metrics::set_stopping(std::string why) {
  std::lock_guard lock(mutex_);
  if (stopping_.empty()) stopping_ = std::move(why);
}

Metrics::Readiness Metrics::readiness() const {
  std::lock_guard lock(mutex_);
  if (!stopping_.empty()) return {false, "stopping (" + stopping_ + ")"};
  if (ready_workers_ == 0) return {false, "no worker is ready"};
  return {true, std::to_string(ready_workers_) + " worker(s) ready"};
}

std::string Metrics::render() const {
  std::lock_guard lock(mutex_);
  Totals totals = retired_;
  std::int64_t in_flight = 0;
  std::int64_t connections_open = 0;
  std::int64_t websockets_open = 0;
  std::int64_t contexts_busy = 0;
  std::int64_t contexts_total = 0;
  std::map<std::string, int> workers_by_state;
  std::vector<std::pair<std::uint32_t, std::uint64_t>> rss;  // slot, bytes
  for (std::uint32_t index = 0; index < segment_.slot_count(); ++index) {
    const auto& slot = segment_.slot(index);
    if (slot.owner.load(std::memory_order_relaxed) != owner_) continue;
    const auto state = slot.current_state();
    const pid_t pid = slot.pid.load(std::memory_order_relaxed);
    if (state == shm::SlotState::free || pid <= 0) continue;
    const auto& stats = slot.stats;
    add_counters(totals, stats);
    in_flight += stats.in_flight.load(std::memory_order_relaxed);
    connections_open += stats.connections_open.load(std::memory_order_relaxed);
    websockets_open += stats.websockets_open.load(std::memory_order_relaxed);
    const auto jobs = slot.job_contexts();
    contexts_total += static_cast<std::int64_t>(jobs.total);
    contexts_busy += static_cast<std::int64_t>(jobs.busy);
    ++workers_by_state[state_name(state)];
    rss.emplace_back(index, resident_memory_of(pid).value_or(0));
  }

  Exposition out;
  out.family("hornbeam_build_info", "gauge", "The build: version, embedded Python, context mode.");
  out.sample("hornbeam_build_info",
             "version=\"" + label(build_.version) + "\",python=\"" + label(build_.python) +
                 "\",context_mode=\"" + label(build_.context_mode) + "\"",
             1);
  out.family("hornbeam_requests_total", "counter",
             "Responses sent (refusals by the server included), by status class and the kind "
             "of app that answered.");
  static const char* const classes[] = {"other", "1xx", "2xx", "3xx", "4xx", "5xx"};
  static const char* const kinds[] = {"wsgi", "asgi"};
  for (std::size_t kind = 0; kind < totals.responses.size(); ++kind) {
    for (std::size_t i = 0; i < totals.responses[kind].size(); ++i) {
      out.sample(
          "hornbeam_requests_total",
          std::string("status_class=\"") + classes[i] + "\",worker_class=\"" + kinds[kind] + "\"",
          static_cast<double>(totals.responses[kind][i]));
    }
  }
  out.family("hornbeam_request_duration_seconds", "histogram",
             "Time from a request's head to its response's end.");
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < totals.duration_buckets.size(); ++i) {
    cumulative += totals.duration_buckets[i];
    const std::string le = i < shm::WorkerStats::duration_bounds.size()
                               ? number(shm::WorkerStats::duration_bounds[i])
                               : std::string("+Inf");
    out.sample("hornbeam_request_duration_seconds_bucket", "le=\"" + le + "\"",
               static_cast<double>(cumulative));
  }
  out.sample("hornbeam_request_duration_seconds_sum", "",
             static_cast<double>(totals.duration_sum_us) / 1e6);
  out.sample("hornbeam_request_duration_seconds_count", "", static_cast<double>(cumulative));
  out.family("hornbeam_requests_in_flight", "gauge",
             "Requests handed to the app whose response is not complete.");
  out.sample("hornbeam_requests_in_flight", "", static_cast<double>(in_flight));
  out.family("hornbeam_contexts", "gauge",
             "Contexts that run one request at a time (WSGI), busy or idle.");
  out.sample("hornbeam_contexts", "state=\"busy\"", static_cast<double>(contexts_busy));
  out.sample("hornbeam_contexts", "state=\"idle\"",
             static_cast<double>(contexts_total - contexts_busy));
  out.family("hornbeam_gil_wait_seconds_total", "counter",
             "Time WSGI contexts waited for the GIL before running a request (contexts of one "
             "interpreter queue for it; own-GIL contexts do not).");
  out.sample("hornbeam_gil_wait_seconds_total", "", static_cast<double>(totals.gil_wait_us) / 1e6);
  out.family("hornbeam_connections_open", "gauge", "Client connections open.");
  out.sample("hornbeam_connections_open", "", static_cast<double>(connections_open));
  out.family("hornbeam_connections_accepted_total", "counter", "Client connections accepted.");
  out.sample("hornbeam_connections_accepted_total", "",
             static_cast<double>(totals.connections_accepted));
  out.family("hornbeam_tls_handshake_failures_total", "counter",
             "TLS connections dropped before their handshake ended: failed, or not done within "
             "tls.handshake_timeout.");
  out.sample("hornbeam_tls_handshake_failures_total", "",
             static_cast<double>(totals.tls_handshake_failures));
  out.family("hornbeam_websockets_open", "gauge", "WebSocket connections open.");
  out.sample("hornbeam_websockets_open", "", static_cast<double>(websockets_open));
  out.family("hornbeam_workers", "gauge", "Worker processes, by state.");
  for (const char* state : {"booting", "ready", "retiring", "draining"}) {
    out.sample("hornbeam_workers", std::string("state=\"") + state + "\"",
               workers_by_state.count(state) ? workers_by_state.at(state) : 0);
  }
  out.family("hornbeam_worker_rss_bytes", "gauge", "Resident memory of each worker.");
  for (const auto& [slot, bytes] : rss) {
    out.sample("hornbeam_worker_rss_bytes", "slot=\"" + std::to_string(slot) + "\"",
               static_cast<double>(bytes));
  }
  out.family("hornbeam_worker_spawns_total", "counter", "Worker processes started.");
  out.sample("hornbeam_worker_spawns_total", "", static_cast<double>(spawns_));
  out.family("hornbeam_worker_exits_total", "counter", "Worker processes that ended, by cause.");
  for (const auto cause : all_causes) {
    out.sample("hornbeam_worker_exits_total", std::string("cause=\"") + cause_name(cause) + "\"",
               exits_.count(cause) ? static_cast<double>(exits_.at(cause)) : 0);
  }
  out.family("hornbeam_generation", "gauge", "The current generation (1, then +1 per reload).");
  out.sample("hornbeam_generation", "", static_cast<double>(generation_));
  out.family("hornbeam_reloads_total", "counter", "Reloads (HUP) by outcome.");
  out.sample("hornbeam_reloads_total", "outcome=\"ok\"", static_cast<double>(reloads_));
  out.sample("hornbeam_reloads_total", "outcome=\"failed\"", static_cast<double>(failed_reloads_));
  const auto store = segment_.state();
  const auto usage = store.usage();
  out.family("hornbeam_shared_state_bytes", "gauge", "The shared state's room and use.");
  out.sample("hornbeam_shared_state_bytes", "kind=\"capacity\"",
             static_cast<double>(usage.capacity));
  out.sample("hornbeam_shared_state_bytes", "kind=\"used\"", static_cast<double>(usage.used));
  out.family("hornbeam_shared_state_entries", "gauge", "Keys in the shared state.");
  out.sample("hornbeam_shared_state_entries", "", static_cast<double>(usage.entries));
  out.family("hornbeam_shared_state_recoveries_total", "counter",
             "Times the shared state was repaired after a worker died holding its lock.");
  out.sample("hornbeam_shared_state_recoveries_total", "", static_cast<double>(store.recoveries()));
  return out.take();
}

}  // namespace hornbeam::arbiter
