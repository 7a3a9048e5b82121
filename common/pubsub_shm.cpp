#include "common/pubsub_shm.hpp"

#include "common/robust_mutex.hpp"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <stdexcept>

namespace hornbeam::shm {
namespace {

// A futex on memory that several processes map: not FUTEX_PRIVATE.
void futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t expected, int timeout_ms) {
  const timespec timeout{timeout_ms / 1000, (timeout_ms % 1000) * 1'000'000L};
  ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAIT, expected, &timeout,
            nullptr, 0);
}

void futex_wake_all(std::atomic<std::uint32_t>& word) {
  ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAKE, INT_MAX, nullptr,
            nullptr, 0);
}

constexpr std::size_t round_up(std::size_t value, std::size_t to) {
  return (value + to - 1) / to * to;
}

}  // namespace

std::uint64_t topic_hash(std::string_view topic) {
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  for (const char c : topic) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 0x100000001b3ULL;
  }
  return hash == 0 ? 1 : hash;
}

std::size_t TopicTable::live_entry(std::uint64_t hash) const {
  for (std::size_t probe = 0; probe < capacity; ++probe) {
    const std::size_t i = (hash + probe) % capacity;
    const auto seen = hashes[i].load(std::memory_order_acquire);
    if (seen == hash && counts[i].load(std::memory_order_acquire) > 0) return i;
    if (seen == 0) break;
  }
  return capacity;
}

std::uint32_t TopicTable::subscribers_of(std::uint64_t hash) const {
  if (const auto i = live_entry(hash); i < capacity) {
    const auto count = counts[i].load(std::memory_order_acquire);
    if (count > 0) return count;  // else unsubscribed since: what overflow says
  }
  return overflow.load(std::memory_order_acquire) > 0 ? 1 : 0;
}

void TopicTable::add(std::uint64_t hash) {
  if (const auto i = live_entry(hash); i < capacity) {
    counts[i].fetch_add(1, std::memory_order_release);
    return;
  }
  // The first entry on the hash's probe path that is free or no longer counts anything.
  std::size_t reusable = capacity;
  for (std::size_t probe = 0; probe < capacity && reusable == capacity; ++probe) {
    const std::size_t i = (hash + probe) % capacity;
    const auto seen = hashes[i].load(std::memory_order_relaxed);
    if (seen == 0 || counts[i].load(std::memory_order_relaxed) == 0) reusable = i;
  }
  if (reusable == capacity) {
    overflow.fetch_add(1, std::memory_order_release);
    return;
  }
  // The count goes first as 0 for the new hash: a publisher that reads the new hash reads
  // either 0 (not subscribed yet) or 1.
  counts[reusable].store(0, std::memory_order_relaxed);
  hashes[reusable].store(hash, std::memory_order_release);
  counts[reusable].store(1, std::memory_order_release);
}

void TopicTable::remove(std::uint64_t hash) {
  if (const auto i = live_entry(hash); i < capacity) {
    counts[i].fetch_sub(1, std::memory_order_release);
    return;
  }
  if (overflow.load(std::memory_order_relaxed) > 0)
    overflow.fetch_sub(1, std::memory_order_release);
}

void TopicTable::clear() {
  for (std::size_t i = 0; i < capacity; ++i) {
    counts[i].store(0, std::memory_order_relaxed);
    hashes[i].store(0, std::memory_order_relaxed);
  }
  overflow.store(0, std::memory_order_release);
}

void MessageRing::format(void* region, std::size_t size) {
  auto* ring = static_cast<MessageRing*>(region);
  init_robust_shared_mutex(&ring->writers);
  ring->capacity = (size - sizeof(MessageRing)) / 8 * 8;
  if (ring->capacity < 4 * max_message)
    throw std::invalid_argument("the pub/sub ring needs more than " + std::to_string(size) +
                                " bytes");
  ring->next_sequence = 0;
  ring->reserved.store(0);
  ring->published.store(0);
  ring->published_sequence.store(0);
  ring->wake.store(0);
  ring->sleepers.store(0);
}

void HostRing::copy_out(std::uint64_t position, void* to, std::size_t size) const {
  const std::size_t at = position % ring_->capacity;
  const std::size_t first = std::min(size, ring_->capacity - at);
  std::memcpy(to, ring_->bytes() + at, first);
  std::memcpy(static_cast<char*>(to) + first, ring_->bytes(), size - first);
}

void HostRing::copy_in(std::uint64_t position, const void* from, std::size_t size) {
  const std::size_t at = position % ring_->capacity;
  const std::size_t first = std::min(size, ring_->capacity - at);
  std::memcpy(ring_->bytes() + at, from, first);
  std::memcpy(ring_->bytes(), static_cast<const char*>(from) + first, size - first);
}

void HostRing::append(std::uint64_t hash, std::string_view topic, std::string_view payload) {
  if (topic.size() + payload.size() > MessageRing::max_message)
    throw std::length_error("a pub/sub message of more than 64 KiB");
  const std::size_t unpadded = sizeof(RecordHeader) + topic.size() + payload.size();
  const std::size_t length = round_up(unpadded + 1, 8);  // at least one byte of padding
  const auto padding = static_cast<unsigned char>(length - unpadded);
  if (const int locked = pthread_mutex_lock(&ring_->writers); locked == EOWNERDEAD) {
    // A publisher died while it wrote: its record was never published; the next one is
    // written where it began.
    ring_->reserved.store(ring_->published.load(std::memory_order_relaxed),
                          std::memory_order_release);
    pthread_mutex_consistent(&ring_->writers);
  }
  const std::uint64_t position = ring_->published.load(std::memory_order_relaxed);
  const std::uint64_t sequence = ring_->next_sequence++;
  ring_->reserved.store(position + length, std::memory_order_release);
  std::atomic_thread_fence(std::memory_order_seq_cst);  // readers see the claim first
  const RecordHeader header{static_cast<std::uint32_t>(length),
                            static_cast<std::uint32_t>(topic.size()), hash, sequence};
  copy_in(position, &header, sizeof header);
  copy_in(position + sizeof header, topic.data(), topic.size());
  copy_in(position + sizeof header + topic.size(), payload.data(), payload.size());
  const std::string tail(padding, static_cast<char>(padding));
  copy_in(position + unpadded, tail.data(), tail.size());
  ring_->published_sequence.store(sequence + 1, std::memory_order_release);
  ring_->published.store(position + length, std::memory_order_release);
  pthread_mutex_unlock(&ring_->writers);
  ring_->wake.fetch_add(1, std::memory_order_seq_cst);
  if (ring_->sleepers.load(std::memory_order_seq_cst) > 0) futex_wake_all(ring_->wake);
}

HostRing::Reader HostRing::reader_at_end() const {
  Reader reader;
  reader.next_sequence = ring_->published_sequence.load(std::memory_order_acquire);
  reader.position = ring_->published.load(std::memory_order_acquire);
  return reader;
}

void HostRing::wait(const Reader& reader, int timeout_ms) {
  const auto seen = ring_->wake.load(std::memory_order_seq_cst);
  ring_->sleepers.fetch_add(1, std::memory_order_seq_cst);
  if (ring_->published.load(std::memory_order_seq_cst) == reader.position)
    futex_wait(ring_->wake, seen, timeout_ms);
  ring_->sleepers.fetch_sub(1, std::memory_order_seq_cst);
}

void HostRing::wake_all() {
  ring_->wake.fetch_add(1, std::memory_order_seq_cst);
  futex_wake_all(ring_->wake);
}

}  // namespace hornbeam::shm
