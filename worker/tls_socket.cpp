#include "worker/tls_socket.hpp"

#include <openssl/ssl3.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>

namespace hornbeam::worker {
namespace {

// OpenSSL's socket BIO writes with write(2): a client that left makes that a SIGPIPE, which
// kills the worker. The same BIO, writing with send(2) and MSG_NOSIGNAL (as Asio and
// send_now do), leaves the process's signal dispositions to the app.
int send_without_sigpipe(BIO* bio, const char* data, int length) {
  int fd = -1;
  BIO_get_fd(bio, &fd);
  errno = 0;
  const ssize_t sent = ::send(fd, data, static_cast<std::size_t>(length), MSG_NOSIGNAL);
  BIO_clear_retry_flags(bio);
  if (sent <= 0 && BIO_sock_should_retry(static_cast<int>(sent))) BIO_set_retry_write(bio);
  return static_cast<int>(sent);
}

// Reads: from the input the socket's last asynchronous read filled (TlsInput), else straight
// from the socket for the rest of a record, or for anything while bytes stream in (an
// upload's records). A record's header on an empty input otherwise waits for the next fill
// (retry): that read is Asio's, which waits for the socket without re-arming epoll.
int read_through_input(BIO* bio, char* into, int size) {
  auto& input = *static_cast<TlsInput*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  if (size <= 0) return 0;
  if (const auto buffered = input.buffered(); !buffered.empty()) {
    const auto taken = std::min(buffered.size(), static_cast<std::size_t>(size));
    std::memcpy(into, buffered.data(), taken);
    input.consume(taken);
    return static_cast<int>(taken);
  }
  if (input.at_end) {
    BIO_set_flags(bio, BIO_FLAGS_IN_EOF);  // how OpenSSL tells a truncation from a retry
    return 0;
  }
  if (size <= SSL3_RT_HEADER_LENGTH && !input.streaming) {
    BIO_set_retry_read(bio);
    return -1;
  }
  int fd = -1;
  BIO_get_fd(bio, &fd);
  errno = 0;
  const ssize_t got = ::recv(fd, into, static_cast<std::size_t>(size), 0);
  input.streaming = got > 0;
  if (got == 0) BIO_set_flags(bio, BIO_FLAGS_IN_EOF);
  if (got < 0 && BIO_sock_should_retry(static_cast<int>(got))) BIO_set_retry_read(bio);
  return static_cast<int>(got);
}

const BIO_METHOD* socket_method_without_sigpipe() {
  static BIO_METHOD* const method = [] {
    const BIO_METHOD* socket = BIO_s_socket();
    BIO_METHOD* ours = BIO_meth_new(BIO_TYPE_SOCKET, "socket, send without SIGPIPE");
    BIO_meth_set_write(ours, send_without_sigpipe);
    BIO_meth_set_read(ours, read_through_input);
    BIO_meth_set_puts(ours, BIO_meth_get_puts(socket));
    BIO_meth_set_ctrl(ours, BIO_meth_get_ctrl(socket));
    BIO_meth_set_create(ours, BIO_meth_get_create(socket));
    BIO_meth_set_destroy(ours, BIO_meth_get_destroy(socket));
    return ours;
  }();
  return method;
}

}  // namespace

BIO* tls_socket_bio(int fd, TlsInput& input) {
  BIO* bio = BIO_new(socket_method_without_sigpipe());
  if (!bio) return nullptr;
  BIO_set_fd(bio, fd, BIO_NOCLOSE);
  BIO_set_data(bio, &input);
  return bio;
}

}  // namespace hornbeam::worker
