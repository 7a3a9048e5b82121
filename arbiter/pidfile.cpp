#include "arbiter/pidfile.hpp"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <string_view>
#include <utility>

namespace hornbeam::arbiter {
namespace {

bool holds_our_pid(const std::string& path) {
  std::ifstream in(path);
  long pid = 0;
  return in >> pid && pid == static_cast<long>(::getpid());
}

// Whether `pid` is a running hornbeam-arbiter (its command name, as /proc shows it, cut to 15
// characters by the kernel). Without /proc, a live pid counts.
bool is_running_arbiter(long pid) {
  if (pid <= 0 || pid == static_cast<long>(::getpid())) return false;
  if (::kill(static_cast<pid_t>(pid), 0) != 0 && errno != EPERM) return false;
  std::ifstream comm("/proc/" + std::to_string(pid) + "/comm");
  std::string name;
  if (!(comm >> name)) return true;
  return std::string_view("hornbeam-arbiter").starts_with(name) && name.size() >= 8;
}

}  // namespace

void Pidfile::check_no_arbiter_runs(const std::string& path) {
  std::ifstream in(path);
  long pid = 0;
  if (in >> pid && is_running_arbiter(pid)) {
    throw std::runtime_error("the pidfile " + path + " names a running arbiter (pid " +
                             std::to_string(pid) +
                             "): stop it first, or give this one another pidfile");
  }
}

Pidfile::Pidfile(std::string path) : original_(path), path_(std::move(path)) {
  // Written beside and renamed into place: a reader never sees a half-written pid.
  const std::string temporary = path_ + ".tmp";
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << ::getpid() << "\n";
    if (!out.flush())
      throw std::runtime_error("cannot write the pidfile " + path_ + ": " + std::strerror(errno));
  }
  if (std::rename(temporary.c_str(), path_.c_str()) != 0) {
    throw std::runtime_error("cannot write the pidfile " + path_ + ": " + std::strerror(errno));
  }
}

Pidfile::~Pidfile() {
  if (!path_.empty() && holds_our_pid(path_)) ::unlink(path_.c_str());
}

Pidfile::Pidfile(Pidfile&& other) noexcept
    : original_(std::move(other.original_)), path_(std::exchange(other.path_, {})) {}

Pidfile& Pidfile::operator=(Pidfile&& other) noexcept {
  if (this != &other) {
    if (!path_.empty() && holds_our_pid(path_)) ::unlink(path_.c_str());
    original_ = std::move(other.original_);
    path_ = std::exchange(other.path_, {});
  }
  return *this;
}

void Pidfile::rename_to_oldbin() {
  if (path_.empty() || path_ != original_) return;
  const std::string oldbin = original_ + ".oldbin";
  if (std::rename(path_.c_str(), oldbin.c_str()) == 0) path_ = oldbin;
}

void Pidfile::restore_name() {
  if (path_.empty() || path_ == original_) return;
  if (std::rename(path_.c_str(), original_.c_str()) == 0) path_ = original_;
}

}  // namespace hornbeam::arbiter
