#include "config/without_effect.hpp"

#include "config/tls_context.hpp"

namespace hornbeam::config {

std::vector<std::string> settings_without_effect(const Config& config) {
  std::vector<std::string> found;
  if (!serves_tls(config)) {
    const Tls defaults;
    const Tls& tls = config.tls;
    std::string given;
    const auto note = [&given](bool differs, const char* key) {
      if (differs) given += std::string(given.empty() ? "`" : ", `") + key + "`";
    };
    note(tls.certfile != defaults.certfile, "tls.certfile");
    note(tls.keyfile != defaults.keyfile, "tls.keyfile");
    note(tls.password_file != defaults.password_file, "tls.password_file");
    note(tls.min_version != defaults.min_version, "tls.min_version");
    note(tls.ciphers != defaults.ciphers, "tls.ciphers");
    note(tls.handshake_timeout != defaults.handshake_timeout, "tls.handshake_timeout");
    note(tls.ca_certs != defaults.ca_certs, "tls.ca_certs");
    note(tls.verify_client != defaults.verify_client, "tls.verify_client");
    if (!given.empty()) {
      found.push_back(given +
                      " set, but no bind is `https://`: no TLS is served, every bind serves "
                      "plain HTTP (write a bind as `https://host:port` to serve TLS on it)");
    }
  }
  return found;
}

std::string arbiter_settings_for_a_worker_alone(const Config& config) {
  const Config defaults;
  std::string given;
  const auto note = [&given](bool differs, const char* key) {
    if (differs) given += std::string(given.empty() ? "`" : ", `") + key + "`";
  };
  note(config.workers != defaults.workers, "workers");
  note(config.user != defaults.user, "user");
  note(config.group != defaults.group, "group");
  note(config.timeout != defaults.timeout, "timeout");
  note(config.max_worker_memory != defaults.max_worker_memory, "max_worker_memory");
  note(config.max_worker_lifetime != defaults.max_worker_lifetime, "max_worker_lifetime");
  note(config.reload.enabled, "reload");
  note(config.pidfile != defaults.pidfile, "pidfile");
  note(config.control_socket != defaults.control_socket, "control_socket");
  note(config.metrics_bind != defaults.metrics_bind, "metrics_bind");
  note(config.shutdown_delay != defaults.shutdown_delay, "shutdown_delay");
  if (given.empty()) return {};
  return given +
         " set, but these are the arbiter's: a worker run alone (hornbeam-worker) does not act on "
         "them (it runs as the user who started it, and no process watches it); serve with "
         "hornbeam-arbiter for them";
}

}  // namespace hornbeam::config
