#pragma once

// Access log lines in Gunicorn's atoms: `%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s ...`.
// The format is compiled once; every value is escaped so that a request line cannot inject
// terminal control sequences or fake lines into the log.

#include "common/http_exchange.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace hornbeam::worker {

struct AccessEntry {
  std::string remote_addr;
  std::string method;
  std::string target;
  int version = 11;
  int status = 0;
  std::uint64_t body_bytes = 0;
  std::chrono::system_clock::time_point started;
  std::chrono::microseconds duration{0};
  const std::vector<HttpHeader>* request_headers = nullptr;
  const std::vector<HttpHeader>* response_headers = nullptr;
  const TlsSession* tls = nullptr;  // null on a plain connection
};

class AccessLogFormat {
 public:
  // Atoms: h l u t r m U q H s B b f a T D L M p, {name}i (request header), {name}o (response
  // header), {SSL_PROTOCOL}e {SSL_CIPHER}e {SSL_CLIENT_S_DN}e (TLS, as in the WSGI environ).
  // Unknown atoms print "-".
  explicit AccessLogFormat(const std::string& format);

  std::string text(const AccessEntry& entry) const;
  // One JSON object with the usual fields, for `logging.format: json`.
  static std::string json(const AccessEntry& entry);

  bool uses_request_headers() const { return uses_request_headers_; }
  bool uses_response_headers() const { return uses_response_headers_; }

 private:
  struct Part {
    std::string literal;  // printed as is when `atom` is empty
    std::string atom;     // "h", "r", "{user-agent}i", ...
  };
  std::vector<Part> parts_;
  bool uses_request_headers_ = false;
  bool uses_response_headers_ = false;
};

}  // namespace hornbeam::worker
