// The shared-state store, driven by a sequence of operations from the input and checked
// against a plain std::map model after each: the same answers, and the layout's invariants
// (verify()) intact. A small region and a small key alphabet make it fill up, collide, free
// and merge blocks.

#include "common/state_store.hpp"

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <vector>

using namespace hornbeam::shm;

namespace {

struct Stored {
  ValueType type;
  std::string bytes;
};

class Input {
 public:
  Input(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}
  bool empty() const { return at_ >= size_; }
  std::uint8_t byte() { return at_ < size_ ? data_[at_++] : 0; }
  std::string text(std::size_t most) {
    const std::size_t length =
        std::min<std::size_t>(byte() % (most + 1), size_ - std::min(at_, size_));
    std::string out(reinterpret_cast<const char*>(data_ + at_), length);
    at_ += length;
    return out;
  }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t at_ = 0;
};

void check(bool holds) {
  if (!holds) std::abort();
}

std::int64_t integer_of(const std::string& bytes) {
  std::int64_t value = 0;
  std::memcpy(&value, bytes.data(), sizeof value);
  return value;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  constexpr std::size_t region_size = 16 * 1024;
  alignas(64) static std::uint8_t region[region_size];
  std::memset(region, 0, sizeof region);
  StateStore::format(region, region_size);
  StateStore store(region, region_size);
  std::map<std::string, Stored> model;
  Input input(data, size);

  while (!input.empty()) {
    const std::uint8_t op = input.byte() % 6;
    std::string key = "k" + std::to_string(input.byte() % 24);  // few keys: collisions
    if (input.byte() & 1) key += input.text(40);
    switch (op) {
      case 0: {  // set
        const auto type = static_cast<ValueType>(4 + input.byte() % 3);
        std::string value = input.text(255);
        value += std::string(input.byte() * 8u, 'v');  // large values too
        try {
          store.set(key, type, value);
          model[key] = {type, value};
        } catch (const StoreFull&) {  // the store is unchanged
        }
        break;
      }
      case 1: {  // add
        const std::string value = input.text(64);
        try {
          const bool added = store.add(key, ValueType::bytes, value);
          check(added == !model.count(key));
          if (added) model[key] = {ValueType::bytes, value};
        } catch (const StoreFull&) {
          check(!model.count(key));
        }
        break;
      }
      case 2:  // erase
        check(store.erase(key) == (model.erase(key) == 1));
        break;
      case 3: {  // incr
        const std::int64_t delta = static_cast<std::int8_t>(input.byte());
        const auto found = model.find(key);
        try {
          const auto value = store.increment(key, delta);
          check(found == model.end() || found->second.type == ValueType::integer);
          const std::int64_t before = found == model.end() ? 0 : integer_of(found->second.bytes);
          check(value == before + delta);
          std::string bytes(sizeof value, '\0');
          std::memcpy(bytes.data(), &value, sizeof value);
          model[key] = {ValueType::integer, bytes};
        } catch (const NotAnInteger&) {
          check(found != model.end() && found->second.type != ValueType::integer);
        } catch (const StoreFull&) {
        }
        break;
      }
      case 4: {  // get
        const auto found = model.find(key);
        bool seen = false;
        store.get(key, [&](ValueType type, std::string_view bytes) {
          seen = true;
          check(found != model.end() && type == found->second.type && bytes == found->second.bytes);
        });
        check(seen == (found != model.end()));
        break;
      }
      default: {  // keys
        std::set<std::string> listed;
        store.keys("", [&](std::string_view listed_key) { listed.emplace(listed_key); });
        std::set<std::string> expected;
        for (const auto& entry : model) expected.insert(entry.first);
        check(listed == expected);
        check(store.usage().entries == model.size());
      }
    }
    const std::string broken = store.verify();
    if (!broken.empty()) {
      std::fprintf(stderr, "verify(): %s\n", broken.c_str());
      std::abort();
    }
  }
  return 0;
}
