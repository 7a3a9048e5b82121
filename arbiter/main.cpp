// hornbeam-arbiter: reads the configuration and (in later steps) supervises the workers.

#include "common/exit_codes.hpp"
#include "common/logging.hpp"
#include "config/json_output.hpp"
#include "config/logging_options.hpp"
#include "config/startup.hpp"

#include <spdlog/logger.h>

#include <iostream>

int main(int argc, char** argv) {
  using namespace hornbeam;
  const auto startup = config::start(argc, argv, "hornbeam-arbiter", {}, std::cout, std::cerr);
  if (!startup.config) return startup.exit_status;
  const config::Config& config = *startup.config;
  try {
    logging::configure(config::logging_options(config, "arbiter"));
  } catch (const std::exception& e) {
    std::cerr << "hornbeam-arbiter: error: " << e.what() << "\n";
    return exit_code::config_error;
  }
  logging::error_log().info("configuration loaded: app {}, {} worker(s), {} context(s) each",
                            config.app, config.workers, config.contexts);
  std::cout << config::to_json_text(config) << "\n";
  return exit_code::ok;
}
