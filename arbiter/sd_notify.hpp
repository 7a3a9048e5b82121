#pragma once

// systemd's notify protocol (sd_notify(3)) without libsystemd: one datagram per state change
// to $NOTIFY_SOCKET. Nothing happens when the variable is not set.

#include <string>

namespace hornbeam::arbiter {

class SystemdNotifier {
 public:
  SystemdNotifier();  // reads NOTIFY_SOCKET and removes it, so that workers do not inherit it
  bool enabled() const { return !socket_path_.empty(); }
  const std::string& socket_path() const { return socket_path_; }
  // "READY=1\nSTATUS=4 workers"; errors are ignored (systemd may be gone).
  void notify(const std::string& state) const;

 private:
  std::string socket_path_;
};

}  // namespace hornbeam::arbiter
