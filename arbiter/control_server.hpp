#pragma once

// The arbiter's control socket (`control_socket`): a unix socket, mode 0600, that takes one
// JSON object per line ({"command": "status"}, {"command": "scale", "workers": 4}, ...) and
// answers one per line, for hornbeamctl. It is only the transport, on a thread of its own:
// every command runs on the arbiter's loop (`Run`), the code its signals run, and the
// answer comes back here. Peers whose user is neither the arbiter's nor root are refused.

#include <functional>
#include <memory>
#include <string>

namespace hornbeam::arbiter {

class ControlServer {
 public:
  // Runs one command (a JSON object's text) on the arbiter's loop and returns its answer
  // (a JSON object's text). Called from the control thread; blocks until answered.
  using Run = std::function<std::string(const std::string& request)>;

  // Creates the socket (throws std::runtime_error naming the path) and starts serving.
  // `take_over`: a live arbiter's socket at the path becomes this one's (a USR2 upgrade);
  // otherwise that is refused, as is a file that is not a socket.
  ControlServer(const std::string& path, bool take_over, Run run);
  ~ControlServer();  // stops serving and removes the socket file, unless another took its path

  // Serves at the path again after another arbiter took it and died (a USR2 upgrade that
  // failed): the file there is then a dead socket. Runs on the control thread; `report` says
  // from there whether it serves the path again, or why not.
  using Reclaimed = std::function<void(bool served_again, const std::string& error)>;
  void reclaim(Reclaimed report);
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace hornbeam::arbiter
