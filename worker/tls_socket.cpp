#include "worker/tls_socket.hpp"

#include <sys/socket.h>

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

const BIO_METHOD* socket_method_without_sigpipe() {
  static BIO_METHOD* const method = [] {
    const BIO_METHOD* socket = BIO_s_socket();
    BIO_METHOD* ours = BIO_meth_new(BIO_TYPE_SOCKET, "socket, send without SIGPIPE");
    BIO_meth_set_write(ours, send_without_sigpipe);
    BIO_meth_set_read(ours, BIO_meth_get_read(socket));
    BIO_meth_set_puts(ours, BIO_meth_get_puts(socket));
    BIO_meth_set_ctrl(ours, BIO_meth_get_ctrl(socket));
    BIO_meth_set_create(ours, BIO_meth_get_create(socket));
    BIO_meth_set_destroy(ours, BIO_meth_get_destroy(socket));
    return ours;
  }();
  return method;
}

}  // namespace

BIO* socket_bio_without_sigpipe(int fd) {
  BIO* bio = BIO_new(socket_method_without_sigpipe());
  if (bio) BIO_set_fd(bio, fd, BIO_NOCLOSE);
  return bio;
}

}  // namespace hornbeam::worker
