#include "common/state_store.hpp"

#include "common/robust_mutex.hpp"

#include "common/logging.hpp"

#include <pthread.h>
#include <spdlog/logger.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cstring>
#include <limits>

namespace hornbeam::shm {
namespace {

constexpr std::uint32_t store_magic = 0x4842'5354;  // "HBST"
constexpr std::uint32_t store_version = 1;

// Blocks are 16-byte aligned; a block's first word is its size with flags in the low bits.
constexpr std::uint64_t block_align = 16;
constexpr std::uint64_t used_flag = 1;       // the block holds an entry
constexpr std::uint64_t prev_free_flag = 2;  // the block before is free (its footer is valid)
constexpr std::uint64_t flag_mask = block_align - 1;
// A free block holds its size, two free-list links and a footer (its size again).
constexpr std::uint64_t min_block = 32;
constexpr std::size_t bin_count = 128;

std::uint64_t round_up(std::uint64_t value, std::uint64_t to) { return (value + to - 1) / to * to; }

// FNV-1a: stable across processes and builds, so the layout does not depend on a seed.
std::uint64_t hash_key(std::string_view key) {
  std::uint64_t hash = 0xcbf2'9ce4'8422'2325;
  for (const unsigned char c : key) {
    hash ^= c;
    hash *= 0x0000'0100'0000'01b3;
  }
  return hash;
}

// Size classes: four per power of two (so a first fit in a higher class always fits).
std::size_t bin_of(std::uint64_t size) {
  const int log = std::bit_width(size) - 1;  // size >= min_block, so log >= 5
  const auto sub = static_cast<std::size_t>((size >> (log - 2)) & 3);
  return std::min<std::size_t>(static_cast<std::size_t>(log - 5) * 4 + sub, bin_count - 1);
}

// An entry, after its block's size word. The key follows, then (8-aligned) the value.
struct Entry {
  std::uint64_t next;  // offset of the next entry's block in the bucket chain; 0 ends it
  std::uint64_t hash;
  std::uint32_t key_size;
  std::uint32_t value_size;
  ValueType type;
  std::uint8_t padding[7];
};
static_assert(sizeof(Entry) == 32);

std::uint64_t entry_block_size(std::size_t key_size, std::size_t value_size) {
  const std::uint64_t bytes = 8 + sizeof(Entry) + round_up(key_size, 8) + value_size;
  return std::max(round_up(bytes, block_align), min_block);
}

// The publishing store: everything written before it is in memory before the link is.
void publish(std::uint64_t& word, std::uint64_t value) {
  std::atomic_ref<std::uint64_t>(word).store(value, std::memory_order_release);
}

}  // namespace

struct StateStore::Header {
  std::uint32_t magic;
  std::uint32_t version;
  std::uint64_t region_size;
  pthread_mutex_t mutex;
  std::uint64_t bucket_count;  // a power of two
  std::uint64_t buckets_offset;
  std::uint64_t heap_offset;
  std::uint64_t heap_end;
  std::uint64_t recoveries;
  // Derived from the index and the heap; rebuilt after a crash.
  std::uint64_t entries;
  std::uint64_t used;
  std::uint64_t bin_map[bin_count / 64];
  std::uint64_t bins[bin_count];  // heads of the free lists (block offsets)

  // Every offset is from the header, which is the region's start.
  char* base() { return reinterpret_cast<char*>(this); }
  std::uint64_t& word(std::uint64_t offset) {
    return *reinterpret_cast<std::uint64_t*>(base() + offset);
  }
  std::uint64_t& bucket(std::uint64_t hash) {
    return word(buckets_offset + 8 * (hash & (bucket_count - 1)));
  }

  // The heap.
  std::uint64_t& tag(std::uint64_t block) { return word(block); }
  std::uint64_t block_size(std::uint64_t block) { return tag(block) & ~flag_mask; }
  bool is_free(std::uint64_t block) { return (tag(block) & used_flag) == 0; }
  std::uint64_t& next_free(std::uint64_t block) { return word(block + 8); }
  std::uint64_t& prev_free(std::uint64_t block) { return word(block + 16); }
  std::uint64_t& footer(std::uint64_t block, std::uint64_t size) { return word(block + size - 8); }
  Entry& entry(std::uint64_t block) { return *reinterpret_cast<Entry*>(base() + block + 8); }
  std::string_view key_of(std::uint64_t block) {
    const auto& e = entry(block);
    return {base() + block + 8 + sizeof(Entry), e.key_size};
  }
  char* value_of(std::uint64_t block) {
    return base() + block + 8 + sizeof(Entry) + round_up(entry(block).key_size, 8);
  }

  void link_free(std::uint64_t block, std::uint64_t size) {
    const auto bin = bin_of(size);
    next_free(block) = bins[bin];
    prev_free(block) = 0;
    if (bins[bin] != 0) prev_free(bins[bin]) = block;
    bins[bin] = block;
    bin_map[bin / 64] |= std::uint64_t{1} << (bin % 64);
  }
  void unlink_free(std::uint64_t block) {
    const auto bin = bin_of(block_size(block));
    const auto next = next_free(block), prev = prev_free(block);
    if (prev != 0) {
      next_free(prev) = next;
    } else {
      bins[bin] = next;
    }
    if (next != 0) prev_free(next) = prev;
    if (bins[bin] == 0) bin_map[bin / 64] &= ~(std::uint64_t{1} << (bin % 64));
  }
  // The first non-empty bin at or after `bin`, or bin_count.
  std::size_t next_bin(std::size_t bin) {
    for (std::size_t word_index = bin / 64; word_index < bin_count / 64; ++word_index) {
      std::uint64_t bits = bin_map[word_index];
      if (word_index == bin / 64) bits &= ~std::uint64_t{0} << (bin % 64);
      if (bits != 0) return word_index * 64 + static_cast<std::size_t>(std::countr_zero(bits));
    }
    return bin_count;
  }

  // A block of at least `size` bytes marked used, or 0. The heap stays walkable after each
  // store: a split writes the tail's size before it shrinks the head.
  std::uint64_t allocate(std::uint64_t size) {
    const auto first = bin_of(size);
    const auto fit_in_own_class = [&](int limit) -> std::uint64_t {
      int looked = 0;
      for (auto block = bins[first]; block != 0 && looked != limit; block = next_free(block)) {
        if (block_size(block) >= size) return block;
        ++looked;
      }
      return 0;
    };
    // A first fit among a few blocks of the request's own class, else any block of a higher
    // class (every one fits), else the whole own class, before giving up.
    std::uint64_t found = fit_in_own_class(16);
    if (found == 0) {
      const auto bin = next_bin(first + 1);
      found = bin < bin_count ? bins[bin] : fit_in_own_class(-1);
    }
    if (found == 0) return 0;
    unlink_free(found);
    const auto available = block_size(found);
    if (available - size >= min_block) {
      const auto tail = found + size;
      tag(tail) = available - size;  // free; its predecessor (the new block) is used
      footer(tail, available - size) = available - size;
      link_free(tail, available - size);
      publish(tag(found), size | used_flag);
    } else {
      publish(tag(found), available | used_flag);
      const auto after = found + available;
      if (after < heap_end) tag(after) &= ~prev_free_flag;
    }
    used += block_size(found);
    return found;
  }

  // Returns a block to the free lists, merged with free neighbours; each merge is one store
  // of the surviving block's size.
  void release(std::uint64_t block) {
    auto size = block_size(block);
    used -= size;
    auto start = block;
    const auto after = block + size;
    if (after < heap_end && is_free(after)) {
      unlink_free(after);
      size += block_size(after);
    }
    if ((tag(block) & prev_free_flag) != 0) {
      const auto before = block - word(block - 8);
      unlink_free(before);
      size += block_size(before);
      start = before;
    }
    publish(tag(start), size);
    footer(start, size) = size;
    if (start + size < heap_end) tag(start + size) |= prev_free_flag;
    link_free(start, size);
  }

  std::uint64_t largest_free() {
    for (auto bin = bin_count; bin-- > 0;) {
      std::uint64_t largest = 0;
      for (auto block = bins[bin]; block != 0; block = next_free(block)) {
        largest = std::max(largest, block_size(block));
      }
      if (largest != 0) return largest;
    }
    return 0;
  }

  // The link that points at `key`'s entry (its bucket or its predecessor's `next`), and the
  // entry's block (0 when the key is missing: then the link is the chain's last).
  struct Place {
    std::uint64_t* link;
    std::uint64_t block;
  };
  Place find(std::string_view key, std::uint64_t hash) {
    std::uint64_t* link = &bucket(hash);
    while (*link != 0) {
      const auto block = *link;
      const auto& e = entry(block);
      if (e.hash == hash && key_of(block) == key) return {link, block};
      link = &entry(block).next;
    }
    return {link, 0};
  }

  // Writes a new entry into a fresh block; nothing links to it yet. Throws StoreFull.
  std::uint64_t write_entry(std::string_view key, std::uint64_t hash, ValueType type,
                            std::string_view value, std::uint64_t next) {
    const auto size = entry_block_size(key.size(), value.size());
    if (value.size() > std::numeric_limits<std::uint32_t>::max() ||
        key.size() > std::numeric_limits<std::uint32_t>::max()) {
      throw StoreFull(size, usage());
    }
    const auto block = allocate(size);
    if (block == 0) throw StoreFull(size, usage());
    auto& e = entry(block);
    e.next = next;
    e.hash = hash;
    e.key_size = static_cast<std::uint32_t>(key.size());
    e.value_size = static_cast<std::uint32_t>(value.size());
    e.type = type;
    // An empty key or value (None's) may have no data pointer at all.
    if (!key.empty()) std::memcpy(base() + block + 8 + sizeof(Entry), key.data(), key.size());
    if (!value.empty()) std::memcpy(value_of(block), value.data(), value.size());
    return block;
  }

  StoreUsage usage() {
    const std::uint64_t overhead = 8 + sizeof(Entry);  // size word and entry header
    const auto largest = largest_free();               // walks a free list: once
    return {heap_end - heap_offset, used, entries, largest > overhead ? largest - overhead : 0};
  }

  // After a locker died: rebuilds everything derived from the index and the heap walk.
  void recover() {
    // 1. Every block free, sizes kept (a size that makes no sense ends the heap there: it
    //    cannot happen, as every size is written by one store, but the store must not loop).
    for (auto block = heap_offset; block < heap_end;) {
      const auto size = block_size(block);
      if (size < min_block || size % block_align != 0 || size > heap_end - block) {
        tag(block) = heap_end - block;
        break;
      }
      tag(block) = size;
      block += size;
    }
    // 2. Entries reachable from the index are the live blocks.
    entries = 0;
    used = 0;
    for (std::uint64_t i = 0; i < bucket_count; ++i) {
      std::uint64_t* link = &word(buckets_offset + 8 * i);
      while (*link != 0) {
        const auto block = *link;
        if (block < heap_offset || block >= heap_end || block % block_align != 0) {
          *link = 0;
          break;
        }
        tag(block) |= used_flag;
        ++entries;
        used += block_size(block);
        link = &entry(block).next;
      }
    }
    // 3. Runs of free blocks merge; free lists, footers and flags are rewritten.
    std::fill(std::begin(bins), std::end(bins), 0);
    std::fill(std::begin(bin_map), std::end(bin_map), 0);
    bool previous_free = false;
    for (auto block = heap_offset; block < heap_end;) {
      if (!is_free(block)) {
        if (previous_free) tag(block) |= prev_free_flag;
        previous_free = false;
        block += block_size(block);
        continue;
      }
      auto size = block_size(block);
      while (block + size < heap_end && is_free(block + size)) {
        size += block_size(block + size);
        publish(tag(block), size);
      }
      footer(block, size) = size;
      link_free(block, size);
      previous_free = true;
      block += size;
    }
    ++recoveries;
  }
};

// The store's mutex, held for one operation. A dead owner leaves EOWNERDEAD to the next
// locker, which repairs the store before it marks the mutex consistent again.
class StateStore::Lock {
 public:
  explicit Lock(Header* header) : header_(header) {
    const int status = pthread_mutex_lock(&header->mutex);
    if (status == EOWNERDEAD) {
      header->recover();
      pthread_mutex_consistent(&header->mutex);
      logging::error_log().warn(
          "shared state: a process died holding its lock; the store is repaired ({} entries, "
          "{} bytes)",
          header->entries, header->used);
    } else if (status != 0) {
      throw std::runtime_error(std::string("cannot lock the shared state: ") +
                               std::strerror(status));
    }
  }
  ~Lock() { pthread_mutex_unlock(&header_->mutex); }
  Lock(const Lock&) = delete;
  Lock& operator=(const Lock&) = delete;

 private:
  Header* header_;
};

namespace {

std::string describe(std::size_t needed, const StoreUsage& usage) {
  return "the shared state is full: an entry of " + std::to_string(needed) +
         " bytes does not fit (" + std::to_string(usage.used) + " of " +
         std::to_string(usage.capacity) + " bytes used by " + std::to_string(usage.entries) +
         " entries; the largest value that fits now is " + std::to_string(usage.largest_free) +
         " bytes; shared_state.size sets the capacity)";
}

}  // namespace

StoreFull::StoreFull(std::size_t needed_bytes, const StoreUsage& figures)
    : std::runtime_error(describe(needed_bytes, figures)), needed(needed_bytes), usage(figures) {}

void StateStore::format(void* region, std::size_t size) {
  auto* header = static_cast<Header*>(region);
  init_robust_shared_mutex(&header->mutex);
  // About one bucket per 256 bytes of store: short chains for entries of a few hundred bytes.
  header->bucket_count = std::bit_floor(std::max<std::uint64_t>(size / 256, 64));
  header->buckets_offset = round_up(sizeof(Header), 64);
  header->heap_offset = round_up(header->buckets_offset + 8 * header->bucket_count, block_align);
  header->heap_end = size / block_align * block_align;
  if (header->heap_end < header->heap_offset + min_block)
    throw std::invalid_argument("the shared state needs more than " + std::to_string(size) +
                                " bytes");
  header->region_size = size;
  header->recoveries = 0;
  header->entries = 0;
  header->used = 0;
  std::fill(std::begin(header->bins), std::end(header->bins), 0);
  std::fill(std::begin(header->bin_map), std::end(header->bin_map), 0);
  const auto heap_size = header->heap_end - header->heap_offset;
  header->tag(header->heap_offset) = heap_size;
  header->footer(header->heap_offset, heap_size) = heap_size;
  header->link_free(header->heap_offset, heap_size);
  header->version = store_version;
  // Last: a region with the magic is a formatted store.
  std::atomic_ref<std::uint32_t>(header->magic).store(store_magic, std::memory_order_release);
}

StateStore::StateStore(void* region, std::size_t size) : header_(static_cast<Header*>(region)) {
  if (size < sizeof(Header) || header_->magic != store_magic || header_->version != store_version ||
      header_->region_size != size) {
    throw std::runtime_error("the region holds no shared state of this version");
  }
}

bool StateStore::get(std::string_view key, const ValueReader& read) const {
  const auto hash = hash_key(key);
  Lock lock(header_);
  const auto block = header_->find(key, hash).block;
  if (block == 0) return false;
  const auto& e = header_->entry(block);
  read(e.type, {header_->value_of(block), e.value_size});
  return true;
}

void StateStore::get_many(
    std::span<const std::string_view> keys,
    const std::function<void(std::size_t, ValueType, std::string_view)>& read) const {
  Lock lock(header_);
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const auto block = header_->find(keys[i], hash_key(keys[i])).block;
    if (block == 0) continue;
    const auto& e = header_->entry(block);
    read(i, e.type, {header_->value_of(block), e.value_size});
  }
}

void StateStore::set(std::string_view key, ValueType type, std::string_view value) {
  const auto hash = hash_key(key);
  Lock lock(header_);
  const auto place = header_->find(key, hash);
  if (place.block == 0) {
    // New keys go first in their chain: the bucket is the one link to publish.
    auto& head = header_->bucket(hash);
    publish(head, header_->write_entry(key, hash, type, value, head));
    ++header_->entries;
    return;
  }
  // The new entry takes the old one's place in the chain with one store, then the old
  // one's block is free.
  const auto replacement =
      header_->write_entry(key, hash, type, value, header_->entry(place.block).next);
  publish(*place.link, replacement);
  header_->release(place.block);
}

bool StateStore::add(std::string_view key, ValueType type, std::string_view value) {
  const auto hash = hash_key(key);
  Lock lock(header_);
  if (header_->find(key, hash).block != 0) return false;
  auto& head = header_->bucket(hash);
  publish(head, header_->write_entry(key, hash, type, value, head));
  ++header_->entries;
  return true;
}

bool StateStore::erase(std::string_view key) {
  const auto hash = hash_key(key);
  Lock lock(header_);
  const auto place = header_->find(key, hash);
  if (place.block == 0) return false;
  publish(*place.link, header_->entry(place.block).next);
  header_->release(place.block);
  --header_->entries;
  return true;
}

std::int64_t StateStore::increment(std::string_view key, std::int64_t delta) {
  const auto hash = hash_key(key);
  Lock lock(header_);
  const auto place = header_->find(key, hash);
  if (place.block == 0) {
    auto& head = header_->bucket(hash);
    publish(head,
            header_->write_entry(key, hash, ValueType::integer,
                                 {reinterpret_cast<const char*>(&delta), sizeof delta}, head));
    ++header_->entries;
    return delta;
  }
  const auto& e = header_->entry(place.block);
  if (e.type != ValueType::integer || e.value_size != sizeof(std::int64_t)) {
    throw NotAnInteger("the value of '" + std::string(key) + "' is not an integer");
  }
  // Integers are 8-aligned in their block: the update is one store.
  std::atomic_ref<std::int64_t> stored(
      *reinterpret_cast<std::int64_t*>(header_->value_of(place.block)));
  std::int64_t result = 0;
  if (__builtin_add_overflow(stored.load(std::memory_order_relaxed), delta, &result)) {
    throw std::overflow_error("incrementing '" + std::string(key) +
                              "' would leave the 64-bit range of shared counters");
  }
  stored.store(result, std::memory_order_relaxed);
  return result;
}

void StateStore::keys(std::string_view prefix,
                      const std::function<void(std::string_view)>& visit) const {
  Lock lock(header_);
  for (std::uint64_t i = 0; i < header_->bucket_count; ++i) {
    for (auto block = header_->word(header_->buckets_offset + 8 * i); block != 0;
         block = header_->entry(block).next) {
      const auto key = header_->key_of(block);
      if (key.starts_with(prefix)) visit(key);
    }
  }
}

StoreUsage StateStore::usage() const {
  Lock lock(header_);
  return header_->usage();
}

std::uint64_t StateStore::recoveries() const {
  Lock lock(header_);
  return header_->recoveries;
}

std::string StateStore::verify() const {
  Lock lock(header_);
  auto& h = *header_;
  std::uint64_t used = 0, free_bytes = 0, live = 0;
  bool previous_free = false;
  for (auto block = h.heap_offset; block < h.heap_end;) {
    const auto size = h.block_size(block);
    if (size < min_block || size % block_align != 0 || size > h.heap_end - block)
      return "block at " + std::to_string(block) + " has size " + std::to_string(size);
    if (((h.tag(block) & prev_free_flag) != 0) != previous_free)
      return "block at " + std::to_string(block) + " has a wrong prev-free flag";
    if (h.is_free(block)) {
      if (previous_free) return "two free blocks side by side at " + std::to_string(block);
      if (h.footer(block, size) != size) return "free block without footer";
      free_bytes += size;
    } else {
      used += size;
    }
    previous_free = h.is_free(block);
    block += size;
  }
  std::uint64_t listed = 0;
  for (std::size_t bin = 0; bin < bin_count; ++bin) {
    for (auto block = h.bins[bin]; block != 0; block = h.next_free(block)) {
      if (!h.is_free(block) || bin_of(h.block_size(block)) != bin)
        return "free list " + std::to_string(bin) + " holds a wrong block";
      listed += h.block_size(block);
    }
  }
  for (std::uint64_t i = 0; i < h.bucket_count; ++i) {
    for (auto block = h.word(h.buckets_offset + 8 * i); block != 0; block = h.entry(block).next) {
      if (h.is_free(block)) return "a chain reaches a free block";
      ++live;
    }
  }
  if (listed != free_bytes) return "the free lists miss free blocks";
  if (used != h.used || live != h.entries) return "the counts are wrong";
  if (used + free_bytes != h.heap_end - h.heap_offset) return "the heap walk misses bytes";
  return {};
}

void StateStore::while_locked(const std::function<void()>& inside) {
  Lock lock(header_);
  inside();
}

}  // namespace hornbeam::shm
