#pragma once

// A socket read that remembers, as nginx does, that it emptied the socket.
//
// Asio's reactor tries every read at once with recv(2) and waits for readiness only after an
// EAGAIN; Boost 1.81 stops trying at once (its `try_speculative_`) only after the end of the
// stream. A kept-alive connection reads its next request just after its response left, when
// the client has rarely answered yet: an EAGAIN, a system call for nothing, once for every
// request that finds nothing (docs/performance.md, "the recv that found nothing").
//
// This operation reports a read that got fewer bytes than it asked for as having exhausted
// the socket (`done_and_exhausted`). The reactor then queues the next read of that socket
// without trying it, until epoll says that bytes came, and tries it at once again from then
// on. Nothing is missed: bytes that arrive after the short read raise a readiness event
// (edge-triggered epoll reports every arrival), and the reactor notes that event whether or
// not a read is queued. Only HTTP/1.1 head reads on plain sockets use it, for ASGI apps
// (http1_session.cpp says why). The flag is the socket's, so Asio's own reads that follow on
// the same socket (a body) wait for readiness first too, which is right for the same reason.
//
// It is built from Asio's `detail` parts (an operation as Asio's own reactive_socket_recv_op
// is, started on the socket's reactor registration), so it is tied to Boost 1.81's reactor,
// the one Debian 12 ships; the static_assert below holds it to the epoll reactor it was made
// for.

#include <boost/asio/detail/bind_handler.hpp>
#include <boost/asio/detail/fenced_block.hpp>
#include <boost/asio/detail/handler_alloc_helpers.hpp>
#include <boost/asio/detail/handler_work.hpp>
#include <boost/asio/detail/memory.hpp>
#include <boost/asio/detail/reactor.hpp>
#include <boost/asio/detail/reactor_op.hpp>
#include <boost/asio/detail/socket_ops.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/execution/context.hpp>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/query.hpp>

#include <sys/socket.h>

#include <cerrno>
#include <type_traits>
#include <utility>

namespace hornbeam::worker {
namespace drain_aware {

namespace asio_detail = boost::asio::detail;
static_assert(std::is_same_v<asio_detail::reactor, asio_detail::epoll_reactor>,
              "drain_aware_read relies on the epoll reactor's notion of exhaustion");

template <class Handler, class IoExecutor>
class ReadOp : public asio_detail::reactor_op {
 public:
  BOOST_ASIO_DEFINE_HANDLER_PTR(ReadOp);

  ReadOp(int fd, boost::asio::mutable_buffer buffer, Handler& handler, const IoExecutor& io_ex)
      : asio_detail::reactor_op(boost::system::error_code(), &ReadOp::do_perform,
                                &ReadOp::do_complete),
        fd_(fd),
        buffer_(buffer),
        handler_(std::move(handler)),
        work_(handler_, io_ex) {}

  static status do_perform(asio_detail::reactor_op* base) {
    auto* op = static_cast<ReadOp*>(base);
    for (;;) {
      const ssize_t got = ::recv(op->fd_, op->buffer_.data(), op->buffer_.size(), 0);
      if (got > 0) {
        op->bytes_transferred_ = static_cast<std::size_t>(got);
        return op->bytes_transferred_ < op->buffer_.size() ? done_and_exhausted : done;
      }
      if (got == 0) {
        if (op->buffer_.size() == 0) return done;  // asked for nothing: nothing learnt
        op->ec_ = boost::asio::error::eof;
        return done_and_exhausted;
      }
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return not_done;
      op->ec_ = boost::system::error_code(errno, boost::asio::error::get_system_category());
      return done;
    }
  }

  // As Asio's reactive_socket_recv_op: the memory goes back before the handler runs, and the
  // handler runs only when the scheduler says so (`owner`; not when it is being destroyed).
  static void do_complete(void* owner, asio_detail::operation* base,
                          const boost::system::error_code&, std::size_t) {
    auto* op = static_cast<ReadOp*>(base);
    ptr p = {asio_detail::addressof(op->handler_), op, op};
    asio_detail::handler_work<Handler, IoExecutor> work(std::move(op->work_));
    asio_detail::binder2<Handler, boost::system::error_code, std::size_t> handler(
        op->handler_, op->ec_, op->bytes_transferred_);
    p.h = asio_detail::addressof(handler.handler_);
    p.reset();
    if (owner) {
      asio_detail::fenced_block fence(asio_detail::fenced_block::half);
      work.complete(handler, handler.handler_);
    }
  }

 private:
  int fd_;
  boost::asio::mutable_buffer buffer_;
  Handler handler_;
  asio_detail::handler_work<Handler, IoExecutor> work_;
};

// The socket's reactor registration, which basic_socket keeps protected: named through a
// derived class, as a pointer to the member.
struct SocketAccess : boost::asio::generic::stream_protocol::socket {
  static auto& implementation(boost::asio::generic::stream_protocol::socket& socket) {
    return (socket.*(&SocketAccess::impl_)).get_implementation();
  }
};

}  // namespace drain_aware

// async_read_some for one buffer of a plain stream socket, with the same completion
// (error_code, bytes), that skips the recv(2) which would only find an EAGAIN after a read
// that emptied the socket. `handler` is called as Asio's would be, through the socket's
// executor; the socket must outlive the read or be closed first (which completes it with
// operation_aborted).
template <class Handler>
void drain_aware_read(boost::asio::generic::stream_protocol::socket& socket,
                      boost::asio::mutable_buffer buffer, Handler&& handler) {
  namespace asio_detail = boost::asio::detail;
  using Executor = boost::asio::generic::stream_protocol::socket::executor_type;
  using Op = drain_aware::ReadOp<std::decay_t<Handler>, Executor>;
  std::decay_t<Handler> own(std::forward<Handler>(handler));
  auto& impl = drain_aware::SocketAccess::implementation(socket);
  typename Op::ptr p = {asio_detail::addressof(own), Op::ptr::allocate(own), nullptr};
  p.p = new (p.v) Op(impl.socket_, buffer, own, socket.get_executor());
  auto& reactor = boost::asio::use_service<asio_detail::reactor>(
      boost::asio::query(socket.get_executor(), boost::asio::execution::context));
  if ((impl.state_ & asio_detail::socket_ops::non_blocking) ||
      asio_detail::socket_ops::set_internal_non_blocking(impl.socket_, impl.state_, true,
                                                         p.p->ec_)) {
    reactor.start_op(asio_detail::reactor::read_op, impl.socket_, impl.reactor_data_, p.p,
                     /*is_continuation=*/false, /*allow_speculative=*/true);
  } else {
    reactor.post_immediate_completion(p.p, false);
  }
  p.v = p.p = nullptr;
}

}  // namespace hornbeam::worker
