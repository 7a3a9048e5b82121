#include "common/state_store.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace hornbeam::shm {
namespace {

using ::testing::HasSubstr;

// A store in a MAP_SHARED mapping, so that forked children write into the same memory (as
// workers do in the arbiter's segment).
class SharedRegion {
 public:
  explicit SharedRegion(std::size_t size)
      : size_(size),
        base_(::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0)) {
    StateStore::format(base_, size_);
  }
  ~SharedRegion() { ::munmap(base_, size_); }
  StateStore store() const { return StateStore(base_, size_); }

 private:
  std::size_t size_;
  void* base_;
};

std::optional<std::string> get_text(const StateStore& store, std::string_view key) {
  std::optional<std::string> found;
  store.get(key, [&](ValueType, std::string_view bytes) { found.emplace(bytes); });
  return found;
}

std::int64_t get_integer(const StateStore& store, std::string_view key) {
  std::int64_t value = 0;
  EXPECT_TRUE(store.get(key, [&](ValueType type, std::string_view bytes) {
    EXPECT_EQ(type, ValueType::integer);
    std::memcpy(&value, bytes.data(), sizeof value);
  }));
  return value;
}

TEST(StateStore, SetGetReplaceAndErase) {
  SharedRegion region(1 << 20);
  auto store = region.store();
  EXPECT_FALSE(get_text(store, "greeting"));
  store.set("greeting", ValueType::text, "hello");
  EXPECT_EQ(get_text(store, "greeting"), "hello");
  store.set("greeting", ValueType::text, std::string(5000, 'x'));
  EXPECT_EQ(get_text(store, "greeting"), std::string(5000, 'x'));
  EXPECT_TRUE(store.erase("greeting"));
  EXPECT_FALSE(store.erase("greeting"));
  EXPECT_FALSE(get_text(store, "greeting"));
  EXPECT_EQ(store.usage().entries, 0u);
  EXPECT_EQ(store.usage().used, 0u);
  EXPECT_EQ(store.verify(), "");
}

TEST(StateStore, KeepsTheValueType) {
  SharedRegion region(1 << 20);
  auto store = region.store();
  store.set("b", ValueType::bytes, std::string_view("\0\1", 2));
  ValueType seen{};
  std::string bytes;
  ASSERT_TRUE(store.get("b", [&](ValueType type, std::string_view value) {
    seen = type;
    bytes = value;
  }));
  EXPECT_EQ(seen, ValueType::bytes);
  EXPECT_EQ(bytes, std::string("\0\1", 2));
}

TEST(StateStore, AnEmptyKeyAndAnEmptyValueAreEntriesToo) {
  SharedRegion region(1 << 20);
  auto store = region.store();
  store.set("", ValueType::none, std::string_view());
  ValueType seen = ValueType::text;
  EXPECT_TRUE(store.get("", [&](ValueType type, std::string_view value) {
    seen = type;
    EXPECT_TRUE(value.empty());
  }));
  EXPECT_EQ(seen, ValueType::none);
}

TEST(StateStore, AddSetsOnlyAMissingKey) {
  SharedRegion region(1 << 20);
  auto store = region.store();
  EXPECT_TRUE(store.add("config", ValueType::text, "first"));
  EXPECT_FALSE(store.add("config", ValueType::text, "second"));
  EXPECT_EQ(get_text(store, "config"), "first");
}

TEST(StateStore, IncrementStartsAtZeroAndRefusesOtherTypes) {
  SharedRegion region(1 << 20);
  auto store = region.store();
  EXPECT_EQ(store.increment("hits", 1), 1);
  EXPECT_EQ(store.increment("hits", 41), 42);
  EXPECT_EQ(store.increment("hits", -50), -8);
  EXPECT_EQ(get_integer(store, "hits"), -8);
  store.set("name", ValueType::text, "x");
  EXPECT_THROW(store.increment("name", 1), NotAnInteger);
  store.increment("big", INT64_MAX);
  EXPECT_THROW(store.increment("big", 1), std::overflow_error);
  EXPECT_EQ(get_integer(store, "big"), INT64_MAX);
}

TEST(StateStore, ManyKeysShareBucketsAndListByPrefix) {
  SharedRegion region(1 << 20);
  auto store = region.store();
  for (int i = 0; i < 2000; ++i) {
    store.set((i % 2 ? "user:" : "session:") + std::to_string(i), ValueType::text,
              std::to_string(i));
  }
  std::set<std::string> users;
  store.keys("user:", [&](std::string_view key) { users.emplace(key); });
  EXPECT_EQ(users.size(), 1000u);
  EXPECT_TRUE(users.count("user:1999"));
  std::size_t all = 0;
  store.keys("", [&](std::string_view) { ++all; });
  EXPECT_EQ(all, 2000u);
  for (int i = 0; i < 2000; ++i)
    EXPECT_EQ(get_text(store, "user:" + std::to_string(i)).has_value(), i % 2 == 1);
  std::vector<std::string_view> wanted = {"user:1", "nope", "session:2"};
  std::map<std::size_t, std::string> found;
  store.get_many(
      wanted, [&](std::size_t index, ValueType, std::string_view value) { found[index] = value; });
  EXPECT_EQ(found, (std::map<std::size_t, std::string>{{0, "1"}, {2, "2"}}));
  EXPECT_EQ(store.verify(), "");
}

TEST(StateStore, AFullStoreRaisesWithFiguresAndChangesNothing) {
  SharedRegion region(64 * 1024);
  auto store = region.store();
  store.set("keep", ValueType::text, "kept");
  int stored = 0;
  try {
    for (;; ++stored)
      store.set("k" + std::to_string(stored), ValueType::bytes, std::string(1000, 'v'));
  } catch (const StoreFull& full) {
    EXPECT_THAT(full.what(), HasSubstr("the shared state is full"));
    EXPECT_THAT(full.what(), HasSubstr("shared_state.size"));
    EXPECT_GT(full.usage.used, 0u);
    EXPECT_EQ(full.usage.entries, static_cast<std::size_t>(stored) + 1);
  }
  EXPECT_GT(stored, 10);
  // A replacement that does not fit leaves the old value.
  EXPECT_THROW(store.set("keep", ValueType::bytes, std::string(60 * 1024, 'x')), StoreFull);
  EXPECT_EQ(get_text(store, "keep"), "kept");
  EXPECT_EQ(store.usage().entries, static_cast<std::size_t>(stored) + 1);
  // Freed space is usable again.
  for (int i = 0; i < stored; ++i) store.erase("k" + std::to_string(i));
  store.set("big", ValueType::bytes, std::string(40 * 1024, 'b'));
  EXPECT_EQ(store.verify(), "");
}

TEST(StateStore, FindsTheOneFreeBlockThatFitsDeepInItsClass) {
  SharedRegion region(256 * 1024);
  auto store = region.store();
  // Holes of one size class with pinned entries between them: first a bigger one, then
  // twenty that are too small for the request below.
  store.set("h000", ValueType::bytes, std::string(1152, 'h'));
  store.set("p000", ValueType::bytes, "pin");
  for (int i = 1; i <= 20; ++i) {
    store.set("h" + std::to_string(100 + i), ValueType::bytes, std::string(992, 'h'));
    store.set("p" + std::to_string(100 + i), ValueType::bytes, "pin");
  }
  try {
    for (int i = 0;; ++i)
      store.set("f" + std::to_string(i), ValueType::bytes, std::string(64, 'f'));
  } catch (const StoreFull&) {
  }
  store.erase("h000");  // freed first: the last of its free list
  for (int i = 1; i <= 20; ++i) store.erase("h" + std::to_string(100 + i));
  store.set("wanted", ValueType::bytes, std::string(1100, 'w'));
  EXPECT_EQ(get_text(store, "wanted"), std::string(1100, 'w'));
  EXPECT_EQ(store.verify(), "");
}

TEST(StateStore, AMillionSetDeleteCyclesOfOneKibInSixteenMib) {
  SharedRegion region(16 << 20);
  auto store = region.store();
  const std::string value(1024, 'v');
  for (int i = 0; i < 1'000'000; ++i) {
    const auto key = "key:" + std::to_string(i % 5000);
    store.set(key, ValueType::bytes, value);
    if (i % 5000 >= 2500) store.erase(key);
  }
  EXPECT_EQ(store.usage().entries, 2500u);
  EXPECT_EQ(store.verify(), "");
}

TEST(StateStore, MixedSizesDoNotFragmentTheStoreAway) {
  SharedRegion region(16 << 20);
  auto store = region.store();
  std::mt19937 random(7);
  std::map<std::string, std::size_t> expected;
  for (int i = 0; i < 300'000; ++i) {
    const auto key = "k" + std::to_string(random() % 4000);
    const std::size_t size = 1 + random() % 6000;  // about 12 MiB live on average: 3/4 full
    store.set(key, ValueType::bytes, std::string(size, static_cast<char>('a' + size % 26)));
    expected[key] = size;
  }
  for (const auto& [key, size] : expected) {
    ASSERT_EQ(get_text(store, key), std::string(size, static_cast<char>('a' + size % 26)));
  }
  EXPECT_EQ(store.verify(), "");
}

TEST(StateStore, ALockerThatDiesHoldingTheLockLeavesAUsableStore) {
  SharedRegion region(1 << 20);
  auto store = region.store();
  store.set("before", ValueType::text, "ok");
  const pid_t child = ::fork();
  if (child == 0) {
    store.while_locked([] { ::raise(SIGKILL); });
    ::_exit(0);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(get_text(store, "before"), "ok");
  EXPECT_EQ(store.recoveries(), 1u);
  store.set("after", ValueType::text, "ok");
  EXPECT_EQ(store.verify(), "");
}

// The value carries its own checksum: a torn write would show.
std::string checksummed(std::uint64_t seed, std::size_t size) {
  std::string value(size, '\0');
  std::uint64_t sum = 0;
  for (std::size_t i = 8; i < size; ++i) {
    value[i] = static_cast<char>((seed * 31 + i * 7) & 0xff);
    sum = sum * 131 + static_cast<unsigned char>(value[i]);
  }
  std::memcpy(value.data(), &sum, 8);
  return value;
}

bool intact(std::string_view value) {
  std::uint64_t sum = 0, stored = 0;
  for (std::size_t i = 8; i < value.size(); ++i)
    sum = sum * 131 + static_cast<unsigned char>(value[i]);
  std::memcpy(&stored, value.data(), 8);
  return value.size() >= 8 && sum == stored;
}

TEST(StateStore, WritersKilledAtAnyInstantNeverTearAValueNorBlockOthers) {
  SharedRegion region(4 << 20);
  auto store = region.store();
  std::mt19937 random(11);
  std::uint64_t killed_holding_lock = 0;
  for (int round = 0; round < 60; ++round) {
    const pid_t child = ::fork();
    if (child == 0) {
      std::mt19937 child_random(static_cast<unsigned>(round));
      // Prepared beforehand, so that the child spends its time in the store.
      std::vector<std::string> values;
      for (std::uint64_t i = 0; i < 16; ++i) values.push_back(checksummed(i, 8 + i * 500));
      for (std::uint64_t i = 0;; ++i) {
        const auto key = "k" + std::to_string(child_random() % 300);
        switch (child_random() % 4) {
          case 0: store.erase(key); break;
          case 1: store.increment("counter", 1); break;
          default: store.set(key, ValueType::bytes, values[i % values.size()]);
        }
      }
    }
    const auto before = store.recoveries();
    ::usleep(1000 + random() % 20000);
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
    killed_holding_lock += store.recoveries() - before;
    for (int k = 0; k < 300; ++k) {
      store.get("k" + std::to_string(k), [&](ValueType, std::string_view value) {
        ASSERT_TRUE(intact(value)) << "torn value under k" << k;
      });
    }
    ASSERT_EQ(store.verify(), "") << "after round " << round;
  }
  // Most rounds kill the child inside the lock (it spends its time there).
  EXPECT_GT(killed_holding_lock, 10u);
}

}  // namespace
}  // namespace hornbeam::shm
