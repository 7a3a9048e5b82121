#include "config/settings.hpp"

#include "config/checks.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <filesystem>
#include <limits>
#include <thread>

namespace hornbeam::config {

std::vector<Mount> served_apps(const Config& config) {
  std::vector<Mount> apps = config.mounts;
  if (!config.app.empty()) apps.push_back({"/", config.app, config.worker_class, {}, {}});
  return apps;
}

std::string control_socket_path(const Config& config) {
  if (config.control_socket == "-") return {};
  if (!config.control_socket.empty()) return config.control_socket;
  if (config.pidfile.empty()) return {};
  return (std::filesystem::path(config.pidfile).parent_path() / "hornbeam.ctl").string();
}

std::int64_t cpu_count() {
  const unsigned count = std::thread::hardware_concurrency();
  return count == 0 ? 1 : static_cast<std::int64_t>(count);
}

namespace {

using namespace std::chrono_literals;
using std::string_view_literals::operator""sv;

constexpr std::array worker_classes = {"wsgi"sv, "asgi"sv};
constexpr std::array context_modes = {"thread"sv, "owngil"sv};
constexpr std::array lifespan_modes = {"auto"sv, "on"sv, "off"sv};
constexpr std::array loops = {"auto"sv, "asyncio"sv, "uvloop"sv};
constexpr std::array log_levels = {"debug"sv, "info"sv, "warning"sv, "error"sv, "critical"sv};
constexpr std::array log_formats = {"text"sv, "json"sv};
constexpr std::array proxy_protocols = {"off"sv, "v1"sv, "v2"sv};
constexpr std::array tls_versions = {"1.2"sv, "1.3"sv};
constexpr std::array client_verifications = {"none"sv, "optional"sv, "required"sv};

constexpr std::uint64_t no_size_limit = std::numeric_limits<std::uint64_t>::max();
constexpr Duration one_day = 24h;

const Setting table[] = {
    {"app",
     "The application to serve, as `module:callable`, or `module:factory(ARGS)` for what an app "
     "factory returns (docs/configuration.md).",
     TextField{at<&Config::app>, &app_spec}},
    {"worker_class", "`wsgi` (PEP 3333) or `asgi` (ASGI 3).",
     ChoiceField{at<&Config::worker_class>, worker_classes}, "k"},
    {"bind",
     "Addresses to listen on: `host:port` (`:port`: 0.0.0.0), `[v6]:port`, `unix:/path`, "
     "`fd://N`; with `$PORT` set and no `bind` given, `0.0.0.0:$PORT`.",
     ListField{at<&Config::bind>, &bind_address}, "b"},
    {"tls.certfile",
     "PEM certificate (then its chain) served on the `https://` binds; needed by them.",
     TextField{at<&Config::tls, &Tls::certfile>, nullptr, true}},
    {"tls.keyfile", "PEM private key of the certificate (empty: it is in `tls.certfile`).",
     TextField{at<&Config::tls, &Tls::keyfile>, nullptr, true}},
    {"tls.password_file", "File whose first line is the passphrase of an encrypted key.",
     TextField{at<&Config::tls, &Tls::password_file>, nullptr, true}},
    {"tls.min_version", "Oldest TLS version accepted: `1.2` or `1.3`.",
     ChoiceField{at<&Config::tls, &Tls::min_version>, tls_versions}},
    {"tls.ciphers",
     "OpenSSL cipher list for TLS 1.2 (empty: OpenSSL's default); TLS 1.3's suites are "
     "OpenSSL's.",
     TextField{at<&Config::tls, &Tls::ciphers>}},
    {"tls.handshake_timeout",
     "A client that has not finished its TLS handshake by then is dropped.",
     DurationField{at<&Config::tls, &Tls::handshake_timeout>, 100ms, 5min}},
    {"tls.ca_certs", "PEM file of the CAs that client certificates must chain to (mTLS).",
     TextField{at<&Config::tls, &Tls::ca_certs>, nullptr, true}},
    {"tls.verify_client",
     "Client certificates: `none` (not asked for), `optional` (asked for; one that does not "
     "verify fails the handshake), `required`.",
     ChoiceField{at<&Config::tls, &Tls::verify_client>, client_verifications}},
    {"http2.enabled",
     "Serve HTTP/2: offered by ALPN on the `https://` binds, and as h2c with prior knowledge "
     "on the plain ones.",
     BoolField{at<&Config::http2, &Http2::enabled>}},
    {"http2.h2c_upgrade",
     "Also switch a plain HTTP/1.1 request asking `Upgrade: h2c` to HTTP/2 (off: behind a "
     "proxy that forwards `Upgrade`, h2c smuggles requests past it; docs/http2.md).",
     BoolField{at<&Config::http2, &Http2::h2c_upgrade>}},
    {"http2.max_concurrent_streams",
     "Streams a client may have open on one connection (SETTINGS_MAX_CONCURRENT_STREAMS); "
     "streams still running in the app count, even once the client reset them.",
     IntegerField{at<&Config::http2, &Http2::max_concurrent_streams>, 1, 10000}},
    {"http2.initial_window_size",
     "Flow-control window of each stream: how much of an upload the client may send ahead of "
     "what the app has read.",
     SizeField{at<&Config::http2, &Http2::initial_window_size>, 1024, 0x7fffffff}},
    {"http2.max_header_list_size",
     "Largest decoded header list (SETTINGS_MAX_HEADER_LIST_SIZE); a client sending more is "
     "disconnected with GOAWAY.",
     SizeField{at<&Config::http2, &Http2::max_header_list_size>, 1024, 16 << 20}},
    {"http2.stall_timeout",
     "A connection whose client takes none of a pending response for this long (a zero "
     "flow-control window, a full socket) is closed with GOAWAY.",
     DurationField{at<&Config::http2, &Http2::stall_timeout>, 100ms, one_day}},
    {"workers", "Number of worker processes.", IntegerField{at<&Config::workers>, 1, 4096}, "w",
     "number of CPUs"},
    {"contexts", "Python contexts (threads or subinterpreters) per worker.",
     IntegerField{at<&Config::contexts>, 1, 1024}},
    {"context_mode", "`thread` (one interpreter) or `owngil` (subinterpreters, Python >= 3.12).",
     ChoiceField{at<&Config::context_mode>, context_modes}},
    {"pythonpath", "Directories prepended to `sys.path`.",
     ListField{at<&Config::pythonpath>, nullptr, true}},
    {"chdir", "Directory the workers change to before loading the app.",
     TextField{at<&Config::chdir>, nullptr, true}},
    {"venv", "A virtualenv whose site-packages become importable.",
     TextField{at<&Config::venv>, nullptr, true}},
    {"timeout",
     "A request or a silent worker taking longer than this gets the worker replaced (0 = never).",
     DurationField{at<&Config::timeout>, 0ms, one_day}},
    {"graceful_timeout", "Time given to in-flight work on stop and reload.",
     DurationField{at<&Config::graceful_timeout>, 0ms, one_day}},
    {"keepalive", "Idle keep-alive time of a connection (0 = close after each response).",
     DurationField{at<&Config::keepalive>, 0ms, one_day}},
    {"io_spin_us",
     "Microseconds a worker's I/O thread polls for more work before it sleeps, while that pays "
     "off. For workers that have a core each (0 = never; see performance.md).",
     IntegerField{at<&Config::io_spin_us>, 0, 10000}},
    {"max_requests", "Recycle a worker after this many requests (0 = never).",
     IntegerField{at<&Config::max_requests>, 0, std::numeric_limits<std::int32_t>::max()}},
    {"max_requests_jitter", "Random extra requests added to `max_requests` per worker.",
     IntegerField{at<&Config::max_requests_jitter>, 0, std::numeric_limits<std::int32_t>::max()}},
    {"max_worker_memory",
     "Recycle a worker whose resident memory (RSS) is above this, its replacement first; one "
     "past twice this before then is killed (0 = no limit).",
     SizeField{at<&Config::max_worker_memory>, 0, no_size_limit}},
    {"max_worker_lifetime",
     "Recycle a worker this long after it started, one worker at a time (0 = never).",
     DurationField{at<&Config::max_worker_lifetime>, 0ms, 365 * one_day}},
    {"max_worker_lifetime_jitter",
     "Random extra lifetime added to `max_worker_lifetime` per worker.",
     DurationField{at<&Config::max_worker_lifetime_jitter>, 0ms, 365 * one_day}},
    {"reload",
     "Development: restart the workers when a watched file changes (inotify), as SIGHUP does.",
     BoolField{at<&Config::reload, &Reload::enabled>}},
    {"reload_paths", "Directories watched, with their subdirectories, under `reload`.",
     ListField{at<&Config::reload, &Reload::paths>, nullptr, true}, "",
     "the chdir and pythonpath directories"},
    {"reload_include", "File name patterns whose changes reload (the config file always does).",
     ListField{at<&Config::reload, &Reload::include>}},
    {"reload_exclude", "File and directory name patterns never watched.",
     ListField{at<&Config::reload, &Reload::exclude>}},
    {"reload_debounce",
     "Quiet time after a change before the reload, so that a burst of writes reloads once.",
     DurationField{at<&Config::reload, &Reload::debounce>, 0ms, 10s}},
    {"lifespan", "ASGI lifespan protocol: `auto`, `on` or `off`.",
     ChoiceField{at<&Config::lifespan>, lifespan_modes}},
    {"limits.max_request_line", "Longest request line in bytes; longer gets 414.",
     IntegerField{at<&Config::limits, &Limits::max_request_line>, 64, 1 << 20}},
    {"limits.max_header_size", "Largest header field in bytes, its CRLF included; larger gets 431.",
     IntegerField{at<&Config::limits, &Limits::max_header_size>, 8, 1 << 20}},
    {"limits.max_headers", "Most header fields in a request; more gets 431.",
     IntegerField{at<&Config::limits, &Limits::max_headers>, 1, 32768}},
    {"limits.max_body_size", "Largest request body; larger gets 413 (0 = no limit).",
     SizeField{at<&Config::limits, &Limits::max_body_size>, 0, no_size_limit}},
    {"limits.body_buffer_threshold",
     "Bodies below this are read whole before the app runs; larger ones stream.",
     SizeField{at<&Config::limits, &Limits::body_buffer_threshold>, 1 * KiB, 1 * GiB}},
    {"limits.header_timeout", "Deadline for a client to send the whole request head.",
     DurationField{at<&Config::limits, &Limits::header_timeout>, 100ms, 1h}},
    {"limits.body_timeout",
     "While the app reads a request body, longest wait for the client's next bytes; then 408.",
     DurationField{at<&Config::limits, &Limits::body_timeout>, 100ms, 1h}},
    {"limits.send_timeout",
     "Longest wait for the client to take any more of a response (HTTP/1.1, WebSocket); then "
     "the connection is closed.",
     DurationField{at<&Config::limits, &Limits::send_timeout>, 100ms, one_day}},
    {"mounts",
     "Apps served under path prefixes, WSGI and ASGI side by side; the longest prefix wins "
     "(docs/mounts.md).",
     MountsField{at<&Config::mounts>}},
    {"hooks.on_request",
     "`module:callable` called with each request before its app: may answer instead of it, or "
     "change the request it sees (docs/hooks.md).",
     TextField{at<&Config::hooks, &Hooks::on_request>, &optional_app_spec}},
    {"hooks.on_response",
     "`module:callable` called with each response's status and headers when it starts: may "
     "return other headers.",
     TextField{at<&Config::hooks, &Hooks::on_response>, &optional_app_spec}},
    {"hooks.on_error",
     "`module:callable` called when an app raises before its response started: may answer "
     "instead of the 500.",
     TextField{at<&Config::hooks, &Hooks::on_error>, &optional_app_spec}},
    {"hooks.post_worker_init",
     "`module:callable` called with the worker once its apps are loaded, before it serves.",
     TextField{at<&Config::hooks, &Hooks::post_worker_init>, &optional_app_spec}},
    {"hooks.worker_exit", "`module:callable` called with the worker when it stops.",
     TextField{at<&Config::hooks, &Hooks::worker_exit>, &optional_app_spec}},
    {"hooks.worker_abort",
     "`module:callable` called with the worker when it is timed out (stuck), before its "
     "tracebacks are logged.",
     TextField{at<&Config::hooks, &Hooks::worker_abort>, &optional_app_spec}},
    {"websocket.max_message_size", "Largest websocket message; larger closes with 1009.",
     SizeField{at<&Config::websocket, &WebSocket::max_message_size>, 1 * KiB, 1 * GiB}},
    {"websocket.ping_interval", "Time between server pings (0 = no pings).",
     DurationField{at<&Config::websocket, &WebSocket::ping_interval>, 0ms, one_day}},
    {"websocket.idle_timeout", "A peer silent for this long is closed.",
     DurationField{at<&Config::websocket, &WebSocket::idle_timeout>, 1s, one_day}},
    {"websocket.compress", "Negotiate permessage-deflate.",
     BoolField{at<&Config::websocket, &WebSocket::compress>}},
    {"loop", "ASGI event loop: `auto` (uvloop when importable), `asyncio` or `uvloop`.",
     ChoiceField{at<&Config::loop>, loops}},
    {"shared_state.size", "Size of the shared-memory store (`backend: shm`).",
     SizeField{at<&Config::shared_state, &SharedState::size>, 64 * KiB, 64 * GiB}},
    {"shared_state.backend",
     "Where the state and pub/sub live: `shm` (this host's workers share memory), or a Redis "
     "that every host shares (`rediss` for TLS; `unix://` for a local Redis's socket).",
     TextField{at<&Config::shared_state, &SharedState::backend>, &state_backend}},
    {"shared_state.prefix", "Redis backends: the namespace of the state's keys.",
     TextField{at<&Config::shared_state, &SharedState::prefix>}},
    {"shared_state.timeout",
     "Redis backends: a call that has no answer by then raises `hornbeam.StateUnavailable`.",
     DurationField{at<&Config::shared_state, &SharedState::timeout>, 10ms, 5min}},
    {"shared_state.tls_ca_certs",
     "`rediss://`: PEM file of the CAs Redis's certificate must chain to (empty: the system's); "
     "the certificate must also name the URL's host.",
     TextField{at<&Config::shared_state, &SharedState::tls_ca_certs>, nullptr, true}},
    {"logging.level", "Error log level.",
     ChoiceField{at<&Config::logging, &Logging::level>, log_levels}},
    {"logging.format", "Log line format: `text` or `json`.",
     ChoiceField{at<&Config::logging, &Logging::format>, log_formats}},
    {"logging.access_log", "Access log: `-` for stdout, a file path, or empty for none.",
     TextField{at<&Config::logging, &Logging::access_log>, nullptr, true}},
    {"logging.error_log", "Error log: `-` for stderr, or a file path.",
     TextField{at<&Config::logging, &Logging::error_log>, nullptr, true}},
    {"logging.access_log_format", "Access line in Gunicorn's atoms (`%(h)s %(r)s %(s)s` ...).",
     TextField{at<&Config::logging, &Logging::access_log_format>}},
    {"forwarded_allow_ips",
     "Proxies whose Forwarded and X-Forwarded-* headers give the client's address, scheme, host "
     "and port: addresses, CIDR ranges, `*` for all (unix-socket peers are trusted).",
     ListField{at<&Config::forwarded_allow_ips>, &forwarded_ip}},
    {"proxy_protocol",
     "`v1` or `v2`: peers in `proxy_allow_ips` (HAProxy, a load balancer) begin each connection "
     "with a PROXY protocol header giving the client's address; `off`: none do.",
     ChoiceField{at<&Config::proxy_protocol>, proxy_protocols}},
    {"proxy_allow_ips",
     "Peers that send the PROXY protocol header (addresses, CIDR ranges, `*`); a header from any "
     "other peer closes its connection.",
     ListField{at<&Config::proxy_allow_ips>, &forwarded_ip}},
    {"user", "Switch to this user after binding (name or uid).", TextField{at<&Config::user>}},
    {"group", "Switch to this group after binding (name or gid).", TextField{at<&Config::group>}},
    {"umask", "File mode mask for unix sockets and files the server creates.",
     IntegerField{at<&Config::umask>, 0, 0777, true}},
    {"pidfile", "Write the arbiter's pid to this file.",
     TextField{at<&Config::pidfile>, nullptr, true}},
    {"reuse_port", "One SO_REUSEPORT socket per worker instead of one shared socket.",
     BoolField{at<&Config::reuse_port>}},
    {"backlog", "Listen queue length.", IntegerField{at<&Config::backlog>, 1, 65535}},
    {"metrics_bind",
     "The arbiter's own listener for `/metrics` (Prometheus), `/healthz` and `/readyz`: "
     "`host:port` or `unix:/path`; empty: none (docs/operations.md).",
     TextField{at<&Config::metrics_bind>, &optional_bind_address}},
    {"control_socket",
     "The arbiter's control socket for hornbeamctl (mode 0600); default: `hornbeam.ctl` beside "
     "the pidfile when there is one; `-`: none.",
     TextField{at<&Config::control_socket>, nullptr, true}},
    {"shutdown_delay",
     "On SIGTERM, `/readyz` answers 503 at once and requests are still served for this long "
     "before the graceful stop begins, so that load balancers stop sending first.",
     DurationField{at<&Config::shutdown_delay>, 0ms, 1h}},
};

constexpr std::array<Section, 7> section_table = {{
    {"tls", "TLS on the binds written `https://` (docs/tls.md)."},
    {"http2", "HTTP/2 (docs/http2.md)."},
    {"limits", "Request limits: what a client may send before it is refused."},
    {"hooks", "Python callables run around each request."},
    {"websocket", "WebSocket connections (ASGI)."},
    {"shared_state", "The store shared by all workers (the `hornbeam` module)."},
    {"logging", "Error and access logs."},
}};

}  // namespace

std::span<const Setting> settings() { return table; }

std::span<const Section> sections() { return section_table; }

const Setting* find_setting(std::string_view key) {
  for (const auto& setting : settings()) {
    if (setting.key == key) return &setting;
  }
  return nullptr;
}

std::string Setting::flag() const {
  std::string flag(key);
  std::replace_if(
      flag.begin(), flag.end(), [](char c) { return c == '.' || c == '_'; }, '-');
  return flag;
}

std::string Setting::env() const {
  std::string name = "HORNBEAM_";
  for (const char c : key) {
    name += c == '.' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return name;
}

std::string_view Setting::section() const {
  const auto dot = key.find('.');
  return dot == std::string_view::npos ? std::string_view() : key.substr(0, dot);
}

std::string Setting::default_text() const {
  if (!default_doc.empty()) return std::string(default_doc);
  Config defaults;
  return format_value(field, defaults);
}

std::string_view Setting::leaf() const {
  const auto dot = key.find('.');
  return dot == std::string_view::npos ? key : key.substr(dot + 1);
}

}  // namespace hornbeam::config
