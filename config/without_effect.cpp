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

}  // namespace hornbeam::config
