#include "worker/server_state.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <system_error>

namespace hornbeam::worker {
namespace {

int open_bell() {
  const int fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "eventfd");
  return fd;
}

std::vector<std::string> prefixes_of(const std::vector<ServedApp>& apps) {
  std::vector<std::string> prefixes;
  for (const auto& app : apps) prefixes.push_back(app.prefix);
  return prefixes;
}

}  // namespace

FlushQueue::FlushQueue(boost::asio::io_context& io) : bell_(io, open_bell()) { listen(); }

void FlushQueue::push(const std::weak_ptr<Flushable>& target) {
  bool first = false;
  {
    std::lock_guard lock(mutex_);
    first = pending_.empty() && !rung_;
    pending_.push_back(target);
  }
  if (first && !WakeBatch::hold(*this)) wake_now();
}

void FlushQueue::wake_now() {
  {
    std::lock_guard lock(mutex_);
    if (rung_ || pending_.empty()) return;
    rung_ = true;
  }
  const std::uint64_t one = 1;
  // Cannot fail short of a counter overflow, which one ring per run() rules out.
  [[maybe_unused]] const auto written = ::write(bell_.native_handle(), &one, sizeof one);
}

void FlushQueue::listen() {
  bell_.async_wait(
      boost::asio::posix::stream_descriptor::wait_read, [this](boost::system::error_code ec) {
        if (ec) return;
        // Listen again before taking the queue: a ring after run()'s swap is then
        // heard.
        listen();
        std::uint64_t rings = 0;
        [[maybe_unused]] const auto read = ::read(bell_.native_handle(), &rings, sizeof rings);
        run();
      });
}

void FlushQueue::run() {
  {
    std::lock_guard lock(mutex_);
    running_.swap(pending_);
    rung_ = false;
  }
  for (auto& weak : running_) {
    if (auto target = weak.lock()) target->flush();
  }
  running_.clear();
}

std::vector<ServedApp> served_app_table(const config::Config& config) {
  std::vector<ServedApp> apps;
  for (const auto& mount : config::served_apps(config)) {
    const bool own_limit = mount.max_body_size.has_value();
    apps.push_back(
        {mount.prefix, mount.worker_class == "asgi",
         own_limit ? *mount.max_body_size : config.limits.max_body_size,
         own_limit ? "the max_body_size of the mount at " + mount.prefix : "limits.max_body_size"});
  }
  return apps;
}

ServerState::ServerState(boost::asio::io_context& io_context, const config::Config& settings)
    : io(io_context),
      config(settings),
      access_format(settings.logging.access_log_format),
      trusted_proxies(settings.forwarded_allow_ips),
      apps(served_app_table(settings)),
      router(apps.size() > 1 || (apps.size() == 1 && apps[0].prefix != "/")
                 ? std::optional<MountRouter>(prefixes_of(apps))
                 : std::nullopt),
      proxy_protocol(settings.proxy_protocol == "v1"   ? ProxyProtocol::v1
                     : settings.proxy_protocol == "v2" ? ProxyProtocol::v2
                                                       : ProxyProtocol::off),
      proxy_peers(settings.proxy_allow_ips),
      access_json(settings.logging.format == "json") {}

std::pair<std::string, std::uint16_t> endpoint_address(const Protocol::endpoint& endpoint) {
  char host[INET6_ADDRSTRLEN] = "";
  const auto* address = endpoint.data();
  if (address->sa_family == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(address);
    inet_ntop(AF_INET, &v4->sin_addr, host, sizeof host);
    return {host, ntohs(v4->sin_port)};
  }
  if (address->sa_family == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(address);
    inet_ntop(AF_INET6, &v6->sin6_addr, host, sizeof host);
    return {host, ntohs(v6->sin6_port)};
  }
  return {"", 0};
}

}  // namespace hornbeam::worker
