#pragma once

// Listen sockets for `bind` entries, shared by the arbiter (which opens them for its workers)
// and a worker running alone. Every socket is close-on-exec: only the fds the arbiter passes
// on purpose reach a worker.

#include "common/unique_fd.hpp"

#include <sys/types.h>
#include <string>
#include <vector>

namespace hornbeam {

struct ListenOptions {
  int backlog = 2048;
  bool reuse_port = false;  // SO_REUSEPORT: several processes bind the same port
  bool listen = true;  // false: bind only (reserves a reuse_port address, takes no connections)
  mode_t umask = 022;  // unix sockets: the socket file's mode is 0777 & ~umask
  uid_t owner = static_cast<uid_t>(-1);  // unix sockets: chown to this user / group (-1: keep)
  gid_t group = static_cast<gid_t>(-1);
  // unix sockets: a process still listening at the path loses it to this one (the new arbiter
  // of a USR2 upgrade taking the control and metrics paths); otherwise that is refused.
  bool take_over_live_unix_socket = false;
};

// Makes room for a unix socket at `path`: removes a socket file that nobody listens on any
// more (left by a server that died), and nothing else. Throws std::runtime_error naming `bind`
// when the path holds a file that is not a socket (never removed: a typo in a setting must not
// delete a file) or a socket a live process listens on (unless `take_over_live`).
void clear_unix_socket_path(const std::string& path, const std::string& bind, bool take_over_live);

// Opens `bind` (host:port, [v6]:port, unix:/path; fd://N is taken over as it is, made
// close-on-exec). Throws std::runtime_error naming the address and the reason.
UniqueFd open_listen_socket(const std::string& bind, const ListenOptions& options);

// "127.0.0.1:43817" for a TCP socket (the real port when bound to 0), "unix:/path" otherwise.
std::string socket_name(int fd);

// Sockets handed over by systemd socket activation (LISTEN_FDS / LISTEN_PID for this process),
// made close-on-exec; the variables are removed so that children do not see them. Empty when
// the process was not socket-activated.
std::vector<UniqueFd> take_activated_sockets();

}  // namespace hornbeam
