#include "redis/client.hpp"

#include "common/logging.hpp"

#include <spdlog/logger.h>

#include <atomic>
#include <charconv>
#include <map>
#include <thread>

namespace hornbeam::redis {
namespace {

using namespace std::chrono_literals;

constexpr auto first_backoff = 100ms;
constexpr auto longest_backoff = 5000ms;
constexpr int max_redirections = 5;
// After a MOVED or a lost node, the slot map is read again, at most this often.
constexpr auto slot_map_refresh = 1000ms;

constexpr std::array<std::uint16_t, 256> crc16_table = [] {
  std::array<std::uint16_t, 256> table{};
  for (unsigned byte = 0; byte < 256; ++byte) {
    std::uint16_t crc = static_cast<std::uint16_t>(byte << 8);
    for (int bit = 0; bit < 8; ++bit)
      crc = static_cast<std::uint16_t>(crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1);
    table[byte] = crc;
  }
  return table;
}();

std::string encoded(Client::Words words) {
  std::string out;
  append_command(out, words);
  return out;
}

// "MOVED 3999 127.0.0.1:6381" / "ASK ...": the slot and the node.
std::pair<std::uint16_t, Node> redirection(const std::string& text) {
  const auto first = text.find(' ');
  const auto second = text.find(' ', first + 1);
  if (first == std::string::npos || second == std::string::npos)
    throw Unavailable("a cluster redirection without its node: " + text);
  unsigned slot = 0;
  std::from_chars(text.data() + first + 1, text.data() + second, slot);
  const std::string_view address(text.data() + second + 1, text.size() - second - 1);
  const auto colon = address.rfind(':');
  Node node;
  node.host = std::string(address.substr(0, colon));
  if (node.host.size() > 2 && node.host.front() == '[')
    node.host = node.host.substr(1, node.host.size() - 2);
  unsigned port = 0;
  if (colon != std::string_view::npos)
    std::from_chars(address.data() + colon + 1, address.data() + address.size(), port);
  node.port = static_cast<std::uint16_t>(port);
  return {static_cast<std::uint16_t>(slot % 16384), node};
}

}  // namespace

std::uint16_t key_slot(std::string_view key) {
  if (const auto open = key.find('{'); open != std::string_view::npos) {
    const auto close = key.find('}', open + 1);
    if (close != std::string_view::npos && close > open + 1)
      key = key.substr(open + 1, close - open - 1);
  }
  std::uint16_t crc = 0;
  for (const char c : key)
    crc = static_cast<std::uint16_t>(
        (crc << 8) ^ crc16_table[((crc >> 8) ^ static_cast<unsigned char>(c)) & 0xff]);
  return crc % 16384;
}

struct Client::Link {
  explicit Link(Node where) : node(std::move(where)) {}
  const Node node;
  std::mutex mutex;
  std::shared_ptr<Connection> connection;
  Clock::time_point retry_at{};
  std::chrono::milliseconds backoff{0};
  std::string last_failure;
  // Its loss was logged, its recovery not yet. Atomic: every successful call looks at it.
  std::atomic<bool> down{false};

  // Under `mutex`: the node failed; no new connection before the backoff has passed.
  void failed(const std::string& why) {
    last_failure = why;
    connection.reset();
    backoff = std::clamp(backoff * 2, std::chrono::milliseconds(first_backoff),
                         std::chrono::milliseconds(longest_backoff));
    retry_at = Clock::now() + backoff;
    if (down.exchange(true)) return;
    logging::error_log().warn(
        "shared state: Redis at {} is unavailable ({}); hornbeam.state_* calls that need it "
        "raise StateUnavailable until it is back",
        to_string(node), why);
  }

  // A reply came: the node serves (again). Recovery is a reply, not a connection: a frozen
  // server's kernel still accepts connections.
  void answered() {
    if (!down.load(std::memory_order_relaxed)) return;
    std::lock_guard lock(mutex);
    if (!down.exchange(false)) return;
    backoff = {};
    logging::error_log().info("shared state: Redis at {} is back", to_string(node));
  }
};

Client::Client(Target target, std::chrono::milliseconds timeout, const std::string& ca_file)
    : target_(std::move(target)),
      timeout_(timeout),
      tls_(target_.tls ? make_client_tls(ca_file) : nullptr),
      slots_(std::make_unique<std::array<std::int16_t, 16384>>()) {
  slots_->fill(-1);
  for (const auto& node : target_.nodes) links_.push_back(std::make_unique<Link>(node));
}

Client::~Client() = default;

void Client::try_connect() {
  try {
    if (target_.cluster) {
      read_slot_map(deadline());
    } else {
      connection(*links_[0], deadline());
    }
    logging::error_log().info("shared state: on Redis at {}", describe(target_));
  } catch (const Unavailable&) {
    // Logged by the link; the worker serves, and the state comes when Redis does.
  }
}

std::shared_ptr<Connection> Client::connection(Link& link, Clock::time_point deadline) {
  std::lock_guard lock(link.mutex);
  if (link.connection) {
    std::string failure;
    switch (link.connection->health(failure)) {
      case Connection::Health::works: return link.connection;
      case Connection::Health::failed: link.failed(failure); break;
      case Connection::Health::closed_while_idle:
        link.connection.reset();  // closed by the server while unused: nothing was lost
        break;
    }
  }
  if (Clock::now() < link.retry_at) {
    const auto wait = std::chrono::ceil<std::chrono::milliseconds>(link.retry_at - Clock::now());
    throw Unavailable("Redis at " + to_string(link.node) + ": " + link.last_failure +
                      " (next try in " + std::to_string(wait.count()) + " ms)");
  }
  try {
    auto opened = Connection::open(link.node, tls_, deadline);
    std::string greeting;
    std::size_t count = append_auth(greeting, target_);
    const auto db = std::to_string(target_.db);
    if (target_.db != 0) {
      append_command(greeting, {"SELECT", db});
      ++count;
    }
    if (count > 0) {
      for (const auto& reply : opened->exchange(greeting, count, deadline)) {
        if (reply.is_error()) throw Unavailable(reply.text);
      }
    }
    link.connection = std::move(opened);
    return link.connection;
  } catch (const Unavailable& e) {
    link.failed(e.what());
    throw;
  }
}

std::vector<Reply> Client::exchange(std::size_t node, std::string_view commands, std::size_t count,
                                    Clock::time_point deadline) {
  Link* link;
  {
    std::shared_lock lock(topology_mutex_);
    link = links_.at(node).get();
  }
  auto connection = this->connection(*link, deadline);
  try {
    auto replies = connection->exchange(commands, count, deadline);
    link->answered();
    return replies;
  } catch (const Unavailable& e) {
    {
      std::lock_guard lock(link->mutex);
      if (link->connection == connection) link->failed(e.what());
    }
    lost_topology();
    throw;
  }
}

std::size_t Client::link_index(const Node& node) {
  std::unique_lock lock(topology_mutex_);
  for (std::size_t i = 0; i < links_.size(); ++i) {
    if (links_[i]->node == node) return i;
  }
  links_.push_back(std::make_unique<Link>(node));
  return links_.size() - 1;
}

void Client::lost_topology() {
  if (!target_.cluster) return;
  std::unique_lock lock(topology_mutex_);
  stale_ = true;
}

void Client::read_slot_map(Clock::time_point deadline) {
  std::size_t known;
  {
    std::shared_lock lock(topology_mutex_);
    known = links_.size();
  }
  static const std::string slots_command =
      encoded(std::array<std::string_view, 2>{"CLUSTER", "SLOTS"});
  std::string why = "no node to ask";
  for (std::size_t asked = 0; asked < known; ++asked) {
    Reply reply;
    Node asked_node;
    try {
      {
        std::shared_lock lock(topology_mutex_);
        asked_node = links_[asked]->node;
      }
      reply = exchange(asked, slots_command, 1, deadline)[0];
    } catch (const Unavailable& e) {
      why = e.what();
      continue;
    }
    if (reply.kind != Reply::Kind::array) {
      why = "CLUSTER SLOTS: " + (reply.is_error() ? reply.text : std::string("not an array"));
      continue;
    }
    auto map = std::make_unique<std::array<std::int16_t, 16384>>();
    map->fill(-1);
    for (const auto& range : reply.elements) {
      if (range.elements.size() < 3 || range.elements[2].elements.size() < 2) continue;
      const auto& master = range.elements[2].elements;
      Node node{master[0].text, static_cast<std::uint16_t>(master[1].integer)};
      if (node.host.empty() || node.host == "?") node.host = asked_node.host;
      const auto index = static_cast<std::int16_t>(link_index(node));
      for (auto slot = range.elements[0].integer; slot <= range.elements[1].integer && slot < 16384;
           ++slot)
        (*map)[static_cast<std::size_t>(slot)] = index;
    }
    std::unique_lock lock(topology_mutex_);
    slots_ = std::move(map);
    slots_known_ = true;
    stale_ = false;
    slots_read_at_ = Clock::now();
    return;
  }
  throw Unavailable("no node of the Redis Cluster answers CLUSTER SLOTS (" + why + ")");
}

std::size_t Client::node_for(std::string_view key, Clock::time_point deadline) {
  if (!target_.cluster) return 0;
  const auto slot = key_slot(key);
  bool read_again;
  {
    std::shared_lock lock(topology_mutex_);
    read_again = !slots_known_ || (stale_ && Clock::now() - slots_read_at_ > slot_map_refresh);
  }
  if (read_again) {
    try {
      read_slot_map(deadline);
    } catch (const Unavailable&) {
      std::shared_lock lock(topology_mutex_);
      if (!slots_known_) throw;  // else the old map still serves
    }
  }
  std::shared_lock lock(topology_mutex_);
  const auto node = (*slots_)[slot];
  if (node < 0)
    throw Unavailable("no node of the Redis Cluster serves hash slot " + std::to_string(slot));
  return static_cast<std::size_t>(node);
}

Reply Client::call(std::string_view key, Words words) {
  const auto deadline = this->deadline();
  const std::string single = encoded(words);
  if (!target_.cluster) return std::move(exchange(0, single, 1, deadline)[0]);
  std::optional<std::size_t> asked;
  for (int redirections = 0; redirections <= max_redirections; ++redirections) {
    Reply reply;
    if (asked) {
      static const std::string asking = encoded(std::array<std::string_view, 1>{"ASKING"});
      reply = std::move(exchange(*asked, asking + single, 2, deadline)[1]);
      asked.reset();
    } else {
      reply = std::move(exchange(node_for(key, deadline), single, 1, deadline)[0]);
    }
    const auto code = reply.error_code();
    if (code == "MOVED") {
      const auto [slot, node] = redirection(reply.text);
      const auto index = static_cast<std::int16_t>(link_index(node));
      std::unique_lock lock(topology_mutex_);
      (*slots_)[slot] = index;
      stale_ = true;
    } else if (code == "ASK") {
      asked = link_index(redirection(reply.text).second);
    } else if (code == "TRYAGAIN") {
      if (Clock::now() + 20ms >= deadline) throw Unavailable(reply.text);
      std::this_thread::sleep_for(20ms);
    } else if (code == "CLUSTERDOWN") {
      throw Unavailable(reply.text);
    } else {
      return reply;
    }
  }
  throw Unavailable("more than " + std::to_string(max_redirections) +
                    " cluster redirections for one key");
}

std::vector<Reply> Client::call_each(std::span<const Keyed> commands) {
  const auto deadline = this->deadline();
  std::vector<Reply> replies(commands.size());
  // The commands of each node, in their order, pipelined in one exchange per node.
  std::map<std::size_t, std::vector<std::size_t>> by_node;
  for (std::size_t i = 0; i < commands.size(); ++i)
    by_node[node_for(commands[i].key, deadline)].push_back(i);
  for (const auto& [node, indexes] : by_node) {
    std::string batch;
    for (const auto i : indexes) append_command(batch, commands[i].words);
    auto answers = exchange(node, batch, indexes.size(), deadline);
    for (std::size_t k = 0; k < indexes.size(); ++k) {
      const auto code = answers[k].error_code();
      const auto& command = commands[indexes[k]];
      // A key that moved meanwhile goes on its own, redirections followed.
      replies[indexes[k]] = code == "MOVED" || code == "ASK" || code == "TRYAGAIN"
                                ? call(command.key, command.words)
                                : std::move(answers[k]);
    }
  }
  return replies;
}

std::vector<Reply> Client::transaction(std::span<const std::vector<std::string_view>> commands) {
  std::string batch;
  append_command(batch, {"MULTI"});
  for (const auto& words : commands) append_command(batch, words);
  append_command(batch, {"EXEC"});
  auto replies = exchange(0, batch, commands.size() + 2, deadline());
  Reply& result = replies.back();
  if (result.is_error()) throw Unavailable("the transaction failed: " + result.text);
  if (result.kind != Reply::Kind::array || result.elements.size() != commands.size())
    throw Unavailable("the transaction was not run");
  return std::move(result.elements);
}

std::vector<std::size_t> Client::masters() {
  if (!target_.cluster) return {0};
  node_for("", deadline());  // the slot map, read if it is not yet
  std::shared_lock lock(topology_mutex_);
  std::vector<bool> serving(links_.size());
  for (const auto node : *slots_) {
    if (node >= 0) serving[static_cast<std::size_t>(node)] = true;
  }
  std::vector<std::size_t> nodes;
  for (std::size_t i = 0; i < serving.size(); ++i) {
    if (serving[i]) nodes.push_back(i);
  }
  return nodes;
}

Reply Client::call_on(std::size_t node, Words words) {
  return std::move(exchange(node, encoded(words), 1, deadline())[0]);
}

}  // namespace hornbeam::redis
