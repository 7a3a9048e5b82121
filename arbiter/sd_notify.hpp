#pragma once

// systemd's notify protocol (sd_notify(3)) without libsystemd: one datagram per state change
// to $NOTIFY_SOCKET. Nothing happens when the variable is not set.

#include <chrono>
#include <string>

namespace hornbeam::arbiter {

class SystemdNotifier {
 public:
  // Reads NOTIFY_SOCKET, and WATCHDOG_USEC when WATCHDOG_PID is absent or names this process,
  // and removes them, so that workers do not inherit them.
  SystemdNotifier();
  bool enabled() const { return !socket_path_.empty(); }
  const std::string& socket_path() const { return socket_path_; }
  // "READY=1\nSTATUS=4 workers"; errors are ignored (systemd may be gone).
  void notify(const std::string& state) const;

  // The unit's WatchdogSec (0: none), for an arbiter started by a USR2 upgrade to keep on.
  std::chrono::microseconds watchdog() const { return watchdog_; }
  // Called every turn of the arbiter's loop: "WATCHDOG=1" at half the unit's WatchdogSec, so
  // that systemd restarts an arbiter whose loop stopped turning.
  void feed_watchdog(std::chrono::steady_clock::time_point now);

 private:
  std::string socket_path_;
  std::chrono::microseconds watchdog_{0};
  std::chrono::steady_clock::time_point next_feed_{};
};

}  // namespace hornbeam::arbiter
