#pragma once

// Settings given that the rest of the configuration leaves without effect: `tls.*` with no
// `https://` bind (Gunicorn's `certfile` alone makes every bind TLS; here a bind is TLS when
// written `https://`, and a file set up the Gunicorn way would serve plain HTTP without a
// word). Warnings, not errors: a bind given on the command line may stand in for the file's
// for a while (a plain local run of a configuration that serves TLS).

#include "config/config.hpp"

#include <string>
#include <vector>

namespace hornbeam::config {

// One line per finding, for the error log (and --check-config).
std::vector<std::string> settings_without_effect(const Config& config);

// The arbiter's settings that `config` sets (away from their defaults), which a worker run
// alone (hornbeam-worker, for development) cannot act on: it has no workers to count, nothing
// to supervise, and no privileges to drop. Its one warning line, or "" when none is set.
std::string arbiter_settings_for_a_worker_alone(const Config& config);

}  // namespace hornbeam::config
