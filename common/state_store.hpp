#pragma once

// The shared application state: a key-value store laid out in a memory region that every
// worker maps (the arbiter's segment, or a worker's private mapping when it runs alone).
//
// One process-shared robust mutex guards it, and the layout is crash-consistent: a process
// killed at any instant, even holding the lock, leaves a store the next locker repairs.
// - An entry is written completely before one 8-byte store links it into its bucket chain;
//   replacing and deleting are one store too. So the index is always whole.
// - The heap is a chain of blocks whose sizes are changed by one store each (a split writes
//   the tail's size first). So the heap can always be walked.
// - Everything else (which blocks are free, the free lists, the counts) is derived: after a
//   crash (EOWNERDEAD) it is rebuilt from the index and the heap walk, and a block that no
//   chain reaches (a write that was not published yet, an old value not yet freed) is free.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>

namespace hornbeam::shm {

// How a value's bytes are to be read. Strings, bytes and numbers are stored natively, so that
// tools other than Python could read them; everything else is a pickle.
enum class ValueType : std::uint8_t {
  none = 0,
  boolean = 1,   // one byte, 0 or 1
  integer = 2,   // int64, native byte order
  floating = 3,  // double
  text = 4,      // UTF-8
  bytes = 5,
  pickle = 6,
};

struct StoreUsage {
  std::size_t capacity = 0;  // bytes for entries (the region minus the header and index)
  std::size_t used = 0;      // bytes held by entries, their headers included
  std::size_t entries = 0;
  std::size_t largest_free = 0;  // the biggest entry that would fit now
};

// No room for an entry, even after merging free space. The store is unchanged.
class StoreFull : public std::runtime_error {
 public:
  StoreFull(std::size_t needed, const StoreUsage& usage);
  std::size_t needed;
  StoreUsage usage;
};

// state_incr on a value that is not an integer.
class NotAnInteger : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class StateStore {
 public:
  // Lays out an empty store in `region` (zeroed memory, as a fresh memfd or mmap gives).
  static void format(void* region, std::size_t size);
  // A store another process formatted. Throws std::runtime_error when the region holds none.
  StateStore(void* region, std::size_t size);

  using ValueReader = std::function<void(ValueType, std::string_view)>;

  // Calls `read` under the lock with the stored bytes (valid only during the call).
  bool get(std::string_view key, const ValueReader& read) const;
  // Looks every key up under one lock: `read(index, type, bytes)` for each key found.
  void get_many(std::span<const std::string_view> keys,
                const std::function<void(std::size_t, ValueType, std::string_view)>& read) const;
  // Throws StoreFull.
  void set(std::string_view key, ValueType type, std::string_view value);
  // Sets only a missing key (first writer wins); true when this call stored it.
  bool add(std::string_view key, ValueType type, std::string_view value);
  bool erase(std::string_view key);
  // Adds `delta` atomically; a missing key starts at 0. Throws NotAnInteger,
  // std::overflow_error (past int64) and StoreFull.
  std::int64_t increment(std::string_view key, std::int64_t delta);
  // Every key that starts with `prefix`, in no particular order.
  void keys(std::string_view prefix, const std::function<void(std::string_view)>& visit) const;

  StoreUsage usage() const;
  // How many times a locker found the lock's owner dead and repaired the store.
  std::uint64_t recoveries() const;

  // Checks the layout's invariants (the heap walk, the free lists, the counts); an empty
  // string when they hold, else the first broken one. For tests and diagnostics.
  std::string verify() const;

  // For tests: takes the lock and calls `inside` while holding it (a test child process
  // dies there to leave the lock owned by a dead process).
  void while_locked(const std::function<void()>& inside);

 private:
  struct Header;
  class Lock;
  friend class Lock;

  Header* header_;
};

}  // namespace hornbeam::shm
