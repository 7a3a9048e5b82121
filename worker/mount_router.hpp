#pragma once

// Which mounted app serves a request: the longest prefix that matches the raw path (as sent,
// still percent-encoded) on a segment boundary. `/api` takes `/api` and `/api/x`, never
// `/apiv2`; `/` takes everything no other prefix does. Matching the raw path means `%2F` is
// not a separator: `/api%2Fx` is under `/` (or a `/api%2Fx` mount), not under `/api`, as in
// nginx and Werkzeug's DispatcherMiddleware.

#include <string>
#include <string_view>
#include <vector>

namespace hornbeam::worker {

class MountRouter {
 public:
  // Prefixes as configured (validated: they start with `/`, do not end with `/` unless `/`
  // itself, and are unique).
  explicit MountRouter(std::vector<std::string> prefixes);

  // The index (in the order given) of the mount for `path`, or -1 when none matches.
  int route(std::string_view path) const;

 private:
  struct Entry {
    std::string prefix;
    int index;
  };
  std::vector<Entry> by_length_;  // longest first
};

}  // namespace hornbeam::worker
