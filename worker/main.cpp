// hornbeam-worker: reads the configuration and (in later steps) serves the app.

#include "common/exit_codes.hpp"
#include "common/logging.hpp"
#include "config/json_output.hpp"
#include "config/logging_options.hpp"
#include "config/startup.hpp"

#include <spdlog/logger.h>

#include <iostream>

int main(int argc, char** argv) {
  using namespace hornbeam;
  const auto startup = config::start(argc, argv, "hornbeam-worker", {}, std::cout, std::cerr);
  if (!startup.config) return startup.exit_status;
  const config::Config& config = *startup.config;
  try {
    logging::configure(config::logging_options(config, "worker"));
  } catch (const std::exception& e) {
    std::cerr << "hornbeam-worker: error: " << e.what() << "\n";
    return exit_code::config_error;
  }
  logging::error_log().info("configuration loaded: app {}", config.app);
  std::cout << config::to_json_text(config) << "\n";
  return exit_code::ok;
}
