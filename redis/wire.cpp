#include "redis/wire.hpp"

#include "redis/connection.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace hornbeam::redis {
namespace {

// Waits until `fd` is ready for `events` or `deadline` passes (false then).
bool wait_for(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return false;
    pollfd entry{fd, events, 0};
    const int ready = ::poll(&entry, 1, static_cast<int>(left.count()));
    if (ready > 0) return true;
    if (ready < 0 && errno != EINTR) return false;
  }
}

std::string system_error(const char* what) {
  return std::string(what) + ": " + std::strerror(errno);
}

std::string tls_error(const char* what) {
  const unsigned long error = ERR_get_error();
  ERR_clear_error();
  char text[256] = "unknown error";
  if (error) ERR_error_string_n(error, text, sizeof text);
  return std::string(what) + ": " + text;
}

UniqueFd connect_address(int family, const sockaddr* address, socklen_t size,
                         Clock::time_point deadline, std::string& why) {
  UniqueFd fd(::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) {
    why = system_error("socket");
    return {};
  }
  if (::connect(fd.get(), address, size) != 0) {
    if (errno != EINPROGRESS) {
      why = system_error("connect");
      return {};
    }
    if (!wait_for(fd.get(), POLLOUT, deadline)) {
      why = "connect: timed out";
      return {};
    }
    int error = 0;
    socklen_t error_size = sizeof error;
    ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &error, &error_size);
    if (error != 0) {
      why = std::string("connect: ") + std::strerror(error);
      return {};
    }
  }
  if (family != AF_UNIX) {
    const int on = 1;
    ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
  }
  return fd;
}

// unix://: the path's length was checked when the URL was read.
UniqueFd connect_local(const std::string& path, Clock::time_point deadline) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  path.copy(address.sun_path, sizeof address.sun_path - 1);
  std::string why;
  UniqueFd fd = connect_address(AF_UNIX, reinterpret_cast<const sockaddr*>(&address),
                                sizeof address, deadline, why);
  if (!fd) throw Unavailable(why);
  return fd;
}

UniqueFd connect_node(const Node& node, Clock::time_point deadline) {
  if (node.local()) return connect_local(node.host, deadline);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const auto port = std::to_string(node.port);
  if (const int error = ::getaddrinfo(node.host.c_str(), port.c_str(), &hints, &found)) {
    throw Unavailable("cannot resolve " + node.host + ": " + ::gai_strerror(error));
  }
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> addresses(found, &::freeaddrinfo);
  std::string why = "no address";
  for (const addrinfo* address = found; address; address = address->ai_next) {
    if (UniqueFd fd = connect_address(address->ai_family, address->ai_addr, address->ai_addrlen,
                                      deadline, why)) {
      return fd;
    }
  }
  throw Unavailable(why);
}

}  // namespace

std::shared_ptr<SSL_CTX> make_client_tls(const std::string& ca_file) {
  std::shared_ptr<SSL_CTX> context(SSL_CTX_new(TLS_client_method()), &SSL_CTX_free);
  if (!context) throw std::runtime_error(tls_error("cannot make a TLS context"));
  SSL_CTX_set_min_proto_version(context.get(), TLS1_2_VERSION);
  SSL_CTX_set_verify(context.get(), SSL_VERIFY_PEER, nullptr);
  const int loaded = ca_file.empty()
                         ? SSL_CTX_set_default_verify_paths(context.get())
                         : SSL_CTX_load_verify_locations(context.get(), ca_file.c_str(), nullptr);
  if (loaded != 1) {
    throw std::runtime_error(tls_error(
        ("cannot read the CA certificates " + (ca_file.empty() ? "of the system" : ca_file))
            .c_str()));
  }
  return context;
}

std::unique_ptr<Wire> Wire::open(const Node& node, const std::shared_ptr<SSL_CTX>& tls,
                                 Clock::time_point deadline) {
  std::unique_ptr<Wire> wire(new Wire(connect_node(node, deadline)));
  if (tls) {
    std::string why;
    wire->tls_ = tls;
    if (!wire->handshake(node, tls.get(), deadline, why)) throw Unavailable(why);
    return wire;  // non-blocking: the Wire polls
  }
  // Reads block (one recv per reply instead of a poll and a recv), waking every read_slice
  // to look at the call's deadline; sends never block (MSG_DONTWAIT).
  const int flags = ::fcntl(wire->fd(), F_GETFL);
  ::fcntl(wire->fd(), F_SETFL, flags & ~O_NONBLOCK);
  const timeval slice{0, static_cast<suseconds_t>(std::chrono::microseconds(read_slice).count())};
  ::setsockopt(wire->fd(), SOL_SOCKET, SO_RCVTIMEO, &slice, sizeof slice);
  return wire;
}

Wire::~Wire() {
  if (ssl_) SSL_free(ssl_);
}

bool Wire::handshake(const Node& node, SSL_CTX* tls, Clock::time_point deadline, std::string& why) {
  ssl_ = SSL_new(tls);
  if (!ssl_ || SSL_set_fd(ssl_, fd()) != 1) {
    why = tls_error("TLS");
    return false;
  }
  SSL_set_mode(ssl_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  // The certificate must name the host of the URL (an address: its IP SAN).
  // SSL_set_tlsext_host_name is a macro with a C cast: its function, called directly.
  SSL_ctrl(ssl_, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
           const_cast<char*>(node.host.c_str()));
  X509_VERIFY_PARAM* check = SSL_get0_param(ssl_);
  if (X509_VERIFY_PARAM_set1_ip_asc(check, node.host.c_str()) != 1) {
    ERR_clear_error();
    X509_VERIFY_PARAM_set1_host(check, node.host.c_str(), 0);
  }
  for (;;) {
    const int result = SSL_connect(ssl_);
    if (result == 1) return true;
    const int error = SSL_get_error(ssl_, result);
    if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) {
      if (wait_for(fd(), error == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline)) continue;
      why = "TLS handshake: timed out";
      return false;
    }
    const long verified = SSL_get_verify_result(ssl_);
    why = verified != X509_V_OK ? std::string("TLS: the server's certificate: ") +
                                      X509_verify_cert_error_string(verified)
                                : tls_error("TLS handshake");
    ERR_clear_error();
    return false;
  }
}

bool Wire::send_all(std::string_view bytes, Clock::time_point deadline, std::string& why) {
  while (!bytes.empty()) {
    long sent;
    int wait = POLLOUT;
    if (ssl_) {
      std::lock_guard lock(ssl_mutex_);
      const int result = SSL_write(ssl_, bytes.data(), static_cast<int>(bytes.size()));
      sent = result;
      if (result <= 0) {
        const int error = SSL_get_error(ssl_, result);
        if (error == SSL_ERROR_WANT_READ) {
          wait = POLLIN;
        } else if (error != SSL_ERROR_WANT_WRITE) {
          why = tls_error("TLS send");
          return false;
        }
      }
    } else {
      sent = ::send(fd(), bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (sent < 0 && errno == EINTR) continue;
      if (sent < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
        why = system_error("send");
        return false;
      }
    }
    if (sent > 0) {
      bytes.remove_prefix(static_cast<std::size_t>(sent));
    } else if (!wait_for(fd(), static_cast<short>(wait), deadline)) {
      why = "send: timed out (shared_state.timeout)";
      return false;
    }
  }
  return true;
}

long Wire::tls_read(char* into, std::size_t size, int wait_ms, std::string& why) {
  for (int tries = 0; tries < 2; ++tries) {
    int wait = POLLIN;
    {
      std::lock_guard lock(ssl_mutex_);
      const int result = SSL_read(ssl_, into, static_cast<int>(size));
      if (result > 0) return result;
      const int error = SSL_get_error(ssl_, result);
      if (error == SSL_ERROR_ZERO_RETURN) return closed;
      if (error == SSL_ERROR_WANT_WRITE) {
        wait = POLLOUT;
      } else if (error != SSL_ERROR_WANT_READ) {
        if (error == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) return closed;
        why = tls_error("TLS read");
        return failed;
      }
    }
    if (wait_ms == 0) return nothing_yet;
    pollfd entry{fd(), static_cast<short>(wait), 0};
    if (::poll(&entry, 1, wait_ms) <= 0) return nothing_yet;
  }
  return nothing_yet;
}

long Wire::plain_read(char* into, std::size_t size, int flags, std::string& why) {
  const ssize_t got = ::recv(fd(), into, size, flags);
  if (got > 0) return got;
  if (got == 0) return closed;
  if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) return nothing_yet;
  why = system_error("recv");
  return failed;
}

long Wire::read_some(char* into, std::size_t size, std::string& why) {
  if (ssl_) return tls_read(into, size, static_cast<int>(read_slice.count()), why);
  return plain_read(into, size, 0, why);  // the socket's receive timeout is the slice
}

long Wire::read_now(char* into, std::size_t size, std::string& why) {
  return ssl_ ? nothing_yet : plain_read(into, size, MSG_DONTWAIT, why);
}

void Wire::shut_down() { ::shutdown(fd(), SHUT_RDWR); }

}  // namespace hornbeam::redis
