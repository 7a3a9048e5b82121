#include "common/shared_segment.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <utility>

namespace hornbeam::shm {
namespace {

constexpr std::size_t page = 4096;
// The host's pub/sub ring: 16 of the largest messages, thousands of small ones.
constexpr std::size_t pubsub_ring_size = 1024 * 1024;

std::size_t round_up(std::size_t value, std::size_t to) { return (value + to - 1) / to * to; }

std::runtime_error system_error(const std::string& what) {
  return std::runtime_error(what + ": " + std::strerror(errno));
}

bool process_alive(std::int32_t pid) { return pid > 0 && (::kill(pid, 0) == 0 || errno == EPERM); }

}  // namespace

std::int64_t monotonic_ns() {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<std::int64_t>(now.tv_sec) * 1'000'000'000 + now.tv_nsec;
}

std::optional<OverdueRequest> WorkerSlot::overdue_request(std::int64_t now_ns,
                                                          std::int64_t default_limit_ns) const {
  std::optional<OverdueRequest> worst;
  const auto count = std::min<std::size_t>(contexts.load(std::memory_order_relaxed), max_contexts);
  for (std::size_t i = 0; i < count; ++i) {
    const auto since = busy_since_ns[i].load(std::memory_order_acquire);
    if (since == 0) continue;
    const auto own = time_limit_ns[i].load(std::memory_order_acquire);
    // A start that moved meanwhile (a new request, the end of a wait for the client that
    // moved it later) is judged at the next look: the limit read may go with the new one.
    if (busy_since_ns[i].load(std::memory_order_relaxed) != since) continue;
    const auto limit = own == 0 ? default_limit_ns : own;
    if (limit <= 0) continue;
    const auto running = now_ns - since;
    if (running > limit && (!worst || running - limit > worst->running_ns - worst->limit_ns)) {
      worst = OverdueRequest{running, limit};
    }
  }
  return worst;
}

WorkerSlot::JobContexts WorkerSlot::job_contexts() const {
  JobContexts jobs;
  jobs.total =
      std::min<std::size_t>(stats.job_contexts.load(std::memory_order_relaxed), max_contexts);
  for (std::size_t i = 0; i < jobs.total; ++i) {
    const auto since = busy_since_ns[i].load(std::memory_order_relaxed);
    if (since == 0) continue;
    ++jobs.busy;
    if (jobs.oldest_busy_since == 0 || since < jobs.oldest_busy_since)
      jobs.oldest_busy_since = since;
  }
  return jobs;
}

void WorkerStats::record_response(AppKind kind, int status, std::chrono::microseconds duration) {
  const int status_class = status >= 100 && status < 600 ? status / 100 : 0;
  bump(responses[kind][status_class]);
  const double seconds = static_cast<double>(duration.count()) / 1e6;
  std::size_t bucket = 0;
  while (bucket < duration_bounds.size() && seconds > duration_bounds[bucket]) ++bucket;
  bump(duration_buckets[bucket]);
  duration_sum_us.store(duration_sum_us.load(std::memory_order_relaxed) +
                            static_cast<std::uint64_t>(duration.count()),
                        std::memory_order_relaxed);
}

void WorkerStats::clear() {
  for (auto& kind : responses) {
    for (auto& counter : kind) counter.store(0, std::memory_order_relaxed);
  }
  for (auto& counter : duration_buckets) counter.store(0, std::memory_order_relaxed);
  duration_sum_us.store(0, std::memory_order_relaxed);
  connections_accepted.store(0, std::memory_order_relaxed);
  tls_handshake_failures.store(0, std::memory_order_relaxed);
  gil_wait_us.store(0, std::memory_order_relaxed);
  in_flight.store(0, std::memory_order_relaxed);
  connections_open.store(0, std::memory_order_relaxed);
  websockets_open.store(0, std::memory_order_relaxed);
  job_contexts.store(0, std::memory_order_relaxed);
}

void WorkerSlot::set_boot_error(std::string_view text) {
  // Keep the end: a traceback's last line says what went wrong.
  if (text.size() >= boot_error_size) text = text.substr(text.size() - (boot_error_size - 1));
  std::memcpy(boot_error, text.data(), text.size());
  boot_error[text.size()] = '\0';
}

std::string WorkerSlot::boot_error_text() const {
  return std::string(boot_error, strnlen(boot_error, boot_error_size));
}

void WorkerSlot::reset(std::int32_t worker_pid, std::uint64_t worker_generation) {
  pid.store(worker_pid, std::memory_order_relaxed);
  generation.store(worker_generation, std::memory_order_relaxed);
  contexts.store(0, std::memory_order_relaxed);
  heartbeat_ns.store(monotonic_ns(), std::memory_order_relaxed);
  requests.store(0, std::memory_order_relaxed);
  max_requests.store(0, std::memory_order_relaxed);
  boot_error[0] = '\0';
  for (auto& since : busy_since_ns) since.store(0, std::memory_order_relaxed);
  for (auto& limit : time_limit_ns) limit.store(0, std::memory_order_relaxed);
  stats.clear();
  topics.clear();
  pubsub_lost.store(0, std::memory_order_relaxed);
  set_state(SlotState::booting);
}

Segment Segment::create(std::uint32_t slot_count, std::size_t state_size) {
  const std::size_t stride = round_up(sizeof(WorkerSlot), 64);
  const std::size_t slots_offset = round_up(sizeof(SegmentHeader), page);
  const std::size_t state_offset = round_up(slots_offset + stride * slot_count, page);
  state_size = round_up(state_size, page);
  const std::size_t pubsub_offset = state_offset + state_size;
  const std::size_t size = pubsub_offset + pubsub_ring_size;
  UniqueFd fd(::memfd_create("hornbeam-shm", MFD_CLOEXEC));
  if (!fd) throw system_error("cannot create the shared-memory segment");
  ::fchmod(fd.get(), 0600);
  // A memfd is sparse: pages of unused slots are never allocated.
  if (::ftruncate(fd.get(), static_cast<off_t>(size)) != 0)
    throw system_error("cannot size the shared-memory segment");
  void* base = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
  if (base == MAP_FAILED) throw system_error("cannot map the shared-memory segment");
  auto* header = static_cast<SegmentHeader*>(base);
  header->magic = segment_magic;
  header->version = layout_version;
  header->size = size;
  header->slot_count = slot_count;
  header->slots_offset = slots_offset;
  header->slot_stride = stride;
  header->state_offset = state_offset;
  header->state_size = state_size;
  header->pubsub_offset = pubsub_offset;
  header->pubsub_size = pubsub_ring_size;
  StateStore::format(static_cast<char*>(base) + state_offset, state_size);
  MessageRing::format(static_cast<char*>(base) + pubsub_offset, pubsub_ring_size);
  return Segment(std::move(fd), base, size);
}

Segment Segment::attach(int raw_fd) {
  UniqueFd fd(::fcntl(raw_fd, F_DUPFD_CLOEXEC, 0));
  if (!fd) throw system_error("shared-memory fd " + std::to_string(raw_fd) + " is not open");
  struct stat status {};
  if (::fstat(fd.get(), &status) != 0 ||
      static_cast<std::size_t>(status.st_size) < sizeof(SegmentHeader)) {
    throw std::runtime_error("fd " + std::to_string(raw_fd) +
                             " is not a hornbeam shared-memory segment");
  }
  const auto size = static_cast<std::size_t>(status.st_size);
  void* base = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
  if (base == MAP_FAILED) throw system_error("cannot map the shared-memory segment");
  Segment segment(std::move(fd), base, size);
  const auto* header = segment.header();
  if (header->magic != segment_magic || header->version != layout_version || header->size != size ||
      header->slot_stride < sizeof(WorkerSlot) ||
      header->state_offset + header->state_size > size ||
      header->pubsub_offset + header->pubsub_size > size) {
    throw std::runtime_error(
        "fd " + std::to_string(raw_fd) + " holds a segment of another layout (version " +
        std::to_string(header->version) + ", expected " + std::to_string(layout_version) + ")");
  }
  return segment;
}

Segment::Segment(Segment&& other) noexcept
    : fd_(std::move(other.fd_)),
      base_(std::exchange(other.base_, nullptr)),
      size_(std::exchange(other.size_, 0)) {}

Segment& Segment::operator=(Segment&& other) noexcept {
  if (this != &other) {
    if (base_) ::munmap(base_, size_);
    fd_ = std::move(other.fd_);
    base_ = std::exchange(other.base_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

Segment::~Segment() {
  if (base_) ::munmap(base_, size_);
}

WorkerSlot& Segment::slot(std::uint32_t index) const {
  const auto* h = header();
  if (index >= h->slot_count)
    throw std::out_of_range("slot " + std::to_string(index) + " is not in the segment");
  return *reinterpret_cast<WorkerSlot*>(static_cast<char*>(base_) + h->slots_offset +
                                        h->slot_stride * index);
}

int Segment::claim_slot(std::int32_t owner) const {
  for (std::uint32_t index = 0; index < slot_count(); ++index) {
    auto& candidate = slot(index);
    std::int32_t current = candidate.owner.load(std::memory_order_acquire);
    if (current != 0 && current != owner && !process_alive(current)) {
      // An arbiter that died without releasing (SIGKILL): take its slot back.
      candidate.owner.compare_exchange_strong(current, 0);
      current = candidate.owner.load(std::memory_order_acquire);
    }
    std::int32_t expected = 0;
    if (current == 0 && candidate.owner.compare_exchange_strong(expected, owner)) {
      return static_cast<int>(index);
    }
  }
  return -1;
}

void Segment::release_slot(std::uint32_t index) const {
  auto& released = slot(index);
  released.set_state(SlotState::free);
  released.pid.store(0, std::memory_order_relaxed);
  released.owner.store(0, std::memory_order_release);
}

StateStore Segment::state() const {
  const auto* h = header();
  return StateStore(static_cast<char*>(base_) + h->state_offset, h->state_size);
}

MessageRing* Segment::pubsub_ring() const {
  return reinterpret_cast<MessageRing*>(static_cast<char*>(base_) + header()->pubsub_offset);
}

}  // namespace hornbeam::shm
