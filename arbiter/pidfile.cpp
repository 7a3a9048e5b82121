#include "arbiter/pidfile.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <utility>

namespace hornbeam::arbiter {
namespace {

bool holds_our_pid(const std::string& path) {
  std::ifstream in(path);
  long pid = 0;
  return in >> pid && pid == static_cast<long>(::getpid());
}

}  // namespace

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
