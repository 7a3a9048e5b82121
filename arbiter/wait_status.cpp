#include "arbiter/wait_status.hpp"

#include <signal.h>
#include <string.h>
#include <sys/wait.h>

namespace hornbeam::arbiter {

std::string signal_name(int signal) {
  if (const char* abbreviation = sigabbrev_np(signal)) return std::string("SIG") + abbreviation;
  return "signal " + std::to_string(signal);
}

std::string describe_wait_status(int status) {
  if (WIFEXITED(status)) return "exited with code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    const int signal = WTERMSIG(status);
    // The kernel's OOM killer sends SIGKILL; nothing else in hornbeam does unannounced.
    return "was killed by " + signal_name(signal) +
           (signal == SIGKILL ? " (perhaps out of memory?)" : "");
  }
  return "ended with status " + std::to_string(status);
}

}  // namespace hornbeam::arbiter
