// hornbeam-worker: one process serving the app over HTTP/1.1 with a pool of Python contexts.
// Runs alone (`--bind`) for development, tests and benchmarks, or under the arbiter, which
// passes the listen sockets (`--fd`), the shared-memory segment and the worker's slot.

#include "common/bind_address.hpp"
#include "common/exit_codes.hpp"
#include "common/listen_socket.hpp"
#include "common/logging.hpp"
#include "common/standard_fds.hpp"
#include "config/logging_options.hpp"
#include "config/startup.hpp"
#include "config/without_effect.hpp"
#include "python/app_loader.hpp"
#include "python/asgi_context.hpp"
#include "python/context_pool.hpp"
#include "python/interpreter.hpp"
#include "python/pubsub_module.hpp"
#include "python/request_hooks.hpp"
#include "python/state_module.hpp"
#include "python/traceback_dump.hpp"
#include "python/worker_hooks.hpp"
#include "python/wsgi_adapter.hpp"
#include "worker/arbiter_link.hpp"
#include "worker/http_server.hpp"
#include "worker/shared_state_choice.hpp"

#include <spdlog/logger.h>

#include <malloc.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <random>
#include <sstream>

namespace {

using namespace hornbeam;

// What the arbiter tells a worker on its command line (absent when the worker runs alone).
struct ArbiterArguments {
  std::vector<std::string> fds;               // listen sockets opened by the arbiter
  std::vector<std::string> tls_fds;           // the same, serving TLS (`https://` binds)
  std::vector<std::string> reuse_port_binds;  // addresses this worker binds itself (reuse_port)
  std::vector<std::string> shm_fd, slot, generation;

  bool any_listen() const { return !fds.empty() || !tls_fds.empty() || !reuse_port_binds.empty(); }
};

// Slow clients cost one fd each: take every fd the hard limit allows.
void raise_open_files_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

// Request and response bodies come and go in blocks of 64 KiB to a few MiB. glibc maps and
// unmaps each block above its mmap threshold (128 KiB at first), so that every large body paid
// for its pages again in page faults (a quarter of the time of a 1 MiB ASGI echo). Blocks up to
// 32 MiB come from the heap instead.
//
// Memory freed at the top of a heap goes back to the system past the trim threshold, and is
// faulted in again by the next bodies: with 8 MiB, 50 concurrent 1 MiB ASGI echoes spent a
// quarter of their CPU time in page faults (558 µs per request; 420 with 64 MiB). A thread's
// own heap keeps its top, though, until a free() finds it above the threshold, and
// malloc_trim (the server's timer, after a busy spell) cannot shrink it: with 64 MiB a loop
// thread kept 65 MiB after a burst. Thread contexts therefore share the main heap
// (M_ARENA_MAX 1: one Python thread runs at a time, so the I/O thread is its only rival for
// the heap's lock), whose top malloc_trim gives back: 28 MiB again within the timer's 2 s.
// Own-GIL contexts run Python side by side and would contend for one heap: they keep one
// each, with the low threshold.
void tune_malloc(bool own_gil_contexts) {
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  if (own_gil_contexts) {
    mallopt(M_TRIM_THRESHOLD, 8 << 20);
  } else {
    mallopt(M_ARENA_MAX, 1);
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
  }
}

std::vector<worker::ListenFd> open_listen_sockets(const config::Config& config,
                                                  const ArbiterArguments& arguments) {
  std::vector<worker::ListenFd> fds;
  ListenOptions options;
  options.backlog = static_cast<int>(config.backlog);
  options.umask = static_cast<mode_t>(config.umask);
  const auto open_bind = [&](const std::string& bind) {
    const auto address = BindAddress::parse(bind);
    fds.push_back({open_listen_socket(bind, options).release(), address && address->tls});
  };
  if (arguments.any_listen()) {
    for (const auto& fd : arguments.fds) fds.push_back({std::stoi(fd), false});
    for (const auto& fd : arguments.tls_fds) fds.push_back({std::stoi(fd), true});
    options.reuse_port = true;
    for (const auto& bind : arguments.reuse_port_binds) open_bind(bind);
  } else {
    options.reuse_port = config.reuse_port;
    for (const auto& bind : config.bind) open_bind(bind);
  }
  return fds;
}

std::optional<worker::ArbiterLink::Placement> placement(const ArbiterArguments& arguments) {
  if (arguments.shm_fd.empty()) return std::nullopt;
  if (arguments.slot.empty() || arguments.generation.empty()) {
    throw std::runtime_error("--shm-fd needs --slot and --generation");
  }
  return worker::ArbiterLink::Placement{
      std::stoi(arguments.shm_fd.back()),
      static_cast<std::uint32_t>(std::stoul(arguments.slot.back())),
      std::stoull(arguments.generation.back())};
}

// max_requests plus a random share of max_requests_jitter, so that workers do not all recycle
// at the same moment.
std::uint64_t draw_max_requests(const config::Config& config) {
  if (config.max_requests <= 0) return 0;
  std::uint64_t jitter = 0;
  if (config.max_requests_jitter > 0) {
    std::mt19937_64 random(std::random_device{}());
    jitter = std::uniform_int_distribution<std::uint64_t>(
        0, static_cast<std::uint64_t>(config.max_requests_jitter))(random);
  }
  return static_cast<std::uint64_t>(config.max_requests) + jitter;
}

// The tracebacks of a stuck worker, one log line each, threads named by their context (the
// pools' contexts are numbered one after the other, as in the worker's slot): those of the
// worker's interpreter, then those of each context's own (owngil).
void log_tracebacks(const python::Interpreter& interpreter,
                    std::initializer_list<python::ContextPool*> pools) {
  std::vector<PyInterpreterState*> interpreters{interpreter.state()};
  for (auto* pool : pools) {
    for (int index = 0; pool && index < pool->size(); ++index) {
      auto* own = pool->interpreter(index);
      if (own && std::find(interpreters.begin(), interpreters.end(), own) == interpreters.end())
        interpreters.push_back(own);
    }
  }
  std::string text;
  for (auto* each : interpreters)
    text += python::dump_thread_tracebacks(each, std::chrono::milliseconds(500));
  int number = 0;
  for (auto* pool : pools) {
    if (!pool) continue;
    for (int index = 0; index < pool->size(); ++index, ++number) {
      char ident[32];
      std::snprintf(ident, sizeof ident, "Thread 0x%016lx", pool->thread_ident(index));
      const std::string named = "Context " + std::to_string(number) + " (" + ident + ")";
      for (auto at = text.find(ident); at != std::string::npos;
           at = text.find(ident, at + named.size())) {
        text.replace(at, std::string_view(ident).size(), named);
      }
    }
  }
  auto& log = logging::error_log();
  log.error("worker timed out: Python tracebacks of its threads follow");
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty()) log.error("{}", line);
  }
}

// SIGUSR1 (reopen the log files) reaches every worker, booting ones included, and its default
// action is to die: a worker booting while logs were rotated failed its boot. Until the
// server takes the signal over, it is only remembered.
volatile sig_atomic_t usr1_during_boot = 0;

void remember_usr1_until_the_server_listens() {
  struct sigaction action {};
  action.sa_handler = [](int) { usr1_during_boot = 1; };
  action.sa_flags = SA_RESTART;
  ::sigaction(SIGUSR1, &action, nullptr);
  // The arbiter's signals change nothing in a worker, booting or not (kArbiterSignals).
  struct sigaction nothing {};
  nothing.sa_handler = [](int) {};
  nothing.sa_flags = SA_RESTART;
  for (const int signal : worker::kArbiterSignals) ::sigaction(signal, &nothing, nullptr);
}

// What to do when an extension module the app imports refuses subinterpreters (its
// ImportError, the error's last line, names it): "" for any other error.
std::string refused_subinterpreters_hint(std::string_view error) {
  if (error.find("does not support loading in subinterpreters") == std::string_view::npos)
    return {};
  return " (context_mode: owngil runs each context in a subinterpreter, which this extension "
         "module refuses: serve this app with context_mode: thread)";
}

// "app hello:app", or "apps /=site:app, /api=api:app (ASGI, uvloop loop)" for mounts.
std::string describe_apps(const std::vector<config::Mount>& apps, const std::string& loop) {
  const auto kind = [&](const config::Mount& app) {
    return app.worker_class == "asgi" ? " (ASGI, " + loop + " loop)" : std::string();
  };
  if (apps.size() == 1 && apps[0].prefix == "/") return "app " + apps[0].app + kind(apps[0]);
  std::string text = "apps ";
  for (const auto& app : apps) {
    text += (text.size() > 5 ? ", " : "") + app.prefix + "=" + app.app + kind(app);
  }
  return text;
}

int run(const config::Config& config, const ArbiterArguments& arguments) {
  raise_open_files_limit();
  tune_malloc(config.context_mode == "owngil");
  worker::ArbiterLink link;
  std::vector<worker::ListenFd> listen_fds;
  try {
    if (const auto where = placement(arguments)) link.attach(*where);
    listen_fds = open_listen_sockets(config, arguments);
  } catch (const std::exception& e) {
    logging::error_log().critical("{}", e.what());
    link.boot_failed(e.what());
    return exit_code::config_error;
  }
  // Under the arbiter, the arbiter said so once for every worker.
  if (!link.supervised()) {
    for (const auto& warning : config::settings_without_effect(config))
      logging::error_log().warn("{}", warning);
    if (const auto warning = config::arbiter_settings_for_a_worker_alone(config); !warning.empty())
      logging::error_log().warn("{}", warning);
  }
  const auto max_requests = draw_max_requests(config);
  link.set_max_requests(max_requests);
  if (max_requests > 0) {
    logging::error_log().info(
        "this worker is recycled after {} requests (max_requests {} + jitter {})", max_requests,
        config.max_requests, max_requests - static_cast<std::uint64_t>(config.max_requests));
  }

  // The shared state (worker/shared_state_choice.hpp), declared before the interpreter, which
  // uses it to its end.
  std::optional<worker::SharedStateChoice> shared_state;
  std::optional<python::Interpreter> interpreter;
  try {
    shared_state.emplace(config, link);
    python::register_state_module(shared_state->backend());
    python::set_pubsub_bus(shared_state->bus());
    python::InterpreterOptions options{config.pythonpath, config.venv, config.chdir, {}};
    options.own_gil_contexts = config.context_mode == "owngil";
    options.crash_report_fd = logging::error_log_fd();
    const auto served = config::served_apps(config);
    const bool serves_asgi = std::any_of(
        served.begin(), served.end(), [](const auto& app) { return app.worker_class == "asgi"; });
    // Subinterpreters import their own: what the main one imported does not reach them.
    if (serves_asgi && config.loop != "asyncio" && !options.own_gil_contexts)
      options.preload.push_back("uvloop");
    interpreter.emplace(options);
  } catch (const std::exception& e) {
    logging::error_log().critical("{}", e.what());
    link.boot_failed(e.what());
    return exit_code::app_load_error;
  }

  // Declared before the pools: the pools (and their contexts) must be gone before the server.
  std::optional<worker::HttpServer> server;
  server.emplace(config, listen_fds);  // from here on the server handles SIGUSR1
  if (usr1_during_boot) logging::reopen_files();
  // The apps this worker serves (mounts, and the app at `/`): WSGI apps run in job contexts,
  // ASGI apps on event loops; a worker serving both has contexts of both kinds.
  const auto apps = config::served_apps(config);
  std::vector<bool> is_asgi;
  for (const auto& app : apps) is_asgi.push_back(app.worker_class == "asgi");
  const bool any_asgi = std::find(is_asgi.begin(), is_asgi.end(), true) != is_asgi.end();
  const bool any_wsgi = std::find(is_asgi.begin(), is_asgi.end(), false) != is_asgi.end();
  const int contexts = static_cast<int>(config.contexts);
  const bool own_gil = config.context_mode == "owngil";
  const int first_asgi_context = any_wsgi ? contexts : 0;  // numbering in the worker's slot
  std::optional<python::ContextPool> wsgi_pool;
  std::optional<python::ContextPool> asgi_pool;
  // Counts a finished request; at max_requests the worker is replaced.
  const auto count_request = [&] {
    if (!link.count_request()) return;
    if (link.supervised()) {
      logging::error_log().info(
          "reached max_requests: the arbiter starts a replacement, then this worker drains");
    } else {
      server->request_graceful_stop("max_requests reached");
    }
  };
  const auto activity = [&](int index, python::ContextPool::Event event,
                            python::ContextPool::TimeLimit time_limit) {
    using Event = python::ContextPool::Event;
    switch (event) {
      case Event::job_started: return link.context_busy(index, true, time_limit);
      case Event::job_ended: link.context_busy(index, false, time_limit); return count_request();
      case Event::client_wait_began: return link.context_waits_for_client(index, true);
      case Event::client_wait_ended: return link.context_waits_for_client(index, false);
    }
  };
  // A few beats per timeout, so that one late beat never looks like a dead worker.
  const auto beat = config.timeout.count() > 0 ? config.timeout / 4 : std::chrono::seconds(1);
  const auto tick_interval =
      std::clamp<config::Duration>(beat, std::chrono::milliseconds(50), std::chrono::seconds(1));
  std::vector<python::AsgiContext*> asgi_contexts(static_cast<std::size_t>(contexts), nullptr);
  // An app as its context runs it: with the request hooks around it, when there are any.
  const auto load_with_hooks = [&](const config::Mount& app, bool asgi_app) {
    return python::with_request_hooks(
        asgi_app ? python::load_asgi_app(app.app) : python::load_wsgi_app(app.app), asgi_app,
        app.prefix, config.hooks);
  };
  const auto make_wsgi_context = [&](int) -> std::unique_ptr<python::ContextState> {
    auto context = std::make_unique<python::WsgiContext>();
    for (std::size_t i = 0; i < apps.size(); ++i) {
      // Under owngil each context has its own copy of the app, in its own interpreter: to
      // the app, the other contexts are like other processes (PEP 3333's flags).
      const python::WsgiSettings wsgi{
          contexts > 1 && !own_gil,
          (config.workers > 1 && link.supervised()) || (contexts > 1 && own_gil), apps[i].prefix};
      context->apps.push_back(is_asgi[i] ? nullptr
                                         : std::make_unique<python::WsgiAdapter>(
                                               load_with_hooks(apps[i], false), wsgi));
    }
    return context;
  };
  const auto make_asgi_context = [&](int index) -> std::unique_ptr<python::ContextState> {
    const python::AsgiSettings settings{config.loop, config.lifespan, config.graceful_timeout,
                                        tick_interval, index};
    // An event loop is never idle in the WSGI sense: it proves every tick that it still turns,
    // so the arbiter's timeout catches a loop that an app blocks.
    const int slot_index = first_asgi_context + index;
    python::AsgiHooks hooks{[&link, slot_index] { link.context_busy(slot_index, true); },
                            count_request};
    std::vector<python::AsgiMount> mounts;
    for (std::size_t i = 0; i < apps.size(); ++i)
      mounts.push_back(
          {apps[i].prefix, is_asgi[i] ? load_with_hooks(apps[i], true) : python::PyRef()});
    auto context =
        std::make_unique<python::AsgiContext>(std::move(mounts), settings, std::move(hooks));
    asgi_contexts[static_cast<std::size_t>(index)] = context.get();
    return context;
  };
  try {
    if (any_wsgi) wsgi_pool.emplace(*interpreter, contexts, make_wsgi_context, activity);
    if (any_asgi) asgi_pool.emplace(*interpreter, contexts, make_asgi_context);
  } catch (const python::LifespanStartupFailed& e) {
    logging::error_log().critical("{}", e.what());
    link.boot_failed(e.what());
    return exit_code::boot_failure;
  } catch (const std::exception& e) {
    const std::string error = std::string("failed to load the app: ") + e.what() +
                              (own_gil ? refused_subinterpreters_hint(e.what()) : "");
    logging::error_log().critical("{}", error);
    link.boot_failed(error);
    return exit_code::app_load_error;
  }

  // After the apps, before the worker says it is ready (so that a failing hook fails the boot).
  const int all_contexts = (any_wsgi ? contexts : 0) + (any_asgi ? contexts : 0);
  std::optional<python::WorkerHooks> worker_hooks;
  try {
    const auto where = placement(arguments);
    worker_hooks.emplace(
        *interpreter, config.hooks,
        python::WorkerIdentity{
            static_cast<long>(::getpid()), where ? std::optional(where->generation) : std::nullopt,
            where ? std::optional<std::uint64_t>(where->slot) : std::nullopt, all_contexts});
  } catch (const std::exception& e) {
    logging::error_log().critical("failed to load a worker hook: {}", e.what());
    link.boot_failed(std::string("failed to load a worker hook: ") + e.what());
    return exit_code::app_load_error;
  }
  try {
    worker_hooks->post_worker_init();
  } catch (const std::exception& e) {
    logging::error_log().critical("{}", e.what());
    link.boot_failed(e.what());
    return exit_code::boot_failure;
  }

  for (const auto& listen : listen_fds) {
    logging::error_log().info("listening on {}{}", socket_name(listen.fd),
                              listen.tls ? " (TLS)" : "");
  }
  logging::error_log().info("ready: {} with {} context(s) ({}, Python {})",
                            describe_apps(apps, any_asgi ? asgi_contexts.front()->loop_name() : ""),
                            all_contexts, own_gil ? "own-GIL subinterpreters" : "threads",
                            PY_VERSION);
  if (auto* stats = link.stats()) stats->job_contexts.store(any_wsgi ? contexts : 0);
  link.ready(all_contexts);

  worker::ServerEvents events;
  const auto least_loaded_loop = [&] {
    return *std::min_element(asgi_contexts.begin(), asgi_contexts.end(),
                             [](auto* a, auto* b) { return a->load() < b->load(); });
  };
  events.dispatch = [&](HttpRequest&& request, std::shared_ptr<ResponseSink> sink) {
    if (is_asgi[static_cast<std::size_t>(request.mount)])
      return least_loaded_loop()->dispatch(std::move(request), std::move(sink));
    // The mount's own `timeout`, if it has one, is this request's stuck-request deadline.
    const auto time_limit = apps[static_cast<std::size_t>(request.mount)].timeout;
    wsgi_pool->submit(std::move(request), std::move(sink), time_limit);
  };
  if (any_asgi) {
    events.dispatch_websocket = [&](HttpRequest&& request, std::shared_ptr<ResponseSink> sink,
                                    std::shared_ptr<WebSocketPeer> peer) {
      least_loaded_loop()->dispatch_websocket(std::move(request), std::move(sink), std::move(peer));
    };
  }
  events.contexts_send_directly = any_wsgi;
  events.stats = link.stats();
  events.tick_interval = tick_interval;
  bool arbiter_gone = false;
  events.on_tick = [&] {
    link.heartbeat();
    if (auto* stats = link.stats(); stats && wsgi_pool) {
      stats->gil_wait_us.store(wsgi_pool->gil_wait_ns() / 1000, std::memory_order_relaxed);
    }
    if (link.supervised() && !arbiter_gone && link.arbiter_gone()) {
      arbiter_gone = true;
      logging::error_log().warn("the arbiter is gone (this worker's parent is now pid {})",
                                ::getppid());
      server->request_graceful_stop("the arbiter is gone");
    }
  };
  events.on_drain = [&] { link.draining(); };
  events.on_stuck = [&] {
    worker_hooks->worker_abort(std::chrono::seconds(1));
    log_tracebacks(*interpreter,
                   {wsgi_pool ? &*wsgi_pool : nullptr, asgi_pool ? &*asgi_pool : nullptr});
  };
  const auto reason = server->run(std::move(events));
  if (reason == worker::StopReason::stuck) {
    // A context may never return: do not wait for it (nor finalize Python under it).
    logging::error_log().info("stopped (timed out)");
    logging::error_log().flush();
    if (auto* access = logging::access_log()) access->flush();
    std::_Exit(1);
  }
  worker_hooks->worker_exit();
  worker_hooks.reset();
  wsgi_pool.reset();
  asgi_pool.reset();
  server.reset();
  logging::error_log().info("stopped");
  return exit_code::ok;
}

}  // namespace

int main(int argc, char** argv) {
  // The log's reader may go away (`hornbeam-arbiter | head`, a log collector restarted): a
  // write to its pipe killed every worker as it booted, and the arbiter then gave up. The
  // python3 program ignores SIGPIPE from its start, the embedded interpreter does not
  // (install_signal_handlers = 0): the worker does it itself. Its sockets never needed the
  // signal (MSG_NOSIGNAL), and the app's subprocesses get the default back, as under python3.
  ::signal(SIGPIPE, SIG_IGN);
  open_missing_standard_fds();
  remember_usr1_until_the_server_listens();
  ArbiterArguments arguments;
  const std::vector<config::ExtraOption> extras = {
      {"fd", "N",
       "serve on this already-open listen socket (repeatable; how the arbiter starts workers)",
       &arguments.fds},
      {"tls-fd", "N", "the same, serving TLS (`https://` binds; set by the arbiter)",
       &arguments.tls_fds},
      {"reuse-port-bind", "ADDR",
       "bind this address with SO_REUSEPORT (set by the arbiter under reuse_port)",
       &arguments.reuse_port_binds},
      {"shm-fd", "N", "the arbiter's shared-memory segment (set by the arbiter)",
       &arguments.shm_fd},
      {"slot", "N", "this worker's slot in the segment (set by the arbiter)", &arguments.slot},
      {"generation", "N", "this worker's generation (set by the arbiter)", &arguments.generation}};
  const auto startup = config::start(argc, argv, "hornbeam-worker", extras, std::cout, std::cerr);
  // The arbiter hands the resolved configuration over as /dev/fd/N; the fd is not needed after.
  if (startup.config_file.starts_with("/dev/fd/"))
    ::close(std::atoi(startup.config_file.c_str() + 8));
  if (!startup.config) return startup.exit_status;
  try {
    logging::configure(config::logging_options(*startup.config, "worker"));
  } catch (const std::exception& e) {
    std::cerr << "hornbeam-worker: error: " << e.what() << "\n";
    return exit_code::config_error;
  }
  return run(*startup.config, arguments);
}
