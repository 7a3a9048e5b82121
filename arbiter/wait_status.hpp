#pragma once

#include <string>

namespace hornbeam::arbiter {

// "SIGKILL" for 9.
std::string signal_name(int signal);

// How a child ended, for the log: "exited with code 4", "was killed by SIGSEGV",
// "was killed by SIGKILL (perhaps out of memory?)".
std::string describe_wait_status(int status);

}  // namespace hornbeam::arbiter
