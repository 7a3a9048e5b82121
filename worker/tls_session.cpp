#include "worker/tls_session.hpp"

#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <string>

namespace hornbeam::worker {
namespace {

struct BioDeleter {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
using Bio = std::unique_ptr<BIO, BioDeleter>;

struct X509Deleter {
  void operator()(X509* certificate) const { X509_free(certificate); }
};

std::string text_of(BIO* bio) {
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio, &data);
  return length > 0 ? std::string(data, static_cast<std::size_t>(length)) : std::string();
}

// RFC 4514 (RFC 2253's successor): "CN=alice,O=Example", UTF-8 kept as it is.
std::string distinguished_name(const X509_NAME* name) {
  Bio bio(BIO_new(BIO_s_mem()));
  if (!bio || X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) < 0)
    return {};
  return text_of(bio.get());
}

std::string pem_of(X509* certificate) {
  Bio bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), certificate) != 1) return {};
  return text_of(bio.get());
}

}  // namespace

std::shared_ptr<const TlsSession> describe_tls_session(SSL* ssl) {
  auto session = std::make_shared<TlsSession>();
  session->protocol = SSL_get_version(ssl);
  session->version = SSL_version(ssl);
  if (const SSL_CIPHER* cipher = SSL_get_current_cipher(ssl)) {
    session->cipher = SSL_CIPHER_get_name(cipher);
    session->cipher_id = SSL_CIPHER_get_protocol_id(cipher);
  }
  std::unique_ptr<X509, X509Deleter> client(SSL_get1_peer_certificate(ssl));
  if (!client) {
    session->client_verify = "NONE";
    return session;
  }
  const long verified = SSL_get_verify_result(ssl);
  session->client_verify = verified == X509_V_OK
                               ? "SUCCESS"
                               : std::string("FAILED:") + X509_verify_cert_error_string(verified);
  session->client_subject = distinguished_name(X509_get_subject_name(client.get()));
  session->client_issuer = distinguished_name(X509_get_issuer_name(client.get()));
  session->client_cert_pem = pem_of(client.get());
  return session;
}

}  // namespace hornbeam::worker
