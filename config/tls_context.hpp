#pragma once

// The OpenSSL server context of the `https://` binds, built from the `tls` settings. The
// config loader builds one too, only to judge the files: a certificate that does not load, a
// key that does not match it or a wrong passphrase is then a configuration error naming the
// setting, and a HUP with such files keeps the generation that serves (nothing half-applied).

#include "config/config.hpp"

#include <memory>
#include <stdexcept>
#include <string>

using SSL_CTX = struct ssl_ctx_st;

namespace hornbeam::config {

struct TlsContextDeleter {
  void operator()(SSL_CTX* context) const;
};
using TlsContext = std::unique_ptr<SSL_CTX, TlsContextDeleter>;

// A file or value that does not do: `key` names the setting at fault ("tls.keyfile").
struct TlsSettingError : std::runtime_error {
  TlsSettingError(std::string setting, const std::string& what)
      : std::runtime_error(what), key(std::move(setting)) {}
  std::string key;
};

// TLS 1.2 or 1.3 as `tls.min_version` says; no compression, no renegotiation; ALPN answers
// `h2` (when `offer_h2`) or `http/1.1`. Throws TlsSettingError, whose text starts with the
// setting (`tls.keyfile`: ...).
TlsContext make_tls_context(const Tls& settings, bool offer_h2);

// Whether any `bind` entry is written `https://`.
bool serves_tls(const Config& config);

}  // namespace hornbeam::config
