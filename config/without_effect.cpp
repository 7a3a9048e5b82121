#include "config/without_effect.hpp"

#include "config/tls_context.hpp"

namespace hornbeam::config {
namespace {

// "`a`, `b`": the keys noted as set away from their defaults, in the order noted.
class GivenKeys {
 public:
  void note(bool differs, const char* key) {
    if (differs) text_ += std::string(text_.empty() ? "`" : ", `") + key + "`";
  }
  bool empty() const { return text_.empty(); }
  const std::string& text() const { return text_; }

 private:
  std::string text_;
};

}  // namespace

std::vector<std::string> settings_without_effect(const Config& config) {
  std::vector<std::string> found;
  if (!serves_tls(config)) {
    const Tls defaults;
    const Tls& tls = config.tls;
    GivenKeys given;
    given.note(tls.certfile != defaults.certfile, "tls.certfile");
    given.note(tls.keyfile != defaults.keyfile, "tls.keyfile");
    given.note(tls.password_file != defaults.password_file, "tls.password_file");
    given.note(tls.min_version != defaults.min_version, "tls.min_version");
    given.note(tls.ciphers != defaults.ciphers, "tls.ciphers");
    given.note(tls.handshake_timeout != defaults.handshake_timeout, "tls.handshake_timeout");
    given.note(tls.ca_certs != defaults.ca_certs, "tls.ca_certs");
    given.note(tls.verify_client != defaults.verify_client, "tls.verify_client");
    if (!given.empty()) {
      found.push_back(given.text() +
                      " set, but no bind is `https://`: no TLS is served, every bind serves "
                      "plain HTTP (write a bind as `https://host:port` to serve TLS on it)");
    }
  }
  return found;
}

std::string arbiter_settings_for_a_worker_alone(const Config& config) {
  const Config defaults;
  GivenKeys given;
  given.note(config.workers != defaults.workers, "workers");
  given.note(config.user != defaults.user, "user");
  given.note(config.group != defaults.group, "group");
  given.note(config.timeout != defaults.timeout, "timeout");
  given.note(config.max_worker_memory != defaults.max_worker_memory, "max_worker_memory");
  given.note(config.max_worker_lifetime != defaults.max_worker_lifetime, "max_worker_lifetime");
  given.note(config.reload.enabled, "reload");
  given.note(config.pidfile != defaults.pidfile, "pidfile");
  given.note(config.control_socket != defaults.control_socket, "control_socket");
  given.note(config.metrics_bind != defaults.metrics_bind, "metrics_bind");
  given.note(config.shutdown_delay != defaults.shutdown_delay, "shutdown_delay");
  if (given.empty()) return {};
  return given.text() +
         " set, but these are the arbiter's: a worker run alone (hornbeam-worker) does not act on "
         "them (it runs as the user who started it, and no process watches it); serve with "
         "hornbeam-arbiter for them";
}

}  // namespace hornbeam::config
