#pragma once

// How much memory a worker holds, as max_worker_memory measures it: its resident set (RSS)
// from /proc/PID/statm, one small read per worker per second. RSS, not PSS: workers are
// exec'd, not forked from a loaded app, so the pages they share are the libraries' and RSS
// is what the kernel's OOM killer and container limits count.

#include <sys/types.h>

#include <cstdint>
#include <optional>

namespace hornbeam::arbiter {

// Bytes; nothing when the process is gone or /proc cannot be read.
std::optional<std::uint64_t> resident_memory_of(pid_t pid);

}  // namespace hornbeam::arbiter
