#include "worker/arbiter_link.hpp"

#include <unistd.h>

#include <stdexcept>

namespace hornbeam::worker {

void ArbiterLink::attach(const Placement& placement) {
  segment_.emplace(shm::Segment::attach(placement.shm_fd));
  // The worker keeps its own duplicate (attach made it); the inherited number is not needed.
  ::close(placement.shm_fd);
  slot_ = &segment_->slot(placement.slot);
  if (slot_->pid.load() != ::getpid() || slot_->generation.load() != placement.generation) {
    throw std::runtime_error("slot " + std::to_string(placement.slot) +
                             " of the shared-memory segment is not this worker's");
  }
}

bool ArbiterLink::arbiter_gone() const {
  // The slot's owner is the arbiter that claimed it and spawned this worker (after a USR2
  // upgrade, the new arbiter: its workers are its own children).
  return slot_ && ::getppid() != slot_->owner.load(std::memory_order_relaxed);
}

void ArbiterLink::set_max_requests(std::uint64_t limit) {
  max_requests_ = limit;
  if (slot_) slot_->max_requests.store(limit, std::memory_order_relaxed);
}

void ArbiterLink::ready(int contexts) {
  if (!slot_) return;
  slot_->contexts.store(static_cast<std::uint32_t>(contexts), std::memory_order_relaxed);
  heartbeat();
  slot_->set_state(shm::SlotState::ready);
}

void ArbiterLink::draining() {
  if (slot_) slot_->set_state(shm::SlotState::draining);
}

void ArbiterLink::heartbeat() {
  if (slot_) slot_->heartbeat_ns.store(shm::monotonic_ns(), std::memory_order_relaxed);
}

void ArbiterLink::boot_failed(std::string_view error) {
  if (slot_) slot_->set_boot_error(error);
}

void ArbiterLink::context_busy(int index, bool busy,
                               std::optional<std::chrono::milliseconds> time_limit) {
  if (!slot_ || index < 0 || static_cast<std::size_t>(index) >= shm::max_contexts) return;
  if (busy) {
    std::int64_t limit_ns = 0;  // the worker's `timeout`
    if (time_limit) {
      limit_ns = time_limit->count() > 0
                     ? std::chrono::duration_cast<std::chrono::nanoseconds>(*time_limit).count()
                     : -1;  // none
    }
    slot_->time_limit_ns[index].store(limit_ns, std::memory_order_relaxed);
  }
  // Release: the arbiter that sees this "busy since" sees the limit that goes with it.
  slot_->busy_since_ns[index].store(busy ? shm::monotonic_ns() : 0, std::memory_order_release);
}

void ArbiterLink::context_waits_for_client(int index, bool waiting) {
  if (!slot_ || index < 0 || static_cast<std::size_t>(index) >= shm::max_contexts) return;
  auto& wait = client_waits_[static_cast<std::size_t>(index)];
  auto& limit = slot_->time_limit_ns[index];
  if (waiting) {
    wait.began_ns = shm::monotonic_ns();
    wait.time_limit_ns = limit.load(std::memory_order_relaxed);
    limit.store(-1, std::memory_order_release);  // none while the client is waited for
    return;
  }
  // The later start first, then the limit back (release): an arbiter that reads the limit
  // back also reads the later start (WorkerSlot::overdue_request checks the start again).
  auto& since = slot_->busy_since_ns[index];
  const auto waited = shm::monotonic_ns() - wait.began_ns;
  since.store(since.load(std::memory_order_relaxed) + waited, std::memory_order_relaxed);
  limit.store(wait.time_limit_ns, std::memory_order_release);
}

bool ArbiterLink::count_request() {
  const auto done = requests_.fetch_add(1, std::memory_order_relaxed) + 1;
  if (slot_) slot_->requests.store(done, std::memory_order_relaxed);
  if (max_requests_ == 0 || done != max_requests_) return false;
  if (slot_) slot_->set_state(shm::SlotState::retiring);
  return true;
}

}  // namespace hornbeam::worker
