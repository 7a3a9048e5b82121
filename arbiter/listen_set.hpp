#pragma once

// The arbiter's listen sockets, one per `bind` entry, shared between generations: a reload
// keeps the socket of an address that stays (no connection is refused while workers change),
// opens the new ones and closes the ones no generation uses any more.

#include "common/listen_socket.hpp"
#include "config/config.hpp"

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace hornbeam::arbiter {

class ListenSocket {
 public:
  ListenSocket(std::string bind, UniqueFd fd, bool reserved_for_reuse_port);
  ~ListenSocket();  // closes; a unix socket's file is removed unless handed over
  ListenSocket(const ListenSocket&) = delete;
  ListenSocket& operator=(const ListenSocket&) = delete;

  const std::string& bind() const { return bind_; }
  int fd() const { return fd_.get(); }
  // reuse_port: bound (so the address is ours and the port known) but not listening; each
  // worker binds its own listening socket to `name()`.
  bool reserved_for_reuse_port() const { return reserved_; }
  const std::string& name() const { return name_; }  // the address as bound: the real port
  // Another process serves on the socket after this arbiter (the new arbiter after a binary
  // upgrade, the old one after a roll-back, systemd for an activated socket): its file stays.
  void hand_over() { handed_over_ = true; }

 private:
  std::string bind_;
  UniqueFd fd_;
  bool reserved_;
  std::string name_;
  bool handed_over_ = false;
};

using ListenSockets = std::vector<std::shared_ptr<ListenSocket>>;

class ListenSet {
 public:
  // Sockets already open: from systemd socket activation or from the arbiter before a
  // binary upgrade, keyed by bind text (activation: by the address they are bound to).
  void adopt(std::shared_ptr<ListenSocket> socket);

  // The sockets for `config`: kept where the address is unchanged, opened otherwise. Throws
  // std::runtime_error (nothing changed) when an address cannot be opened.
  ListenSockets open(const config::Config& config, uid_t owner, gid_t group);

  // Every socket still used by some generation (the others closed with their last user).
  ListenSockets alive() const;
  void set_socket_activated(bool activated) { activated_ = activated; }
  bool socket_activated() const { return activated_; }

 private:
  std::map<std::string, std::weak_ptr<ListenSocket>> known_;
  ListenSockets held_;  // adopted sockets, until a generation takes them
  bool activated_ = false;
};

}  // namespace hornbeam::arbiter
