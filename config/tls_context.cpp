#include "config/tls_context.hpp"

#include "common/bind_address.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cstring>
#include <fstream>
#include <stdexcept>
#include <string>

namespace hornbeam::config {
namespace {

// OpenSSL's error queue as one line (and emptied): "error:0480006C:PEM routines::no start line".
std::string openssl_errors() {
  std::string text;
  while (const unsigned long code = ERR_get_error()) {
    char line[256];
    ERR_error_string_n(code, line, sizeof line);
    if (!text.empty()) text += "; ";
    text += line;
  }
  return text.empty() ? "unknown error" : text;
}

[[noreturn]] void fail(const std::string& key, const std::string& what) {
  throw TlsSettingError(key, "`" + key + "`: " + what);
}

// The passphrase callback: the first line of tls.password_file, or none. Without a callback
// OpenSSL would ask for it on the terminal, and a worker has none to ask.
int give_passphrase(char* buffer, int size, int /*writing*/, void* user_data) {
  const auto* passphrase = static_cast<const std::string*>(user_data);
  if (!passphrase || passphrase->empty() || static_cast<int>(passphrase->size()) > size) return 0;
  std::memcpy(buffer, passphrase->data(), passphrase->size());
  return static_cast<int>(passphrase->size());
}

// ALPN, the server's preference first: h2 when HTTP/2 is served, then HTTP/1.1. A client
// offering neither goes on without ALPN (and may then speak HTTP/1.1 or leave).
constexpr unsigned char h2_and_http11[] = {2, 'h', '2', 8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
constexpr unsigned char http11_only[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};

int select_alpn(SSL*, const unsigned char** out, unsigned char* out_length,
                const unsigned char* offered, unsigned int offered_length, void* offer_h2) {
  const unsigned char* ours = offer_h2 ? h2_and_http11 : http11_only;
  const unsigned int ours_length = offer_h2 ? sizeof h2_and_http11 : sizeof http11_only;
  unsigned char* chosen = nullptr;
  if (SSL_select_next_proto(&chosen, out_length, ours, ours_length, offered, offered_length) !=
      OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_NOACK;
  }
  *out = chosen;
  return SSL_TLSEXT_ERR_OK;
}

std::string first_line_of(const std::string& path) {
  std::ifstream file(path);
  if (!file) fail("tls.password_file", "cannot read `" + path + "`");
  std::string line;
  std::getline(file, line);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

}  // namespace

void TlsContextDeleter::operator()(SSL_CTX* context) const { SSL_CTX_free(context); }

bool serves_tls(const Config& config) {
  for (const auto& bind : config.bind) {
    if (const auto address = BindAddress::parse(bind); address && address->tls) return true;
  }
  return false;
}

TlsContext make_tls_context(const Tls& settings, bool offer_h2) {
  ERR_clear_error();
  TlsContext context(SSL_CTX_new(TLS_server_method()));
  if (!context) throw std::runtime_error("cannot create a TLS context: " + openssl_errors());
  SSL_CTX* raw = context.get();
  SSL_CTX_set_min_proto_version(raw,
                                settings.min_version == "1.3" ? TLS1_3_VERSION : TLS1_2_VERSION);
  SSL_CTX_set_options(
      raw, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  // An idle keep-alive connection gives its record buffers back: 26 KiB per idle connection
  // instead of 37, and no slower (bench/tls.py, performance.md).
  SSL_CTX_set_mode(raw, SSL_MODE_RELEASE_BUFFERS);
  // The passphrase must outlive the loading only: keys are decrypted once, here.
  const std::string passphrase =
      settings.password_file.empty() ? std::string() : first_line_of(settings.password_file);
  SSL_CTX_set_default_passwd_cb(raw, give_passphrase);
  SSL_CTX_set_default_passwd_cb_userdata(raw, const_cast<std::string*>(&passphrase));
  if (settings.certfile.empty()) fail("tls.certfile", "`https://` binds need a certificate");
  if (SSL_CTX_use_certificate_chain_file(raw, settings.certfile.c_str()) != 1) {
    fail("tls.certfile",
         "cannot load a PEM certificate from `" + settings.certfile + "`: " + openssl_errors());
  }
  const std::string& keyfile = settings.keyfile.empty() ? settings.certfile : settings.keyfile;
  const std::string key_setting = settings.keyfile.empty() ? "tls.certfile" : "tls.keyfile";
  if (SSL_CTX_use_PrivateKey_file(raw, keyfile.c_str(), SSL_FILETYPE_PEM) != 1) {
    fail(key_setting,
         "cannot load a PEM private key from `" + keyfile + "`" +
             (settings.password_file.empty() ? " (an encrypted key needs `tls.password_file`)"
                                             : " (is `tls.password_file` its passphrase?)") +
             ": " + openssl_errors());
  }
  if (SSL_CTX_check_private_key(raw) != 1) {
    fail(key_setting, "the key in `" + keyfile + "` is not the certificate's: " + openssl_errors());
  }
  SSL_CTX_set_default_passwd_cb_userdata(raw, nullptr);
  if (!settings.ciphers.empty() && SSL_CTX_set_cipher_list(raw, settings.ciphers.c_str()) != 1) {
    fail("tls.ciphers", "no cipher OpenSSL knows in `" + settings.ciphers + "`");
  }
  // The callback's argument says only yes or no: any non-null pointer is yes.
  static int yes = 1;
  SSL_CTX_set_alpn_select_cb(raw, select_alpn, offer_h2 ? &yes : nullptr);
  if (settings.verify_client != "none") {
    if (settings.ca_certs.empty())
      fail("tls.verify_client", "client certificates need `tls.ca_certs`");
    if (SSL_CTX_load_verify_locations(raw, settings.ca_certs.c_str(), nullptr) != 1) {
      fail("tls.ca_certs",
           "cannot load PEM certificates from `" + settings.ca_certs + "`: " + openssl_errors());
    }
    // The CAs named to the client in the CertificateRequest, so it can pick its certificate.
    SSL_CTX_set_client_CA_list(raw, SSL_load_client_CA_file(settings.ca_certs.c_str()));
    SSL_CTX_set_verify(
        raw,
        SSL_VERIFY_PEER |
            (settings.verify_client == "required" ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0),
        nullptr);
    // Resumed sessions keep their verified client: OpenSSL refuses them without an id context.
    static const unsigned char id_context[] = "hornbeam";
    SSL_CTX_set_session_id_context(raw, id_context, sizeof id_context - 1);
  }
  return context;
}

}  // namespace hornbeam::config
