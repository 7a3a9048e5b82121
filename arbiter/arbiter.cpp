#include "arbiter/arbiter.hpp"

#include "arbiter/control_server.hpp"
#include "arbiter/file_watcher.hpp"
#include "arbiter/listen_set.hpp"
#include "arbiter/metrics.hpp"
#include "arbiter/metrics_server.hpp"
#include "arbiter/pidfile.hpp"
#include "arbiter/process_memory.hpp"
#include "arbiter/sd_notify.hpp"
#include "arbiter/signal_queue.hpp"
#include "arbiter/spawner.hpp"
#include "arbiter/status_report.hpp"
#include "arbiter/supervisor.hpp"
#include "arbiter/wait_status.hpp"
#include "common/bind_address.hpp"
#include "common/exit_codes.hpp"
#include "common/logging.hpp"
#include "common/version.hpp"
#include "config/json_output.hpp"
#include "config/logging_options.hpp"
#include "config/without_effect.hpp"

#include <spdlog/logger.h>
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <deque>
#include <filesystem>
#include <future>
#include <map>
#include <mutex>

namespace hornbeam::arbiter {
namespace {

constexpr std::chrono::milliseconds loop_period{100};

// Room for every worker of two generations side by side (a reload), and then some.
std::uint32_t slot_capacity(const config::Config& config) {
  return static_cast<std::uint32_t>(std::max<std::int64_t>(64, 4 * config.workers));
}

std::string worker_executable() {
  // Installed side by side; in the build tree, where CMake put it.
  const auto beside =
      std::filesystem::path(own_executable_path()).parent_path() / "hornbeam-worker";
  if (::access(beside.c_str(), X_OK) == 0) return beside.string();
  return HORNBEAM_WORKER_BUILD_PATH;
}

bool hornbeam_variable(const std::string& name) { return name.starts_with("HORNBEAM_"); }

std::optional<uid_t> resolve_user(const std::string& user) {
  if (user.empty()) return std::nullopt;
  if (const passwd* entry = ::getpwnam(user.c_str())) return entry->pw_uid;
  return static_cast<uid_t>(std::stoul(user));
}

std::optional<gid_t> resolve_group(const std::string& group, const std::string& user) {
  if (!group.empty()) {
    if (const struct group* entry = ::getgrnam(group.c_str())) return entry->gr_gid;
    return static_cast<gid_t>(std::stoul(group));
  }
  if (user.empty()) return std::nullopt;
  // Like su: a user without a group gets its own primary group.
  const passwd* entry = ::getpwnam(user.c_str());
  return entry ? std::optional<gid_t>(entry->pw_gid) : std::nullopt;
}

bool is_listening(int fd) {
  int listening = 0;
  socklen_t length = sizeof listening;
  return ::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &length) == 0 && listening;
}

GenerationSettings settings_of(const config::Config& config) {
  GenerationSettings settings;
  settings.workers = static_cast<int>(config.workers);
  settings.timeout = config.timeout;
  settings.graceful_timeout = config.graceful_timeout;
  settings.max_memory = config.max_worker_memory;
  settings.max_lifetime = config.max_worker_lifetime;
  settings.lifetime_jitter = config.max_worker_lifetime_jitter;
  return settings;
}

// What `reload` watches: `reload_paths`, or where the app is imported from (`chdir` and the
// `pythonpath` entries that exist), and the config file itself.
FileWatcher::Options reload_watch_of(const config::Config& config, const config::Sources& sources) {
  namespace fs = std::filesystem;
  FileWatcher::Options options;
  options.include = config.reload.include;
  options.exclude = config.reload.exclude;
  options.debounce = config.reload.debounce;
  if (!config.reload.paths.empty()) {
    options.roots = config.reload.paths;
  } else {
    std::vector<std::string> candidates = {config.chdir};
    candidates.insert(candidates.end(), config.pythonpath.begin(), config.pythonpath.end());
    for (const auto& candidate : candidates) {
      std::error_code error;
      const auto path = fs::canonical(fs::path(config.chdir) / candidate, error);
      if (error || !fs::is_directory(path)) continue;
      if (std::find(options.roots.begin(), options.roots.end(), path.string()) ==
          options.roots.end())
        options.roots.push_back(path.string());
    }
  }
  // A virtualenv inside the app's directory is not the app's code.
  if (!config.venv.empty()) options.exclude.push_back(fs::path(config.venv).filename().string());
  if (!sources.config_file.empty() && !sources.config_file.starts_with("/dev/") &&
      !sources.config_file.starts_with("/proc/"))
    options.files.push_back(sources.config_file);
  return options;
}

// "a.py, b/c.py and 3 more"
std::string list_of_changes(const std::vector<std::string>& files) {
  constexpr std::size_t shown = 5;
  std::string text;
  for (std::size_t i = 0; i < files.size() && i < shown; ++i) {
    if (i > 0) text += ", ";
    text += files[i];
  }
  if (files.size() > shown) text += " and " + std::to_string(files.size() - shown) + " more";
  return text;
}

// Everything a generation's workers are started with.
struct GenerationLaunch {
  std::shared_ptr<const config::Config> config;
  UniqueFd config_fd;  // the resolved configuration as JSON, read by workers as /dev/fd/N
  ListenSockets sockets;
  std::vector<bool> tls;  // per socket: written https:// (systemd's sockets are plain)
};

UniqueFd config_memfd(const config::Config& config) {
  UniqueFd fd(::memfd_create("hornbeam-config", MFD_CLOEXEC));
  if (!fd) throw std::runtime_error("cannot create the configuration memfd");
  const std::string text = config::to_json_text(config);
  if (::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
    throw std::runtime_error("cannot write the configuration memfd");
  }
  return fd;
}

class Arbiter final : public Processes {
 public:
  explicit Arbiter(ArbiterOptions options)
      : options_(std::move(options)),
        executable_(own_executable_path()),
        segment_(make_segment()),
        supervisor_(*this, segment_, ::getpid()),
        metrics_(segment_, ::getpid(),
                 {version_number(), HORNBEAM_PYTHON_VERSION, options_.config.context_mode}) {
    supervisor_.set_metrics(&metrics_);
  }

  int run() {
    SignalQueue signals{SIGHUP,  SIGTERM, SIGINT,  SIGQUIT,  SIGTTIN,
                        SIGTTOU, SIGUSR1, SIGUSR2, SIGWINCH, SIGCHLD};
    signals_ = &signals;
    std::optional<ControlServer> control;  // before `signals` goes: it wakes the loop
    try {
      // The new arbiter of a USR2 upgrade writes the pidfile the old one renamed away.
      if (!options_.config.pidfile.empty() && !options_.inherited.any())
        Pidfile::check_no_arbiter_runs(options_.config.pidfile);
      adopt_sockets();
      start_generation(std::make_shared<const config::Config>(options_.config));
      if (!options_.config.pidfile.empty()) pidfile_ = Pidfile(options_.config.pidfile);
      if (!options_.config.metrics_bind.empty()) {
        metrics_server_ = std::make_unique<MetricsServer>(
            options_.config.metrics_bind, metrics_, static_cast<mode_t>(options_.config.umask),
            options_.inherited.any());
      }
      if (const auto path = config::control_socket_path(options_.config); !path.empty()) {
        // The new arbiter of a USR2 upgrade takes the path over from the old one.
        control.emplace(path, options_.inherited.any(),
                        [this](const std::string& request) { return hand_over(request); });
        control_ = &*control;
        logging::error_log().info("control socket {} (hornbeamctl -s {} status)", path, path);
      }
      watch_for_reload(options_.config);
    } catch (const std::exception& e) {
      logging::fatal("hornbeam-arbiter", e.what());
      return exit_code::config_error;
    }
    logging::error_log().info("arbiter started (pid {}): app {}, {} worker(s) of {} context(s)",
                              ::getpid(), options_.config.app, options_.config.workers,
                              options_.config.contexts);
    for (const auto& warning : config::settings_without_effect(options_.config))
      logging::error_log().warn("{}", warning);
    const auto& first_launch = launches_.rbegin()->second;
    for (std::size_t i = 0; i < first_launch.sockets.size(); ++i) {
      const auto& socket = first_launch.sockets[i];
      logging::error_log().info(
          "listening on {}{}{}", socket->name(), first_launch.tls[i] ? " (TLS)" : "",
          socket->reserved_for_reuse_port() ? " (one SO_REUSEPORT socket per worker)" : "");
    }
    if (metrics_server_) {
      logging::error_log().info("metrics on {} (/metrics, /healthz, /readyz)",
                                metrics_server_->name());
    }
    while (true) {
      signals.also_wake_on(watcher_ ? watcher_->fd() : -1);
      for (const int signal : signals.wait(loop_period)) handle_signal(signal);
      notifier_.feed_watchdog(Clock::now());
      run_control_requests();
      if (watcher_) {
        if (const auto changed = watcher_->poll(Clock::now()); !changed.empty())
          reload("reload: " + list_of_changes(changed) + " changed", true);
      }
      if (graceful_stop_at_ && Clock::now() >= *graceful_stop_at_) begin_graceful_stop();
      reap();
      supervisor_.tick(Clock::now());
      handle_events();
      metrics_.set_ready_workers(supervisor_.ready_count());
      metrics_.generation_started(supervisor_.generation());
      metrics_.loop_turned();
      forget_unused_launches();
      if (supervisor_.stopping() && supervisor_.idle()) break;
    }
    // Commands that came in with the last turn get their answer before the socket goes.
    run_control_requests();
    if (upgrade_pid_) {
      for (const auto& socket : listen_set_.alive())
        socket->hand_over();  // the new arbiter serves on them
    }
    // Stopped while the arbiter it upgraded from still runs (a roll-back): that one still
    // serves on the sockets it handed down, at the same paths.
    if (upgraded_from_ != 0 && ::getppid() == upgraded_from_) {
      for (const auto& inherited : inherited_sockets_) {
        if (const auto socket = inherited.lock()) socket->hand_over();
      }
    }
    if (gave_up_) {
      logging::fatal("hornbeam-arbiter", *gave_up_);
      return exit_code::boot_failure;
    }
    logging::error_log().info("arbiter stopped");
    return exit_code::ok;
  }

  // Processes
  pid_t spawn(std::uint32_t slot, std::uint64_t generation) override {
    const auto& launch = launches_.at(generation);
    ChildSpec spec;
    spec.executable = worker_executable();
    spec.arguments = {"-c",           "/dev/fd/" + std::to_string(launch.config_fd.get()),
                      "--shm-fd",     std::to_string(segment_.fd()),
                      "--slot",       std::to_string(slot),
                      "--generation", std::to_string(generation)};
    spec.pass_fds = {launch.config_fd.get(), segment_.fd()};
    for (std::size_t i = 0; i < launch.sockets.size(); ++i) {
      const auto& socket = launch.sockets[i];
      const bool tls = launch.tls[i];
      if (socket->reserved_for_reuse_port()) {
        spec.arguments.insert(spec.arguments.end(),
                              {"--reuse-port-bind", (tls ? "https://" : "") + socket->name()});
      } else {
        spec.arguments.insert(spec.arguments.end(),
                              {tls ? "--tls-fd" : "--fd", std::to_string(socket->fd())});
        spec.pass_fds.push_back(socket->fd());
      }
    }
    // Workers get their configuration from the arbiter, not from HORNBEAM_* a second time.
    spec.environment = current_environment(hornbeam_variable);
    spec.user = resolve_user(launch.config->user);
    spec.group = resolve_group(launch.config->group, launch.config->user);
    if (spec.user == ::getuid()) spec.user.reset();
    if (spec.group == ::getgid()) spec.group.reset();
    spec.pid_cell = &segment_.slot(slot).pid;
    return spawn_child(spec);
  }

  void signal(pid_t pid, int signal) override {
    if (pid > 0) ::kill(pid, signal);
  }

  std::optional<std::uint64_t> resident_memory(pid_t pid) override {
    return resident_memory_of(pid);
  }

 private:
  shm::Segment make_segment() {
    if (options_.inherited.shm_fd >= 0) {
      auto segment = shm::Segment::attach(options_.inherited.shm_fd);
      ::close(options_.inherited.shm_fd);
      return segment;
    }
    return shm::Segment::create(slot_capacity(options_.config), options_.config.shared_state.size);
  }

  void adopt_sockets() {
    auto activated = take_activated_sockets();
    if (!activated.empty()) {
      listen_set_.set_socket_activated(true);
      logging::error_log().info(
          "socket activation: serving on the {} socket(s) systemd passed; `bind` is not used",
          activated.size());
      for (auto& fd : activated) {
        const std::string name = socket_name(fd.get());
        auto socket = std::make_shared<ListenSocket>(name, std::move(fd), false);
        socket->hand_over();  // systemd's: its unix socket file outlives this arbiter
        listen_set_.adopt(std::move(socket));
      }
    }
    for (const auto& entry : options_.inherited.listen) {
      const auto equals = entry.rfind('=');
      if (equals == std::string::npos)
        throw std::runtime_error("--inherit-listen expects BIND=FD, got " + entry);
      UniqueFd fd(std::stoi(entry.substr(equals + 1)));
      ::fcntl(fd.get(), F_SETFD, FD_CLOEXEC);
      const bool reserved = !is_listening(fd.get());
      auto socket =
          std::make_shared<ListenSocket>(entry.substr(0, equals), std::move(fd), reserved);
      inherited_sockets_.push_back(socket);
      listen_set_.adopt(std::move(socket));
    }
    if (!inherited_sockets_.empty()) upgraded_from_ = ::getppid();
  }

  // `reload`: (re)starts the watch as the configuration says. Throws when a path cannot be
  // watched (the caller keeps the previous watch on a reload).
  void watch_for_reload(const config::Config& config) {
    if (!config.reload.enabled) {
      watcher_.reset();
      return;
    }
    auto options = reload_watch_of(config, options_.sources);
    watcher_.emplace(options);
    logging::error_log().info(
        "reload: watching {} director{} under {} for {} (development: not for production)",
        watcher_->watched_directories(), watcher_->watched_directories() == 1 ? "y" : "ies",
        list_of_changes(options.roots), list_of_changes(options.include));
  }

  // Whether `bind` has an `https://` entry for this address ("127.0.0.1:8443", "[::]:8443",
  // "unix:/run/app.sock"): how a socket systemd passed is marked as TLS.
  static bool https_bind_names(const config::Config& config, const std::string& address) {
    return std::any_of(config.bind.begin(), config.bind.end(), [&](const std::string& entry) {
      const auto bind = BindAddress::parse(entry);
      return bind && bind->tls && bind->to_string() == address;
    });
  }

  // Why `workers` cannot be had (see Supervisor::max_workers).
  std::string too_many_workers(std::int64_t workers) const {
    return "cannot run " + std::to_string(workers) + " workers: this arbiter's shared-memory " +
           "segment has slots for " + std::to_string(supervisor_.max_workers()) +
           " (two generations' worth, for reloads); restart the arbiter to go past that";
  }

  // Opens what the config needs (throws: nothing changed) and makes it the current generation.
  void start_generation(std::shared_ptr<const config::Config> config, bool one_first = false) {
    if (config->workers > supervisor_.max_workers())
      throw std::runtime_error(too_many_workers(config->workers));
    GenerationLaunch launch;
    launch.config = config;
    launch.sockets = listen_set_.open(
        *config, resolve_user(config->user).value_or(static_cast<uid_t>(-1)),
        resolve_group(config->group, config->user).value_or(static_cast<gid_t>(-1)));
    launch.config_fd = config_memfd(*config);
    // ListenSet::open gives one socket per `bind` entry, in order (all of systemd's otherwise:
    // those whose address a `bind` entry names as `https://` serve TLS).
    for (std::size_t i = 0; i < launch.sockets.size(); ++i) {
      if (listen_set_.socket_activated()) {
        launch.tls.push_back(https_bind_names(*config, launch.sockets[i]->name()));
        continue;
      }
      const auto address = BindAddress::parse(config->bind[i]);
      launch.tls.push_back(address && address->tls);
    }
    const auto generation = ++last_generation_;
    launches_[generation] = std::move(launch);
    auto settings = settings_of(*config);
    settings.one_first = one_first;
    supervisor_.start_generation(generation, settings);
  }

  void handle_signal(int signal) {
    const auto now = Clock::now();
    switch (signal) {
      case SIGCHLD: break;  // reaped below, every turn
      case SIGHUP: reload("SIGHUP", false); break;
      case SIGTERM:
        if (supervisor_.stopping()) return stop_fast("SIGTERM again");
        if (graceful_stop_at_) return begin_graceful_stop();  // a second TERM: no more delay
        metrics_.set_stopping("SIGTERM");
        notifier_.notify("STOPPING=1");
        if (options_.config.shutdown_delay.count() > 0) {
          // Readiness fails now; load balancers stop sending while requests are still served.
          logging::error_log().info(
              "SIGTERM: not ready any more; serving {:.1f}s more (shutdown_delay), then a "
              "graceful stop",
              static_cast<double>(options_.config.shutdown_delay.count()) / 1000);
          graceful_stop_at_ = now + options_.config.shutdown_delay;
          break;
        }
        begin_graceful_stop();
        break;
      case SIGINT:
      case SIGQUIT: stop_fast(signal == SIGINT ? "SIGINT" : "SIGQUIT"); break;
      case SIGTTIN: scale_to(supervisor_.target() + 1, "SIGTTIN"); break;
      case SIGTTOU: scale_to(std::max(1, supervisor_.target() - 1), "SIGTTOU"); break;
      case SIGUSR1:
        logging::reopen_files();
        supervisor_.signal_all(SIGUSR1);
        logging::error_log().info("SIGUSR1: log files reopened (arbiter and workers)");
        break;
      case SIGUSR2: upgrade(); break;
      case SIGWINCH:
        logging::error_log().info(
            "SIGWINCH: stopping the workers gracefully; SIGHUP starts them again");
        supervisor_.set_target(0);
        break;
      default: break;
    }
  }

  void scale_to(int workers, const char* why) {
    if (workers > supervisor_.max_workers()) {
      logging::error_log().warn("{}: {}", why, too_many_workers(workers));
      workers = supervisor_.max_workers();
    }
    supervisor_.set_target(workers);
    logging::error_log().info("{}: {} worker(s)", why, supervisor_.target());
    report_status();
  }

  // The control thread: queues a command for the loop, wakes it, and waits for the answer.
  std::string hand_over(const std::string& text) {
    auto request = std::make_shared<ControlRequest>();
    request->text = text;
    auto answer = request->answer.get_future();
    {
      std::lock_guard lock(control_mutex_);
      control_requests_.push_back(request);
    }
    signals_->wake();
    if (answer.wait_for(std::chrono::seconds(5)) != std::future_status::ready)
      return R"({"ok":false,"error":"the arbiter did not answer within 5 s"})";
    return answer.get();
  }

  void run_control_requests() {
    std::deque<std::shared_ptr<ControlRequest>> requests;
    {
      std::lock_guard lock(control_mutex_);
      requests.swap(control_requests_);
    }
    for (auto& request : requests) {
      nlohmann::json answer;
      try {
        answer = run_control(nlohmann::json::parse(request->text));
      } catch (const std::exception& e) {
        answer = {{"ok", false}, {"error", std::string("bad request: ") + e.what()}};
      }
      request->answer.set_value(
          answer.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    }
  }

  // A control socket command: the same code as the signal that does the same.
  nlohmann::json run_control(const nlohmann::json& request) {
    const auto ok = [](const std::string& message) {
      return nlohmann::json{{"ok", true}, {"message", message}};
    };
    const auto error = [](const std::string& message) {
      return nlohmann::json{{"ok", false}, {"error", message}};
    };
    const std::string command = request.value("command", "");
    const auto now = Clock::now();
    if (command == "status") {
      auto status = status_report(supervisor_, segment_, now, started_);
      status["ok"] = true;
      return status;
    }
    if (command != "stop" && (supervisor_.stopping() || graceful_stop_at_))
      return error("the arbiter is stopping");
    logging::error_log().info("control socket: {}", request.dump());
    if (command == "reload") {
      handle_signal(SIGHUP);
      return ok("reloading: generation " + std::to_string(last_generation_) + " starts");
    }
    if (command == "scale") {
      const int workers = request.value("workers", 0);
      if (workers < 1) return error("scale: give at least 1 worker");
      if (workers > supervisor_.max_workers()) return error("scale: " + too_many_workers(workers));
      scale_to(workers, "control socket");
      return ok(std::to_string(workers) + " worker(s)");
    }
    if (command == "kill") {
      const auto slot = request.value("slot", -1);
      if (slot < 0 || !supervisor_.time_out(static_cast<std::uint32_t>(slot), now))
        return error("no serving worker in slot " + std::to_string(slot));
      return ok("worker in slot " + std::to_string(slot) + " timed out: tracebacks, then replaced");
    }
    if (command == "reopen-logs") {
      handle_signal(SIGUSR1);
      return ok("log files reopened");
    }
    if (command == "stop") {
      if (request.value("graceful", false)) {
        handle_signal(SIGTERM);
        return ok("stopping gracefully");
      }
      stop_fast("control socket stop");
      return ok("stopping");
    }
    return error("unknown command `" + command +
                 "` (status, reload, scale, kill, reopen-logs, stop)");
  }

  void begin_graceful_stop() {
    graceful_stop_at_.reset();
    logging::error_log().info(
        "SIGTERM: graceful stop (up to {}s)",
        std::chrono::duration_cast<std::chrono::seconds>(options_.config.graceful_timeout).count());
    supervisor_.stop_all(true, Clock::now());
  }

  void stop_fast(const char* why) {
    graceful_stop_at_.reset();
    metrics_.set_stopping(why);
    logging::error_log().info("{}: fast stop", why);
    notifier_.notify("STOPPING=1");
    supervisor_.stop_all(false, Clock::now());
  }

  // HUP, or a change to the code under `reload`: the configuration file and environment
  // again, and a new generation; an invalid configuration changes nothing.
  // A code change boots one new worker before the others (a broken save fails once).
  void reload(const std::string& why, bool code_change) {
    if (supervisor_.stopping() || graceful_stop_at_) return;
    notifier_.notify("RELOADING=1");
    auto sources = options_.sources;
    sources.environment = config::process_environment();
    std::shared_ptr<const config::Config> config;
    try {
      config = std::make_shared<const config::Config>(config::load(sources));
    } catch (const config::ConfigError& error) {
      for (const auto& problem : error.problems())
        logging::error_log().error("reload: {}", problem);
      logging::error_log().error(
          "{}: the new configuration is invalid; still serving with the previous one", why);
      metrics_.reloaded(false);
      notifier_.notify("READY=1");
      return;
    }
    try {
      logging::configure(config::logging_options(*config, "arbiter"));
      start_generation(config, code_change);
    } catch (const std::exception& e) {
      logging::error_log().error("{}: {}; still serving with the previous configuration", why,
                                 e.what());
      metrics_.reloaded(false);
      notifier_.notify("READY=1");
      return;
    }
    if (config->shared_state.size != options_.config.shared_state.size) {
      logging::error_log().warn(
          "SIGHUP: shared_state.size changed ({} -> {} bytes); the store keeps its contents and "
          "its size until the arbiter restarts",
          options_.config.shared_state.size, config->shared_state.size);
    }
    if (config->reload != options_.config.reload || config->chdir != options_.config.chdir ||
        config->pythonpath != options_.config.pythonpath) {
      try {
        watch_for_reload(*config);
      } catch (const std::exception& e) {
        logging::error_log().error("{}; the previous watch goes on", e.what());
      }
    }
    options_.config = *config;
    logging::error_log().info("{}{}; starting generation {}", why,
                              code_change ? "" : ": configuration reloaded", last_generation_);
    for (const auto& warning : config::settings_without_effect(*config))
      logging::error_log().warn("{}", warning);
  }

  // USR2: a new arbiter from the binary on disk now, inheriting sockets and shared memory.
  void upgrade() {
    if (upgrade_pid_) {
      logging::error_log().warn("SIGUSR2: an upgraded arbiter (pid {}) is already running; ignored",
                                upgrade_pid_);
      return;
    }
    ChildSpec spec;
    spec.executable = executable_;
    spec.arguments = options_.argv;
    for (const auto& socket : listen_set_.alive()) {
      spec.arguments.push_back("--inherit-listen=" + socket->bind() + "=" +
                               std::to_string(socket->fd()));
      spec.pass_fds.push_back(socket->fd());
    }
    spec.arguments.push_back("--inherit-shm-fd=" + std::to_string(segment_.fd()));
    spec.pass_fds.push_back(segment_.fd());
    spec.environment = current_environment([](const std::string&) { return false; });
    if (notifier_.enabled()) spec.environment.push_back("NOTIFY_SOCKET=" + notifier_.socket_path());
    // Its MAINPID= makes it the process systemd's watchdog watches: it feeds it from then on.
    if (notifier_.watchdog().count() > 0)
      spec.environment.push_back("WATCHDOG_USEC=" + std::to_string(notifier_.watchdog().count()));
    spec.die_with_parent = false;  // it outlives this arbiter: that is the point
    pidfile_.rename_to_oldbin();
    try {
      upgrade_pid_ = spawn_child(spec);
    } catch (const std::exception& e) {
      pidfile_.restore_name();
      logging::error_log().error("SIGUSR2: cannot start the new arbiter: {}", e.what());
      return;
    }
    logging::error_log().info(
        "SIGUSR2: started the new arbiter {} (pid {}); stop this one with TERM, or WINCH then QUIT",
        executable_, upgrade_pid_);
  }

  void reap() {
    int status = 0;
    for (pid_t pid; (pid = ::waitpid(-1, &status, WNOHANG)) > 0;) {
      if (pid == upgrade_pid_) {
        logging::error_log().error("the upgraded arbiter (pid {}) {}; this arbiter keeps serving",
                                   pid, describe_wait_status(status));
        upgrade_pid_ = 0;
        pidfile_.restore_name();
        reclaim_unix_sockets();
        continue;
      }
      // Anything else that is not a worker: an orphan reparented to us (PID 1 in a
      // container), reaped quietly.
      supervisor_.on_exit(pid, status, Clock::now());
    }
  }

  // The upgraded arbiter that died had made the unix socket paths its own (the control
  // socket, a unix metrics_bind): hornbeamctl and scrapers would find dead sockets there.
  void reclaim_unix_sockets() {
    const auto report = [](const char* what) {
      return [what](bool served_again, const std::string& error) {  // on that server's thread
        if (served_again) logging::error_log().info("serving the {} again", what);
        if (!error.empty())
          logging::error_log().error("cannot serve the {} again: {}", what, error);
      };
    };
    if (control_) control_->reclaim(report("control socket"));
    if (metrics_server_) metrics_server_->reclaim(report("metrics listener"));
  }

  void handle_events() {
    for (const auto& event : supervisor_.take_events()) {
      switch (event.kind) {
        case SupervisorEvent::Kind::generation_ready:
          logging::error_log().info("generation {}: {} worker(s) ready", event.generation,
                                    supervisor_.target());
          if (event.generation > 1 && event.generation > ready_generation_) metrics_.reloaded(true);
          ready_generation_ = event.generation;
          if (options_.inherited.any() && !announced_ready_) {
            notifier_.notify("MAINPID=" + std::to_string(::getpid()));
          }
          announced_ready_ = true;
          notifier_.notify("READY=1");
          report_status();
          break;
        case SupervisorEvent::Kind::generation_failed:
          metrics_.reloaded(false);
          launches_.erase(event.generation);
          notifier_.notify("READY=1");
          break;
        case SupervisorEvent::Kind::gave_up:
          if (watcher_) {
            // Under `reload` a developer fixes the code: the next change boots it again.
            if (waiting_for_a_fix_ != event.generation) {
              logging::error_log().error("{}: waiting for a change to the code (reload)",
                                         event.error);
            }
            waiting_for_a_fix_ = event.generation;
            supervisor_.set_target(0);
            break;
          }
          gave_up_ = event.error;
          logging::error_log().error("{}: stopping", event.error);
          supervisor_.stop_all(false, Clock::now());
          break;
      }
    }
  }

  // A generation's launch (its config fd, its sockets) goes once it is neither current nor
  // has workers left: sockets no generation uses close then.
  void forget_unused_launches() {
    for (auto it = launches_.begin(); it != launches_.end();) {
      const auto generation = it->first;
      const bool in_use =
          generation == supervisor_.generation() ||
          std::any_of(supervisor_.workers().begin(), supervisor_.workers().end(),
                      [&](const WorkerRecord& w) { return w.generation == generation; });
      it = in_use ? std::next(it) : launches_.erase(it);
    }
  }

  void report_status() {
    notifier_.notify("STATUS=" + std::to_string(supervisor_.ready_count()) + " of " +
                     std::to_string(supervisor_.target()) + " workers ready (generation " +
                     std::to_string(ready_generation_) + ")");
  }

  ArbiterOptions options_;
  std::string executable_;
  shm::Segment segment_;
  Supervisor supervisor_;
  Metrics metrics_;
  std::unique_ptr<MetricsServer> metrics_server_;  // with metrics_bind
  // The control socket's commands, handed over by its thread (hand_over) to the loop.
  struct ControlRequest {
    std::string text;
    std::promise<std::string> answer;
  };
  std::mutex control_mutex_;
  std::deque<std::shared_ptr<ControlRequest>> control_requests_;
  SignalQueue* signals_ = nullptr;  // while run() runs
  const TimePoint started_ = Clock::now();
  // SIGTERM under shutdown_delay: when the graceful stop begins.
  std::optional<TimePoint> graceful_stop_at_;
  ListenSet listen_set_;
  std::map<std::uint64_t, GenerationLaunch> launches_;
  std::uint64_t last_generation_ = 0;
  std::uint64_t ready_generation_ = 0;
  Pidfile pidfile_;
  ControlServer* control_ = nullptr;  // run()'s, while it serves
  // After a USR2 upgrade, in the new arbiter: the old one's pid, and the sockets it handed
  // down (weakly: a reload may close them).
  pid_t upgraded_from_ = 0;
  std::vector<std::weak_ptr<ListenSocket>> inherited_sockets_;
  SystemdNotifier notifier_;
  pid_t upgrade_pid_ = 0;
  bool announced_ready_ = false;
  std::optional<std::string> gave_up_;
  std::optional<FileWatcher> watcher_;   // under `reload`
  std::uint64_t waiting_for_a_fix_ = 0;  // the generation that could not boot, under `reload`
};

}  // namespace

int run_arbiter(ArbiterOptions options) {
  try {
    Arbiter arbiter(std::move(options));
    return arbiter.run();
  } catch (const std::exception& e) {
    logging::fatal("hornbeam-arbiter", e.what());
    return exit_code::boot_failure;
  }
}

}  // namespace hornbeam::arbiter
