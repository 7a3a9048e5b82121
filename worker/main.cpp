// hornbeam-worker: one process serving the app over HTTP/1.1 with a pool of Python contexts.
// Runs alone (`--bind`) for development, tests and benchmarks, or under the arbiter (`--fd`).

#include "common/exit_codes.hpp"
#include "common/logging.hpp"
#include "config/logging_options.hpp"
#include "config/startup.hpp"
#include "python/app_loader.hpp"
#include "python/context_pool.hpp"
#include "python/interpreter.hpp"
#include "python/wsgi_adapter.hpp"
#include "worker/http_server.hpp"

#include <spdlog/logger.h>

#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netdb.h>

#include <iostream>
#include <optional>

namespace {

using namespace hornbeam;

// Slow clients cost one fd each: take every fd the hard limit allows.
void raise_open_files_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

// "127.0.0.1:43817" for a TCP socket (the real port when bound to 0), "unix:/path" otherwise.
std::string socket_name(int fd) {
  sockaddr_storage address{};
  socklen_t length = sizeof address;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) return "fd " + std::to_string(fd);
  if (address.ss_family == AF_UNIX) return "unix:" + std::string(reinterpret_cast<sockaddr_un*>(&address)->sun_path);
  char host[NI_MAXHOST];
  char port[NI_MAXSERV];
  getnameinfo(reinterpret_cast<sockaddr*>(&address), length, host, sizeof host, port, sizeof port,
              NI_NUMERICHOST | NI_NUMERICSERV);
  return address.ss_family == AF_INET6 ? "[" + std::string(host) + "]:" + port : std::string(host) + ":" + port;
}

int run(const config::Config& config, const std::vector<std::string>& inherited_fds) {
  raise_open_files_limit();
  std::vector<int> listen_fds;
  try {
    if (!inherited_fds.empty()) {
      for (const auto& fd : inherited_fds) listen_fds.push_back(std::stoi(fd));
    } else {
      for (const auto& bind : config.bind) {
        listen_fds.push_back(worker::open_listen_socket(bind, static_cast<int>(config.backlog)));
      }
    }
  } catch (const std::exception& e) {
    logging::error_log().critical("{}", e.what());
    return exit_code::config_error;
  }

  std::optional<python::Interpreter> interpreter;
  try {
    interpreter.emplace(python::InterpreterOptions{config.pythonpath, config.venv, config.chdir});
  } catch (const std::exception& e) {
    logging::error_log().critical("{}", e.what());
    return exit_code::app_load_error;
  }

  // Declared before the pool: the pool (and its contexts) must be gone before the server.
  worker::HttpServer server(config, listen_fds);
  std::optional<python::ContextPool> pool;
  const python::WsgiSettings wsgi{config.contexts > 1, config.workers > 1 && inherited_fds.size() > 0};
  try {
    pool.emplace(*interpreter, static_cast<int>(config.contexts), [&](int) {
      return std::make_unique<python::WsgiAdapter>(python::load_app(config.app), wsgi);
    });
  } catch (const std::exception& e) {
    logging::error_log().critical("failed to load the app: {}", e.what());
    return exit_code::app_load_error;
  }

  for (const int fd : listen_fds) logging::error_log().info("listening on {}", socket_name(fd));
  logging::error_log().info("ready: app {} with {} context(s)", config.app, config.contexts);

  server.run([&](HttpRequest request, std::shared_ptr<ResponseSink> sink) {
    pool->submit([request = std::move(request), sink = std::move(sink)](python::ContextState& state) {
      static_cast<python::WsgiAdapter&>(state).handle(request, *sink);
    });
  });
  pool.reset();
  logging::error_log().info("stopped");
  return exit_code::ok;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> inherited_fds;
  const std::vector<config::ExtraOption> extras = {
      {"fd", "N", "serve on this already-open listen socket (repeatable; how the arbiter starts workers)",
       &inherited_fds}};
  const auto startup = config::start(argc, argv, "hornbeam-worker", extras, std::cout, std::cerr);
  if (!startup.config) return startup.exit_status;
  try {
    logging::configure(config::logging_options(*startup.config, "worker"));
  } catch (const std::exception& e) {
    std::cerr << "hornbeam-worker: error: " << e.what() << "\n";
    return exit_code::config_error;
  }
  return run(*startup.config, inherited_fds);
}
