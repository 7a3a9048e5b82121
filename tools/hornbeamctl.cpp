// hornbeamctl: talks to a running arbiter through its control socket (`control_socket`).
//
//   hornbeamctl [-s SOCKET | -c hornbeam.yaml] status [--json]
//   hornbeamctl ... reload | scale N | kill SLOT | reopen-logs | stop [--graceful] | top
//
// Every command is also a signal to the arbiter (HUP, TTIN/TTOU, USR1, TERM/QUIT) except
// `kill`, the stuck-request path for one worker. Exit status: 0 done, 1 the arbiter refused
// (the reason is printed), 2 bad usage or no arbiter to talk to.

#include "common/unique_fd.hpp"
#include "common/version.hpp"
#include "config/config.hpp"
#include "config/loader.hpp"

#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <iostream>
#include <stdexcept>
#include <string>

namespace {

namespace po = boost::program_options;
using nlohmann::json;

constexpr int exit_refused = 1;
constexpr int exit_usage = 2;

class Connection {
 public:
  explicit Connection(const std::string& path)
      : fd_(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (path.size() >= sizeof address.sun_path)
      throw std::runtime_error("socket path too long: " + path);
    std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
    if (!fd_ || ::connect(fd_.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
      throw std::runtime_error("cannot reach the arbiter at " + path + ": " + std::strerror(errno) +
                               " (is it running, with this control_socket?)");
    }
  }

  json ask(const json& request) {
    const std::string line = request.dump() + "\n";
    if (::send(fd_.get(), line.data(), line.size(), MSG_NOSIGNAL) !=
        static_cast<ssize_t>(line.size()))
      throw std::runtime_error("the arbiter closed the control socket");
    std::string answer;
    char buffer[4096];
    while (answer.find('\n') == std::string::npos) {
      const ssize_t n = ::recv(fd_.get(), buffer, sizeof buffer, 0);
      if (n <= 0) throw std::runtime_error("the arbiter closed the control socket");
      answer.append(buffer, static_cast<std::size_t>(n));
    }
    return json::parse(answer.substr(0, answer.find('\n')));
  }

 private:
  hornbeam::UniqueFd fd_;
};

std::string seconds(const json& value) {
  if (value.is_null()) return "-";
  char text[32];
  const double s = value.get<double>();
  if (s < 60)
    std::snprintf(text, sizeof text, "%.1fs", s);
  else if (s < 3600)
    std::snprintf(text, sizeof text, "%dm%02ds", static_cast<int>(s) / 60,
                  static_cast<int>(s) % 60);
  else
    std::snprintf(text, sizeof text, "%dh%02dm", static_cast<int>(s) / 3600,
                  static_cast<int>(s) / 60 % 60);
  return text;
}

std::string mebibytes(const json& bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f MiB", bytes.get<double>() / (1024.0 * 1024.0));
  return text;
}

// The status as a table, what `status` prints and `top` refreshes.
std::string status_table(const json& status) {
  const auto& arbiter = status["arbiter"];
  std::string out = "arbiter pid " + std::to_string(arbiter["pid"].get<long>()) + ", generation " +
                    std::to_string(arbiter["generation"].get<long>()) + ", " +
                    std::to_string(arbiter["workers_target"].get<int>()) +
                    " worker(s) wanted, up " + seconds(arbiter["uptime_s"]) +
                    (arbiter["stopping"].get<bool>() ? ", STOPPING" : "") + "\n\n";
  char line[256];
  std::snprintf(line, sizeof line, "%-5s %-8s %-4s %-9s %10s %-9s %12s %12s %10s %9s\n", "SLOT",
                "PID", "GEN", "STATE", "REQUESTS", "BUSY", "OLDEST REQ", "RSS", "HEARTBEAT",
                "UPTIME");
  out += line;
  for (const auto& worker : status["workers"]) {
    const std::string busy = std::to_string(worker["busy_contexts"].get<int>()) + "/" +
                             std::to_string(worker["contexts"].get<int>());
    std::snprintf(line, sizeof line, "%-5d %-8ld %-4ld %-9s %10llu %-9s %12s %12s %10s %9s\n",
                  worker["slot"].get<int>(), worker["pid"].get<long>(),
                  worker["generation"].get<long>(), worker["state"].get<std::string>().c_str(),
                  static_cast<unsigned long long>(worker["requests"].get<std::uint64_t>()),
                  busy.c_str(), seconds(worker["oldest_request_s"]).c_str(),
                  mebibytes(worker["rss_bytes"]).c_str(),
                  seconds(worker["heartbeat_age_s"]).c_str(), seconds(worker["uptime_s"]).c_str());
    out += line;
  }
  return out;
}

volatile sig_atomic_t interrupted = 0;

// A live status, refreshed every second, until `q` or Ctrl-C.
int top(Connection& connection) {
  const bool terminal = ::isatty(STDIN_FILENO);
  termios saved{};
  if (terminal) {
    ::tcgetattr(STDIN_FILENO, &saved);
    termios raw = saved;
    raw.c_lflag &= static_cast<tcflag_t>(~(ICANON | ECHO));
    ::tcsetattr(STDIN_FILENO, TCSANOW, &raw);
  }
  struct sigaction action {};
  action.sa_handler = [](int) { interrupted = 1; };
  ::sigaction(SIGINT, &action, nullptr);
  ::sigaction(SIGTERM, &action, nullptr);
  int status = 0;
  std::cout << "\x1b[?25l";  // hide the cursor
  while (!interrupted) {
    try {
      const auto answer = connection.ask({{"command", "status"}});
      std::cout << "\x1b[H\x1b[2J"
                << "hornbeam top (q to quit)\n\n"
                << status_table(answer) << std::flush;
    } catch (const std::exception& e) {
      std::cerr << "\nhornbeamctl: " << e.what() << "\n";
      status = exit_usage;
      break;
    }
    pollfd input{STDIN_FILENO, POLLIN, 0};
    if (::poll(&input, 1, 1000) > 0) {
      char key = 0;
      if (::read(STDIN_FILENO, &key, 1) <= 0 || key == 'q' || key == 'Q') break;
    }
  }
  std::cout << "\x1b[?25h" << std::flush;
  if (terminal) ::tcsetattr(STDIN_FILENO, TCSANOW, &saved);
  return status;
}

std::string socket_path(const po::variables_map& options) {
  if (options.count("socket")) return options["socket"].as<std::string>();
  hornbeam::config::Sources sources;
  sources.config_file =
      options.count("config") ? options["config"].as<std::string>() : "hornbeam.yaml";
  sources.require_app = false;
  const auto path = hornbeam::config::control_socket_path(hornbeam::config::load(sources));
  if (path.empty()) {
    throw std::runtime_error(
        sources.config_file +
        " names no control socket (set control_socket, or a pidfile beside which "
        "hornbeam.ctl is made)");
  }
  return path;
}

}  // namespace

int main(int argc, char** argv) {
  po::options_description visible(
      "hornbeamctl [-s SOCKET | -c CONFIG] COMMAND\n\n"
      "Commands: status [--json], reload, scale N, kill SLOT, reopen-logs, "
      "stop [--graceful], top\n\nOptions");
  visible.add_options()("help,h", "this help")("version", "print the version")(
      "socket,s", po::value<std::string>(), "the arbiter's control socket")(
      "config,c", po::value<std::string>(),
      "find the socket in this config file (default hornbeam.yaml)")(
      "json", "status: print the JSON as the arbiter sent it")(
      "graceful",
      "stop: finish in-flight requests first (SIGTERM); without it, stop now (SIGQUIT)");
  po::options_description all;
  all.add(visible).add_options()("command", po::value<std::vector<std::string>>());
  po::positional_options_description positional;
  positional.add("command", -1);
  po::variables_map options;
  try {
    po::store(po::command_line_parser(argc, argv).options(all).positional(positional).run(),
              options);
    po::notify(options);
  } catch (const std::exception& e) {
    std::cerr << "hornbeamctl: " << e.what() << "\n" << visible;
    return exit_usage;
  }
  const auto words = options.count("command") ? options["command"].as<std::vector<std::string>>()
                                              : std::vector<std::string>{};
  if (options.count("version")) {
    std::cout << hornbeam::version_line() << "\n";
    return 0;
  }
  if (options.count("help") || words.empty()) {
    std::cout << visible;
    return options.count("help") ? 0 : exit_usage;
  }
  const std::string& command = words[0];
  json request{{"command", command}};
  const auto number = [&](const char* what) {
    if (words.size() != 2) throw std::invalid_argument(command + " needs " + what);
    return std::stoi(words[1]);
  };
  try {
    if (command == "scale")
      request["workers"] = number("a number of workers");
    else if (command == "kill")
      request["slot"] = number("a worker's slot (see status)");
    else if (words.size() != 1)
      throw std::invalid_argument(command + " takes no argument");
    if (command == "stop") request["graceful"] = options.count("graceful") > 0;
  } catch (const std::exception& e) {
    std::cerr << "hornbeamctl: " << e.what() << "\n";
    return exit_usage;
  }
  try {
    Connection connection(socket_path(options));
    if (command == "top") return top(connection);
    const auto answer = connection.ask(request);
    if (!answer.value("ok", false)) {
      std::cerr << "hornbeamctl: " << answer.value("error", std::string("refused")) << "\n";
      return exit_refused;
    }
    if (command == "status") {
      std::cout << (options.count("json") ? answer.dump(2) + "\n" : status_table(answer));
    } else {
      std::cout << answer.value("message", std::string("done")) << "\n";
    }
    return 0;
  } catch (const hornbeam::config::ConfigError& e) {
    for (const auto& problem : e.problems()) std::cerr << "hornbeamctl: " << problem << "\n";
    return exit_usage;
  } catch (const std::exception& e) {
    std::cerr << "hornbeamctl: " << e.what() << "\n";
    return exit_usage;
  }
}
