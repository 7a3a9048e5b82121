#include "arbiter/listen_set.hpp"

#include "common/bind_address.hpp"

#include <unistd.h>

namespace hornbeam::arbiter {

ListenSocket::ListenSocket(std::string bind, UniqueFd fd, bool reserved_for_reuse_port)
    : bind_(std::move(bind)),
      fd_(std::move(fd)),
      reserved_(reserved_for_reuse_port),
      name_(socket_name(fd_.get())) {}

ListenSocket::~ListenSocket() {
  if (handed_over_ || !name_.starts_with("unix:")) return;
  ::unlink(name_.c_str() + 5);
}

void ListenSet::adopt(std::shared_ptr<ListenSocket> socket) {
  known_[socket->bind()] = socket;
  held_.push_back(std::move(socket));
}

ListenSockets ListenSet::open(const config::Config& config, uid_t owner, gid_t group) {
  if (activated_) {
    // systemd owns the addresses: every activated socket is served, whatever `bind` says.
    return alive();
  }
  ListenOptions options;
  options.backlog = static_cast<int>(config.backlog);
  options.umask = static_cast<mode_t>(config.umask);
  options.owner = owner;
  options.group = group;
  ListenSockets sockets;
  for (const auto& entry : config.bind) {
    const auto address = BindAddress::parse(entry);
    // Known by its address: a bind that turns `https://` on a reload keeps its socket.
    const std::string bind = address ? address->to_string() : entry;
    const bool reserve = config.reuse_port && address && address->kind == BindAddress::Kind::tcp;
    if (auto found = known_.find(bind); found != known_.end()) {
      if (auto existing = found->second.lock();
          existing && existing->reserved_for_reuse_port() == reserve) {
        sockets.push_back(existing);
        continue;
      }
    }
    ListenOptions these = options;
    these.reuse_port = reserve;
    these.listen = !reserve;
    sockets.push_back(
        std::make_shared<ListenSocket>(bind, open_listen_socket(bind, these), reserve));
  }
  for (const auto& socket : sockets) known_[socket->bind()] = socket;
  held_.clear();  // adopted sockets not named any more close now
  return sockets;
}

ListenSockets ListenSet::alive() const {
  ListenSockets all;
  for (const auto& [bind, socket] : known_) {
    if (auto still = socket.lock()) all.push_back(still);
  }
  return all;
}

}  // namespace hornbeam::arbiter
