#include "common/listen_socket.hpp"

#include "common/bind_address.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <stdexcept>

namespace hornbeam {
namespace {

std::runtime_error socket_error(const std::string& what, const std::string& bind, int error) {
  return std::runtime_error(what + " " + bind + ": " + std::strerror(error));
}

sockaddr_un unix_address(const std::string& path, const std::string& bind) {
  sockaddr_un un{};
  un.sun_family = AF_UNIX;
  if (path.size() >= sizeof un.sun_path)
    throw std::runtime_error("unix socket path too long: " + bind);
  std::copy(path.begin(), path.end(), un.sun_path);
  return un;
}

// Whether a process accepts connections on the unix socket at `un` (a refused connection:
// a socket file its server left behind).
bool someone_listens(const sockaddr_un& un) {
  UniqueFd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!probe) return false;
  if (::connect(probe.get(), reinterpret_cast<const sockaddr*>(&un), sizeof un) == 0) return true;
  return errno == EAGAIN;  // listening, with a full backlog
}

UniqueFd bind_unix(const BindAddress& address, const std::string& bind,
                   const ListenOptions& options) {
  sockaddr_un un = unix_address(address.path, bind);
  clear_unix_socket_path(address.path, bind, options.take_over_live_unix_socket);
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) throw socket_error("cannot create a socket for", bind, errno);
  // The umask decides the socket file's mode at bind time; restore the process's own after.
  const mode_t previous = ::umask(options.umask);
  const int rc = ::bind(fd.get(), reinterpret_cast<sockaddr*>(&un), sizeof un);
  const int error = errno;
  ::umask(previous);
  if (rc != 0) throw socket_error("cannot bind", bind, error);
  if ((options.owner != static_cast<uid_t>(-1) || options.group != static_cast<gid_t>(-1)) &&
      ::chown(address.path.c_str(), options.owner, options.group) != 0) {
    throw socket_error("cannot change the owner of", bind, errno);
  }
  return fd;
}

UniqueFd bind_tcp(const BindAddress& address, const std::string& bind,
                  const ListenOptions& options) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(address.port);
  if (const int rc = getaddrinfo(address.host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    throw std::runtime_error("cannot resolve " + bind + ": " + gai_strerror(rc));
  }
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> owner(found, freeaddrinfo);
  UniqueFd fd(::socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) throw socket_error("cannot create a socket for", bind, errno);
  const int on = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  if (options.reuse_port) ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &on, sizeof on);
  if (::bind(fd.get(), found->ai_addr, found->ai_addrlen) != 0)
    throw socket_error("cannot bind", bind, errno);
  return fd;
}

}  // namespace

void clear_unix_socket_path(const std::string& path, const std::string& bind, bool take_over_live) {
  struct stat found {};
  if (::lstat(path.c_str(), &found) != 0) return;  // nothing there (or nothing we may see)
  if (!S_ISSOCK(found.st_mode)) {
    throw std::runtime_error("cannot bind " + bind + ": " + path +
                             " exists and is not a socket (it is left as it is)");
  }
  if (!take_over_live && someone_listens(unix_address(path, bind))) {
    throw std::runtime_error("cannot bind " + bind +
                             ": another process is listening on that socket");
  }
  ::unlink(path.c_str());
}

UniqueFd open_listen_socket(const std::string& bind, const ListenOptions& options) {
  const auto address = BindAddress::parse(bind);
  if (!address) throw std::runtime_error("invalid bind address " + bind);
  if (address->kind == BindAddress::Kind::inherited_fd) {
    if (::fcntl(address->fd, F_SETFD, FD_CLOEXEC) != 0)
      throw socket_error("cannot use", bind, errno);
    return UniqueFd(address->fd);
  }
  UniqueFd fd = address->kind == BindAddress::Kind::unix_socket ? bind_unix(*address, bind, options)
                                                                : bind_tcp(*address, bind, options);
  if (options.listen && ::listen(fd.get(), options.backlog) != 0)
    throw socket_error("cannot listen on", bind, errno);
  return fd;
}

std::string socket_name(int fd) {
  sockaddr_storage address{};
  socklen_t length = sizeof address;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0)
    return "fd " + std::to_string(fd);
  if (address.ss_family == AF_UNIX)
    return "unix:" + std::string(reinterpret_cast<sockaddr_un*>(&address)->sun_path);
  char host[NI_MAXHOST];
  char port[NI_MAXSERV];
  getnameinfo(reinterpret_cast<sockaddr*>(&address), length, host, sizeof host, port, sizeof port,
              NI_NUMERICHOST | NI_NUMERICSERV);
  return address.ss_family == AF_INET6 ? "[" + std::string(host) + "]:" + port
                                       : std::string(host) + ":" + port;
}

std::vector<UniqueFd> take_activated_sockets() {
  // sd_listen_fds(3): the fds start at 3 and are meant for the process named by LISTEN_PID.
  constexpr int first_fd = 3;
  std::vector<UniqueFd> sockets;
  const char* pid = std::getenv("LISTEN_PID");
  const char* count = std::getenv("LISTEN_FDS");
  if (pid && count && std::atol(pid) == static_cast<long>(::getpid())) {
    const long n = std::atol(count);
    for (long i = 0; i < n; ++i) {
      const int fd = first_fd + static_cast<int>(i);
      ::fcntl(fd, F_SETFD, FD_CLOEXEC);
      sockets.emplace_back(fd);
    }
  }
  ::unsetenv("LISTEN_PID");
  ::unsetenv("LISTEN_FDS");
  ::unsetenv("LISTEN_FDNAMES");
  return sockets;
}

}  // namespace hornbeam
