#pragma once

// A Redis connection's bytes: a TCP socket, with TLS over it for rediss://.
//
// Plain: a blocking socket whose reads wake every 20 ms (to look at the caller's deadline)
// and whose sends never block (MSG_DONTWAIT, then poll): one system call per read and per
// send. TLS: a non-blocking socket polled by the Wire; the SSL object is used under a lock
// of its own, because one thread may send while another reads (OpenSSL's objects are not
// safe to use from two threads at once).

#include "common/unique_fd.hpp"
#include "redis/target.hpp"

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

using SSL = struct ssl_st;
using SSL_CTX = struct ssl_ctx_st;

namespace hornbeam::redis {

using Clock = std::chrono::steady_clock;

// How long a blocking read waits before it looks at its call's deadline again: a call ends
// at most this long after its deadline.
inline constexpr std::chrono::milliseconds read_slice{20};

// The client side of rediss://: TLS 1.2 or newer, the server's certificate checked against
// `ca_file` (PEM; empty: the system's CAs) and the host name of the URL. Throws
// std::runtime_error naming what could not be read.
std::shared_ptr<SSL_CTX> make_client_tls(const std::string& ca_file);

class Wire {
 public:
  // Connects to `node` (TLS when `tls` is given) before `deadline`. Throws Unavailable.
  static std::unique_ptr<Wire> open(const Node& node, const std::shared_ptr<SSL_CTX>& tls,
                                    Clock::time_point deadline);
  ~Wire();

  int fd() const { return fd_.get(); }
  bool encrypted() const { return ssl_ != nullptr; }

  // All of `bytes`, before `deadline`; false (and `why`) when it cannot.
  bool send_all(std::string_view bytes, Clock::time_point deadline, std::string& why);
  enum : long { closed = 0, nothing_yet = -1, failed = -2 };
  // Waits up to a read slice for bytes: how many were read, or closed, nothing_yet, failed
  // (`why` set).
  long read_some(char* into, std::size_t size, std::string& why);
  // The same without waiting (only on plain sockets: TLS answers nothing_yet).
  long read_now(char* into, std::size_t size, std::string& why);
  // Wakes a reader and fails every later operation (the descriptor closes with the Wire).
  void shut_down();

 private:
  explicit Wire(UniqueFd fd) : fd_(std::move(fd)) {}
  bool handshake(const Node& node, SSL_CTX* tls, Clock::time_point deadline, std::string& why);
  long plain_read(char* into, std::size_t size, int flags, std::string& why);
  long tls_read(char* into, std::size_t size, int wait_ms, std::string& why);

  UniqueFd fd_;
  SSL* ssl_ = nullptr;
  std::shared_ptr<SSL_CTX> tls_;  // kept as long as the SSL object uses it
  std::mutex ssl_mutex_;
};

}  // namespace hornbeam::redis
