#include "worker/send_now.hpp"

#include <sys/socket.h>
#include <sys/uio.h>

#include <cerrno>
#include <vector>

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
  std::vector<iovec> left;
  left.reserve(pieces.size());
  for (const auto piece : pieces) {
    if (!piece.empty()) left.push_back({const_cast<char*>(piece.data()), piece.size()});
  }
  std::size_t sent = 0;
  std::size_t first = 0;  // the first piece not sent whole
  while (first < left.size()) {
    msghdr message{};
    message.msg_iov = left.data() + first;
    message.msg_iovlen = left.size() - first;
    ssize_t n = ::sendmsg(fd, &message, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (n <= 0) return std::nullopt;
    sent += static_cast<std::size_t>(n);
    for (; first < left.size() && static_cast<std::size_t>(n) >= left[first].iov_len; ++first)
      n -= static_cast<ssize_t>(left[first].iov_len);
    if (first < left.size()) {
      left[first].iov_base = static_cast<char*>(left[first].iov_base) + n;
      left[first].iov_len -= static_cast<std::size_t>(n);
    }
  }
  return sent;
}

}  // namespace hornbeam::worker
