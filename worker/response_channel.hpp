#pragma once

// The bounded hand-over of one response from a context thread to the I/O thread. The context
// writes framed HTTP bytes in and moves on; the I/O thread takes them out and writes them to
// the socket. A write waits (the GIL released) only while `high_water` bytes are still waiting
// for the client, so a slow client holds at most high_water plus one chunk of memory, and a
// response given as one block never holds its context.

#include "common/http_exchange.hpp"

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>

namespace hornbeam::worker {

struct ResponseFraming {
  bool head_request = false;  // HEAD: headers only
  // 10 or 11: the channel frames the response as HTTP/1 bytes. 20 (HTTP/2): it hands the
  // status and fields over as they are (Batch::head, Batch::trailers) and the body unframed;
  // the HTTP/2 session frames them.
  int http_version = 11;
  bool client_keep_alive = true;  // what the request asked for
  bool keep_headers = false;      // keep the response headers for the access log
};

class ResponseChannel final : public ResponseSink {
 public:
  // `wake_io` is called (from the context thread) when there is something to take.
  ResponseChannel(ResponseFraming framing, std::size_t high_water, std::function<void()> wake_io);

  // ResponseSink, from the context thread.
  void start(std::string status, std::vector<HttpHeader> headers) override;
  bool write(std::string_view data, bool more_follows) override;
  TryWrite try_write(std::string_view data, bool more_follows) override;
  bool send_file(UniqueFd file, std::uint64_t offset, std::uint64_t length) override;
  void finish() override;
  void finish_with_trailers(const std::vector<HttpHeader>& trailers) override;
  void fail(int status) override;
  void abort() override;
  bool write_nowait(std::string_view data) override;
  bool send_file_nowait(UniqueFd file, std::uint64_t offset, std::uint64_t length) override;
  bool has_room_or_notify() override;
  bool client_gone() const override;
  void set_waker(std::function<void()> waker) override;
  void watch_for_disconnect() override;
  void return_fields(std::vector<HttpHeader> fields) override;

  // From the I/O thread.
  struct FileSegment {
    UniqueFd file;
    std::uint64_t offset = 0;
    std::uint64_t length = 0;
  };
  // HTTP/2: the response's status and fields (with Date and Server), framed by the session.
  struct Head {
    int status = 0;
    std::vector<HttpHeader> fields;
  };
  // Bytes first; a file segment comes alone, once the bytes before it are taken.
  struct Batch {
    std::optional<Head> head;  // HTTP/2: in the first batch of the response
    std::string bytes;
    std::optional<FileSegment> file;
    bool complete = false;    // the response ended: nothing more will come
    bool keep_alive = false;  // with complete: the connection may serve another request
    bool cut = false;         // with complete: close without a clean end
    int status = 0;
    std::vector<HttpHeader> trailers;  // HTTP/2: with complete, the trailer fields to send
  };
  Batch take();
  // From the I/O thread, before the app runs: a response that is complete while still whole
  // in the channel, and at most `direct_send_limit` bytes, is sent to the socket `fd` by the
  // thread that ends it, without waiting (what the socket does not take stays for take()).
  // With one request in flight this takes the I/O thread's wake-up out of the response's
  // path. And a body write of at least `direct_body_min` bytes goes from the app's own memory
  // (the Python bytes) to the socket, after the head in the same system call, as far as the
  // socket takes it now, while nothing of the response is with the I/O thread: only what the
  // socket does not take is copied for the I/O thread. The I/O side must not write to `fd`
  // meanwhile, and must close() the channel before it closes the socket: close() withdraws
  // the fd.
  enum class DirectSends {
    whole_responses_and_large_bodies,
    // An event loop ends many small responses per turn, and the I/O thread's one pass over
    // them all is cheaper (measured: -18 % ASGI throughput at 50 connections otherwise).
    large_bodies,
  };
  void send_directly_to(int fd, DirectSends what = DirectSends::whole_responses_and_large_bodies);
  // The same through `sender`, which writes the pieces in order as far as the connection
  // takes them now and says how many bytes (nothing: the connection failed): a TLS
  // connection's SSL_write (TlsSocket::try_write), which the I/O side does not use either
  // while the app answers.
  using DirectSender =
      std::function<std::optional<std::size_t>(std::initializer_list<std::string_view>)>;
  void send_directly_through(DirectSender sender,
                             DirectSends what = DirectSends::whole_responses_and_large_bodies);
  static constexpr std::size_t direct_send_limit = 128 * 1024;
  static constexpr std::size_t direct_body_min = 64 * 1024;
  // From the I/O thread: whether watch_for_disconnect() was asked for since the last call.
  bool take_watch_request();
  // From the I/O thread: the request's fields, once return_fields() gave them (else empty).
  std::vector<HttpHeader> take_returned_fields();
  // From the I/O thread: the status fail() sends instead of the adapter's (413 when the body
  // broke max_body_size while the app was reading it).
  void set_failure_status(int status);
  // From the I/O thread, answering for the app (504: the app is stuck; 400: its request's body
  // is malformed): answers `status` if the app has not started its response, and from then on
  // the app's writes go nowhere (they return false, as for a client that is gone). False when
  // the response had started (then the caller can only cut the connection).
  bool fail_unstarted(int status);
  // The client is gone (or the worker is stopping): writers stop waiting and get false.
  void close();
  // From the I/O thread, once the response is over and the caller holds the only reference:
  // the channel serves the connection's next response as a new one would, keeping its
  // wake_io and the memory of its buffer or of `buffer` (a written batch's bytes), whichever
  // is larger. Three allocations per request less (the channel, wake_io's closure, the head).
  void reopen(ResponseFraming framing, std::string buffer);
  // Whether the channel's buffers are small enough to be kept while the connection waits.
  bool reusable() const;
  static constexpr std::size_t reused_buffer_limit = 16 * 1024;
  std::uint64_t body_bytes() const;
  // The app's response headers, when framing.keep_headers; read after the response completed.
  const std::vector<HttpHeader>& headers() const { return r_.headers; }

 private:
  // What start() decided about the app's response: how it is framed and whether the
  // connection stays open after it.
  struct Framed {
    int status = 0;
    bool body_allowed = true;
    std::optional<std::uint64_t> content_length;
    bool chunked = false;
    bool keep_alive = false;
  };
  void store(const Framed& framed);
  void start_structured(const Framed& framed, std::vector<HttpHeader> headers);
  bool append_body(std::string_view data, bool more_follows, std::unique_lock<std::mutex>& lock);
  void queue_file(UniqueFd file, std::uint64_t offset, std::uint64_t length,
                  std::unique_lock<std::mutex>& lock);
  void append(std::string_view bytes, std::unique_lock<std::mutex>& lock,
              bool more_follows = false);
  void call_waker();
  void end(std::unique_lock<std::mutex>& lock, bool cut);
  void send_whole_response_directly();
  bool send_directly_after_pending(std::string_view chunk_head, std::string_view body,
                                   std::string_view chunk_end);
  bool structured() const { return framing_.http_version >= 20; }
  std::string error_response(int status);
  void end_with(const std::string& response, int status, std::unique_lock<std::mutex>& lock);
  void wake(std::unique_lock<std::mutex>& lock);
  template <class HasRoom>
  void wait_for_room(std::unique_lock<std::mutex>& lock, HasRoom has_room);

  ResponseFraming framing_;  // changes only in reopen(), when nobody else holds the channel
  const std::size_t high_water_;
  std::function<void()> wake_io_;

  mutable std::mutex mutex_;
  std::condition_variable drained_;
  // One response's state, all of it: reopen() starts the next response from a fresh one.
  struct Response {
    std::string pending;
    bool closed = false;
    bool woken = false;            // a wake-up is on its way to the I/O thread
    std::function<void()> waker;   // the event loop's (ASGI)
    bool wants_room = false;       // has_room_or_notify() said no: call waker once there is room
    bool watch_requested = false;  // watch_for_disconnect() came and the I/O side has not seen it
    bool started = false;          // start() ran: the head is on its way
    std::vector<HttpHeader> returned_fields;  // return_fields()' until take_returned_fields()
    DirectSender direct;                      // send_directly_through()'s writer, until close()
    DirectSends direct_sends = DirectSends::whole_responses_and_large_bodies;
    bool handed_out = false;  // take() gave the I/O thread bytes or a file of this response
    bool complete = false;
    bool cut = false;
    bool keep_alive = false;
    bool chunked = false;
    bool body_allowed = true;
    int status = 0;
    int failure_status = 0;
    std::optional<std::uint64_t> content_length;
    std::uint64_t body_written = 0;
    std::vector<HttpHeader> headers;
    std::optional<Head> head;          // HTTP/2: started, not yet taken
    std::vector<HttpHeader> trailers;  // HTTP/2: finish_with_trailers' fields
    std::optional<FileSegment> file;   // waiting behind pending
    std::string after_file;            // bytes queued behind file

    void reset();  // as new, every member
  };
  Response r_;
  // Where new bytes go: behind the file when one is queued.
  std::string& tail() { return r_.file ? r_.after_file : r_.pending; }
};

// "Sun, 29 Nov 2026 01:22:37 GMT", cached per second and per thread.
const std::string& http_date();

}  // namespace hornbeam::worker
