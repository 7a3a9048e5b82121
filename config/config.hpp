#pragma once

// The effective configuration of hornbeam: plain data, defaults included. Every field here is
// declared once more, with its key, flag, type and doc, in the settings table (settings.cpp);
// nothing else knows about settings.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace hornbeam::config {

using Duration = std::chrono::milliseconds;

inline constexpr std::uint64_t KiB = 1024;
inline constexpr std::uint64_t MiB = 1024 * KiB;
inline constexpr std::uint64_t GiB = 1024 * MiB;

// Workers default to one per CPU, like the DESIGN says.
std::int64_t cpu_count();

struct Mount {
  std::string prefix;        // "/api": longest prefix wins; becomes SCRIPT_NAME / root_path
  std::string app;           // "module:callable"
  std::string worker_class;  // "wsgi" or "asgi"; empty in a file means the top-level one
  // YAML only: the mount's own body limit instead of limits.max_body_size.
  std::optional<std::uint64_t> max_body_size;
  // YAML only, WSGI mounts only: the stuck-request deadline of the mount's requests instead
  // of `timeout` (zero: none).
  std::optional<Duration> timeout;
  bool operator==(const Mount&) const = default;
};

struct Limits {
  std::int64_t max_request_line = 8190;
  std::int64_t max_header_size = 8190;  // per field
  std::int64_t max_headers = 100;
  std::uint64_t max_body_size = 0;  // 0 = no limit
  std::uint64_t body_buffer_threshold = 64 * KiB;
  Duration header_timeout = std::chrono::seconds(10);
  Duration body_timeout = std::chrono::seconds(60);  // between two reads of a streamed body
  Duration send_timeout = std::chrono::seconds(60);  // between two writes a client takes
};

struct Hooks {
  std::string on_request;
  std::string on_response;
  std::string on_error;
  std::string post_worker_init;
  std::string worker_exit;
  std::string worker_abort;
};

struct WebSocket {
  std::uint64_t max_message_size = 16 * MiB;
  Duration ping_interval = std::chrono::seconds(20);
  Duration idle_timeout = std::chrono::seconds(60);
  bool compress = false;
};

// Restarting the workers when the app's code changes (development).
struct Reload {
  bool enabled = false;
  std::vector<std::string> paths;  // empty: `chdir` and the `pythonpath` entries
  std::vector<std::string> include = {"*.py"};
  std::vector<std::string> exclude = {".*", "*~", "__pycache__", "node_modules", "site-packages"};
  Duration debounce{200};
  bool operator==(const Reload&) const = default;
};

// TLS on the `https://` binds (docs/tls.md).
struct Tls {
  std::string certfile;       // PEM: the certificate, then its chain
  std::string keyfile;        // PEM; empty: the key is in certfile
  std::string password_file;  // the encrypted key's passphrase (first line)
  std::string min_version = "1.2";
  std::string ciphers;  // OpenSSL's cipher list for TLS 1.2; empty: OpenSSL's default
  Duration handshake_timeout{10'000};
  std::string ca_certs;                // PEM: the CAs that client certificates must chain to
  std::string verify_client = "none";  // none | optional | required
};

// HTTP/2: h2 by ALPN on the `https://` binds, h2c on the plain ones (docs/http2.md).
struct Http2 {
  bool enabled = true;
  bool h2c_upgrade = false;  // `Upgrade: h2c` on plain binds (prior knowledge always works)
  std::int64_t max_concurrent_streams = 100;
  std::uint64_t initial_window_size = 256 * 1024;  // per stream, what an upload may buffer
  std::uint64_t max_header_list_size = 64 * 1024;
  Duration stall_timeout{30'000};  // a pending response the client takes none of
  bool operator==(const Http2&) const = default;
};

struct SharedState {
  std::uint64_t size = 64 * MiB;
  std::string backend = "shm";  // or a Redis URL (redis/target.hpp)
  std::string prefix = "hornbeam:";
  Duration timeout{1'000};
  std::string tls_ca_certs;  // rediss://: the CAs Redis's certificate chains to; empty: system's
};

struct Logging {
  std::string level = "info";
  std::string format = "text";
  std::string access_log = "-";
  std::string error_log = "-";
  // Apache common log format plus the response time in seconds (Gunicorn's atoms).
  std::string access_log_format = R"(%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s %(L)s)";
};

struct Config {
  std::string app;
  std::string worker_class = "wsgi";
  std::vector<std::string> bind = {"127.0.0.1:8000"};
  std::int64_t workers = cpu_count();
  std::int64_t contexts = 1;
  std::string context_mode = "thread";
  std::vector<std::string> pythonpath = {"."};
  std::string chdir = ".";
  std::string venv;
  Duration timeout = std::chrono::seconds(30);
  Duration graceful_timeout = std::chrono::seconds(30);
  Duration keepalive = std::chrono::seconds(5);
  std::int64_t io_spin_us = 0;
  std::int64_t max_requests = 0;
  std::int64_t max_requests_jitter = 0;
  std::uint64_t max_worker_memory = 0;  // bytes of RSS; 0: no limit
  Duration max_worker_lifetime{0};      // 0: no limit
  Duration max_worker_lifetime_jitter{0};
  Reload reload;
  Tls tls;
  Http2 http2;
  std::string lifespan = "auto";
  Limits limits;
  std::vector<Mount> mounts;
  Hooks hooks;
  WebSocket websocket;
  std::string loop = "auto";
  SharedState shared_state;
  Logging logging;
  std::vector<std::string> forwarded_allow_ips = {"127.0.0.1", "::1"};
  std::string proxy_protocol = "off";
  std::vector<std::string> proxy_allow_ips = {"127.0.0.1", "::1"};
  std::string user;
  std::string group;
  std::int64_t umask = 022;
  std::string pidfile;
  std::string metrics_bind;    // "": no metrics listener
  std::string control_socket;  // "": beside the pidfile, if any; "-": none (control_socket_path)
  Duration shutdown_delay{0};
  bool reuse_port = false;
  std::int64_t backlog = 2048;
};

// Where the arbiter's control socket is, "" for none: `control_socket`, or `hornbeam.ctl` in the
// pidfile's directory when only a pidfile is set.
std::string control_socket_path(const Config& config);

// The apps a worker serves, in the order given: the mounts, then the top-level `app` at `/`
// when there is one (the loader refuses `app` together with a mount at `/`).
std::vector<Mount> served_apps(const Config& config);

}  // namespace hornbeam::config
