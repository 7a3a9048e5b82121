#include "worker/mount_router.hpp"

#include <algorithm>

namespace hornbeam::worker {

MountRouter::MountRouter(std::vector<std::string> prefixes) {
  for (std::size_t i = 0; i < prefixes.size(); ++i)
    by_length_.push_back({std::move(prefixes[i]), static_cast<int>(i)});
  std::stable_sort(by_length_.begin(), by_length_.end(), [](const Entry& a, const Entry& b) {
    return a.prefix.size() > b.prefix.size();
  });
}

int MountRouter::route(std::string_view path) const {
  for (const auto& entry : by_length_) {
    if (entry.prefix == "/") return entry.index;
    if (path.starts_with(entry.prefix) &&
        (path.size() == entry.prefix.size() || path[entry.prefix.size()] == '/')) {
      return entry.index;
    }
  }
  return -1;
}

}  // namespace hornbeam::worker
