#pragma once

// fork + exec of the arbiter's children (workers, and the new arbiter of a binary upgrade)
// with Boost.Process. The child gets exactly stdin/stdout/stderr plus the fds named in
// `pass_fds` (everything else is closed), default signal handling, and optionally the
// parent-death signal and another user/group. Boost.Process stays in spawner.cpp.

#include <sys/types.h>
#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace hornbeam::arbiter {

struct ChildSpec {
  std::string executable;
  std::vector<std::string> arguments;    // without argv[0]
  std::vector<std::string> environment;  // KEY=VALUE, complete
  std::vector<int> pass_fds;             // kept open (close-on-exec cleared) in the child
  bool die_with_parent = true;           // SIGKILL when the arbiter dies (PR_SET_PDEATHSIG)
  std::optional<uid_t> user;             // switch to these before exec (after binding)
  std::optional<gid_t> group;
  std::atomic<std::int32_t>* pid_cell = nullptr;  // shared memory: the child writes its pid here
};

// Returns the child's pid once it has exec'd. Throws std::runtime_error with the reason
// (executable missing, setuid refused...). The caller reaps it (waitpid).
pid_t spawn_child(const ChildSpec& spec);

// This process's environment without the variables for which `drop` is true.
std::vector<std::string> current_environment(bool (*drop)(const std::string& name));

// Where this executable is on disk now (for the binary upgrade) and its directory.
std::string own_executable_path();

}  // namespace hornbeam::arbiter
