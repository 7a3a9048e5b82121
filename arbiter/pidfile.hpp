#pragma once

// The arbiter's pidfile: written at start, renamed to `<path>.oldbin` when a binary upgrade
// starts (the new arbiter writes `<path>`), removed at exit when it still holds our pid.

#include <string>

namespace hornbeam::arbiter {

class Pidfile {
 public:
  Pidfile() = default;
  // Throws std::runtime_error naming the path when it cannot be written.
  explicit Pidfile(std::string path);
  ~Pidfile();
  Pidfile(const Pidfile&) = delete;
  Pidfile& operator=(const Pidfile&) = delete;
  Pidfile(Pidfile&& other) noexcept;
  Pidfile& operator=(Pidfile&& other) noexcept;

  // Throws std::runtime_error when `path` names a running arbiter (as Gunicorn refuses to
  // start "already running on PID"): two arbiters on one pidfile would signal each other's
  // workers. A pid that is gone, or is not an arbiter's (reused), is a stale file.
  static void check_no_arbiter_runs(const std::string& path);

  void rename_to_oldbin();  // USR2
  void restore_name();      // the upgraded arbiter failed: <path> is ours again

 private:
  std::string original_;  // the configured path
  std::string path_;      // where the file is now
};

}  // namespace hornbeam::arbiter
