#pragma once

// Pub/sub between the workers of one host, in the arbiter's shared-memory segment
// (docs/pubsub.md):
// - TopicTable, one per worker slot: the topics its subscribers listen to (by hash), with
//   their counts. Publishers read every live worker's table: a topic nobody subscribes to
//   costs a few loads and no write, no wake-up.
// - MessageRing, one per host: the messages, in order. Publishers append under a robust
//   process-shared mutex and never wait for readers; each worker that subscribes reads all
//   of it from its own position, and one lapped by the writers (a slow worker) skips ahead
//   and counts what it lost. A futex word wakes the readers that sleep.

#include <pthread.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace hornbeam::shm {

// FNV-1a of the topic's bytes; never 0 (0 marks an unused table entry).
std::uint64_t topic_hash(std::string_view topic);

struct TopicTable {
  static constexpr std::size_t capacity = 256;
  std::atomic<std::uint64_t> hashes[capacity];  // 0: never used
  std::atomic<std::uint32_t> counts[capacity];
  // Subscriptions to topics that found no entry: publishers then count every topic as
  // subscribed once (the worker filters), so a full table costs wake-ups, never messages.
  std::atomic<std::uint32_t> overflow;

  // Publishers: how many of the worker's subscriptions `hash` reaches (1 when it may, past
  // the table's capacity).
  std::uint32_t subscribers_of(std::uint64_t hash) const;
  // The worker (one thread at a time).
  void add(std::uint64_t hash);
  void remove(std::uint64_t hash);
  void clear();

 private:
  // The entry that counts subscriptions to `hash` (count above 0), or `capacity`.
  std::size_t live_entry(std::uint64_t hash) const;
};

// The header of the host's ring; its bytes follow it in the segment.
struct MessageRing {
  pthread_mutex_t writers;
  std::uint64_t capacity;                         // bytes of the ring
  std::uint64_t next_sequence;                    // under `writers`
  std::atomic<std::uint64_t> reserved;            // bytes ever claimed by writers
  std::atomic<std::uint64_t> published;           // bytes ever published: whole records up to here
  std::atomic<std::uint64_t> published_sequence;  // the sequence number of the next record
  std::atomic<std::uint32_t> wake;                // futex word: bumped by every publish
  std::atomic<std::uint32_t> sleepers;            // readers in (or about to be in) a futex wait

  static constexpr std::size_t max_message = 64 * 1024;  // topic and payload

  static void format(void* region, std::size_t size);
  char* bytes() { return reinterpret_cast<char*>(this + 1); }
  const char* bytes() const { return reinterpret_cast<const char*>(this + 1); }
};

struct RingMessage {
  std::uint64_t hash = 0;
  std::string topic;
  std::string payload;
};

// A view on the ring for publishers and for one reader.
class HostRing {
 public:
  explicit HostRing(MessageRing* ring) : ring_(ring) {}

  // Appends one message (topic + payload at most max_message bytes: std::length_error past
  // that), then wakes the readers that sleep. Never waits for a reader.
  void append(std::uint64_t hash, std::string_view topic, std::string_view payload);

  // The reader's side: from `position`, the messages published since whose hash `wanted`
  // says yes to; `lost` grows by the messages overwritten before this reader got to them.
  struct Reader {
    std::uint64_t position = 0;
    std::uint64_t next_sequence = 0;
  };
  Reader reader_at_end() const;
  template <class Wanted>
  void read(Reader& reader, Wanted&& wanted, std::vector<RingMessage>& out, std::uint64_t& lost);
  // Sleeps until something is published after `reader`'s position, or `timeout_ms` passes.
  void wait(const Reader& reader, int timeout_ms);
  // Wakes every sleeping reader (to stop one).
  void wake_all();

 private:
  struct RecordHeader {
    std::uint32_t length;  // the whole record, 8-byte aligned
    std::uint32_t topic_size;
    std::uint64_t hash;
    std::uint64_t sequence;
  };
  void copy_out(std::uint64_t position, void* to, std::size_t size) const;
  void copy_in(std::uint64_t position, const void* from, std::size_t size);
  bool overwritten(std::uint64_t position) const {
    return ring_->reserved.load(std::memory_order_acquire) > position + ring_->capacity;
  }

  MessageRing* ring_;
};

template <class Wanted>
void HostRing::read(Reader& reader, Wanted&& wanted, std::vector<RingMessage>& out,
                    std::uint64_t& lost) {
  const std::uint64_t end = ring_->published.load(std::memory_order_acquire);
  while (reader.position < end) {
    RecordHeader header;
    copy_out(reader.position, &header, sizeof header);
    RingMessage message;
    const bool keep = !overwritten(reader.position) && wanted(header.hash);
    if (keep) {
      message.hash = header.hash;
      message.topic.resize(header.topic_size);
      copy_out(reader.position + sizeof header, message.topic.data(), header.topic_size);
      const std::size_t payload = header.length - sizeof header - header.topic_size;
      message.payload.resize(payload);
      copy_out(reader.position + sizeof header + header.topic_size, message.payload.data(),
               payload);
      // Stripped of the record's padding: the payload's true size is in its last byte.
      const auto padding = static_cast<unsigned char>(message.payload.back());
      message.payload.resize(payload - padding);
    }
    if (overwritten(reader.position)) {
      // Lapped: what was read may be torn. Start again after the newest whole record (a
      // count that may be a message or two high, if more came meanwhile).
      reader.position = ring_->published.load(std::memory_order_acquire);
      const std::uint64_t sequence = ring_->published_sequence.load(std::memory_order_acquire);
      lost += sequence - reader.next_sequence;
      reader.next_sequence = sequence;
      return;
    }
    if (keep) out.push_back(std::move(message));
    reader.position += header.length;
    reader.next_sequence = header.sequence + 1;
  }
}

}  // namespace hornbeam::shm
