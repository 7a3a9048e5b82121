#include "worker/send_now.hpp"

#include <sys/socket.h>
#include <sys/uio.h>

#include <array>
#include <cerrno>
#include <stdexcept>

namespace hornbeam::worker {

std::optional<std::size_t> send_now(int fd, std::string_view bytes) {
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t n =
        ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      break;
    } else {
      return std::nullopt;
    }
  }
  return sent;
}

std::optional<std::size_t> send_now(int fd, std::initializer_list<std::string_view> pieces) {
  std::array<iovec, max_pieces> left{};
  std::size_t count = 0;
  for (const auto piece : pieces) {
    if (piece.empty()) continue;
    if (count == left.size()) throw std::logic_error("send_now: more pieces than max_pieces");
    left[count++] = {const_cast<char*>(piece.data()), piece.size()};
  }
  if (count == 1)
    return send_now(fd, {static_cast<const char*>(left[0].iov_base), left[0].iov_len});
  std::size_t sent = 0;
  std::size_t first = 0;  // the first piece not sent whole
  while (first < count) {
    msghdr message{};
    message.msg_iov = left.data() + first;
    message.msg_iovlen = count - first;
    ssize_t n = ::sendmsg(fd, &message, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (n <= 0) return std::nullopt;
    sent += static_cast<std::size_t>(n);
    for (; first < count && static_cast<std::size_t>(n) >= left[first].iov_len; ++first)
      n -= static_cast<ssize_t>(left[first].iov_len);
    if (first < count) {
      left[first].iov_base = static_cast<char*>(left[first].iov_base) + n;
      left[first].iov_len -= static_cast<std::size_t>(n);
    }
  }
  return sent;
}

}  // namespace hornbeam::worker
