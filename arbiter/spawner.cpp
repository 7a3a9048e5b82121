// The only translation unit with Boost.Process (it is slow to compile; see TOOLCHAIN.md).

#include "arbiter/spawner.hpp"

#include <boost/process/args.hpp>
#include <boost/process/child.hpp>
#include <boost/process/env.hpp>
#include <boost/process/exe.hpp>
#include <boost/process/extend.hpp>
#include <boost/process/handles.hpp>

#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <climits>
#include <stdexcept>
#include <system_error>

extern char** environ;

namespace bp = boost::process;

namespace hornbeam::arbiter {
namespace {

// Runs in the child between fork and exec. Boost.Process 1.81's fd passing has traps (see
// TOOLCHAIN.md): the fds are whitelisted for limit_handles here and their close-on-exec
// flag is cleared by hand.
struct ChildSetup : bp::extend::handler, bp::detail::uses_handles {
  ChildSetup(const ChildSpec& spec, pid_t parent) : spec_(spec), parent_(parent), kept_{0, 1, 2} {
    kept_.insert(kept_.end(), spec.pass_fds.begin(), spec.pass_fds.end());
  }
  std::vector<int>& get_used_handles() { return kept_; }

  template <class Executor>
  void on_exec_setup(Executor& executor) const {
    // Dispositions set to "ignore" and the mask survive exec: give the child the defaults.
    ::signal(SIGPIPE, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    for (const int fd : spec_.pass_fds) ::fcntl(fd, F_SETFD, 0);
    if (spec_.pid_cell) spec_.pid_cell->store(::getpid());
    if (spec_.group && (::setgroups(0, nullptr) != 0 || ::setgid(*spec_.group) != 0)) {
      return executor.set_error(std::error_code(errno, std::system_category()),
                                "cannot switch to the configured group");
    }
    if (spec_.user && ::setuid(*spec_.user) != 0) {
      return executor.set_error(std::error_code(errno, std::system_category()),
                                "cannot switch to the configured user");
    }
    // After the switch of user and group: the kernel clears the death signal when a process
    // changes its credentials, so set before them it would be lost (workers as `nobody`
    // outlived a killed arbiter). Exec keeps it, for a binary that is not set-user-ID.
    if (spec_.die_with_parent) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent_) ::_exit(1);  // the arbiter died before prctl: follow it now
    }
  }

 private:
  const ChildSpec& spec_;
  pid_t parent_;
  std::vector<int> kept_;
};

}  // namespace

pid_t spawn_child(const ChildSpec& spec) {
  bp::environment environment;
  environment.clear();
  for (const auto& entry : spec.environment) {
    const auto equals = entry.find('=');
    if (equals != std::string::npos && equals > 0)
      environment[entry.substr(0, equals)] = entry.substr(equals + 1);
  }
  try {
    bp::child child(bp::exe = spec.executable, bp::args = spec.arguments, bp::env = environment,
                    bp::limit_handles, ChildSetup(spec, ::getpid()));
    const pid_t pid = child.id();
    child.detach();  // the arbiter reaps its children itself
    return pid;
  } catch (const bp::process_error& e) {
    throw std::runtime_error(spec.executable + ": " + e.what());
  }
}

std::vector<std::string> current_environment(bool (*drop)(const std::string& name)) {
  std::vector<std::string> entries;
  for (char** entry = environ; *entry; ++entry) {
    const std::string text(*entry);
    if (!drop(text.substr(0, text.find('=')))) entries.push_back(text);
  }
  return entries;
}

std::string own_executable_path() {
  char path[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", path, sizeof path - 1);
  if (n <= 0) return {};
  return std::string(path, static_cast<std::size_t>(n));
}

}  // namespace hornbeam::arbiter
