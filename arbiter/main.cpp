// hornbeam-arbiter: reads the configuration, opens the listen sockets and supervises the
// workers (arbiter/arbiter.cpp).

#include "arbiter/arbiter.hpp"
#include "common/exit_codes.hpp"
#include "common/logging.hpp"
#include "common/standard_fds.hpp"
#include "config/logging_options.hpp"
#include "config/startup.hpp"

#include <signal.h>

#include <iostream>

int main(int argc, char** argv) {
  using namespace hornbeam;
  open_missing_standard_fds();
  // The log's reader may go away (`hornbeam-arbiter | head`, a log collector restarted): a
  // write to its pipe must fail, not kill the arbiter. From the first line on.
  ::signal(SIGPIPE, SIG_IGN);
  arbiter::ArbiterOptions options;
  std::vector<std::string> shm_fd;
  const std::vector<config::ExtraOption> extras = {
      {"inherit-listen", "BIND=FD",
       "binary upgrade: a listen socket of the old arbiter (set by USR2)",
       &options.inherited.listen},
      {"inherit-shm-fd", "FD",
       "binary upgrade: the old arbiter's shared-memory segment (set by USR2)", &shm_fd}};
  auto startup = config::start(argc, argv, "hornbeam-arbiter", extras, std::cout, std::cerr);
  if (!startup.config) return startup.exit_status;
  try {
    logging::configure(config::logging_options(*startup.config, "arbiter"));
  } catch (const std::exception& e) {
    std::cerr << "hornbeam-arbiter: error: " << e.what() << "\n";
    return exit_code::config_error;
  }
  if (!shm_fd.empty()) options.inherited.shm_fd = std::stoi(shm_fd.back());
  options.config = std::move(*startup.config);
  options.sources = std::move(startup.sources);
  // The upgraded arbiter gets the same arguments, minus what describes this one's inheritance.
  for (int i = 1; i < argc; ++i) {
    const std::string argument = argv[i];
    if (argument.starts_with("--inherit-")) {
      if (argument.find('=') == std::string::npos) ++i;
      continue;
    }
    options.argv.push_back(argument);
  }
  return arbiter::run_arbiter(std::move(options));
}
