#pragma once

// Validators for text settings: a predicate and the words that say what it accepts, used by
// both the error messages and the generated docs.

#include <string_view>

namespace hornbeam::config {

struct TextCheck {
  bool (*accepts)(std::string_view value);
  std::string_view expected;  // "an app as `module:callable` ..."
};

// "module", "package.module:callable" or "module:object.attribute".
extern const TextCheck app_spec;
// Empty (no hook) or an app spec.
extern const TextCheck optional_app_spec;
// "host:port", "[v6]:port", "unix:/path", "fd://N".
extern const TextCheck bind_address;
extern const TextCheck optional_bind_address;  // empty, or as bind_address
// Starts with "/", no trailing "/" unless it is "/" itself.
extern const TextCheck mount_prefix;
// An IP address or "*".
extern const TextCheck forwarded_ip;
// "shm", or a Redis URL (redis/target.hpp).
extern const TextCheck state_backend;

}  // namespace hornbeam::config
