#pragma once

// The hand-over of a streamed request body from the I/O thread to the context reading it.
// The I/O thread reads from the socket only while fewer than `high_water` bytes wait here, so
// a 1 GiB upload costs `high_water` of memory, not 1 GiB; and it starts only when the app
// first reads (that is when `Expect: 100-continue` gets its 100).
//
// Direct reads (HTTP/1.1 Content-Length bodies): a reader with memory of its own to fill
// (wsgi.input.read(n) fills the bytes object it returns; ASGI's receive() lends a bytes object
// for what arrives next) that finds nothing buffered lends that memory to the I/O thread, which
// reads the socket straight into it: no copy in user space, and one wake-up of the context for
// the whole read(n) instead of one per block. Such a stream reads only while its reader waits
// (no read-ahead: bytes read ahead would land in a block and be copied), so at most one block
// waits here.

#include "common/http_exchange.hpp"

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace hornbeam::worker {

// Body bytes as read from the network, in memory that nothing zero-filled first.
struct BodyBlock {
  std::unique_ptr<char[]> bytes;
  std::size_t size = 0;  // how many of them hold body bytes
  static BodyBlock with_room(std::size_t room) {
    return {std::unique_ptr<char[]>(new char[room]), 0};
  }
};

class RequestBodyStream;

// The app's memory lent to the I/O thread by RequestBodyStream::take_target(): the I/O thread
// reads into it and gives it back exactly once, when its reads are over; or the lease's
// destructor does, when the read's handler is destroyed without running (a stopped loop), so
// the context waiting for its memory never waits for ever.
class BodyTargetLease {
 public:
  BodyTargetLease(std::shared_ptr<RequestBodyStream> stream, char* data, std::size_t room,
                  bool fill)
      : stream_(std::move(stream)), data_(data), room_(room), fill_(fill) {}
  BodyTargetLease(BodyTargetLease&& other) noexcept;
  BodyTargetLease& operator=(BodyTargetLease&& other) noexcept;  // gives back its own first
  ~BodyTargetLease() { give_back(); }

  char* next() const { return data_ + filled_; }
  std::size_t room_left() const { return room_ - filled_; }
  // Filled to the end before it is given back (read_fully_into), or given back once a read
  // brought bytes and the socket has no more right now (lend(): the event loop takes what
  // came).
  bool wants_it_full() const { return fill_; }
  void add(std::size_t count) { filled_ += count; }
  std::size_t filled() const { return filled_; }
  // The memory is the app's again, with the bytes read into it.
  void give_back();

 private:
  std::shared_ptr<RequestBodyStream> stream_;  // null once given back
  char* data_;
  std::size_t room_;
  bool fill_;
  std::size_t filled_ = 0;
};

class RequestBodyStream final : public RequestBodySource,
                                public std::enable_shared_from_this<RequestBodyStream> {
 public:
  // When the reading thread calls `wake_io`: when the I/O side should read more (HTTP/1.1,
  // which stops reading the socket at the high-water mark), or after every read that took
  // bytes (HTTP/2, whose flow-control window reopens by what the app has consumed).
  enum class WakeOn { room, every_read };
  RequestBodyStream(std::size_t high_water, std::function<void()> wake_io,
                    WakeOn wake_on = WakeOn::room);

  // Context thread.
  std::string read(std::size_t max) override;
  std::size_t read_into(char* out, std::size_t max) override;
  std::size_t read_fully_into(char* out, std::size_t size) override;
  std::optional<std::size_t> try_available(std::size_t max) override;
  void set_waker(std::function<void()> waker) override;
  bool lend(char* out, std::size_t room) override;
  bool may_lend() const override { return direct_reads(); }
  std::optional<std::uint64_t> unread_length() const override;
  std::optional<std::size_t> lent_back() override;

  // I/O thread.
  // The app has started reading and there is room (or memory lent, nothing buffered).
  bool wants_more() const;
  // A Content-Length body (set before the app reads): its length is known, and with no framing
  // between socket and app, readers may lend their memory (the I/O side then calls
  // take_target() before it reads into a block, and reads only when a reader waits).
  void set_content_length(std::uint64_t length) { length_ = length; }
  // The memory a context waits to have filled, when nothing is buffered before it.
  std::optional<BodyTargetLease> take_target();
  bool app_started_reading() const;
  // Bytes the app has read so far.
  std::uint64_t consumed() const;
  void push(std::string_view data);
  // As push(), taking the block as it is: no byte is copied.
  void push_block(BodyBlock&& block);
  bool refused() const override;
  void end();  // the body is complete
  // The body cannot be read on (the first failure counts; none after the end).
  void fail(RequestBodyError::Cause cause, const std::string& why);

 private:
  const std::size_t high_water_;
  std::function<void()> wake_io_;
  const WakeOn wake_on_;
  std::uint64_t consumed_ = 0;
  mutable std::mutex mutex_;
  std::condition_variable arrived_;
  // What has arrived and is not read yet, in the blocks it came in (a block read from the
  // socket reaches the app's bytes object with no copy in between).
  std::deque<BodyBlock> blocks_;
  std::size_t offset_ = 0;    // bytes of blocks_.front() already read
  std::size_t buffered_ = 0;  // unread bytes in blocks_
  bool started_ = false;
  bool ended_ = false;
  std::string error_;
  RequestBodyError::Cause cause_ = RequestBodyError::Cause::client_gone;
  std::function<void()> waker_;          // the event loop's (ASGI)
  std::optional<std::uint64_t> length_;  // a Content-Length body's (set before the app reads)
  bool direct_reads() const { return length_.has_value(); }
  // A reader waits with nothing buffered and no memory lent (a stream that lends reads only
  // then, or into lent memory).
  bool asked_ = false;
  // Marks the reader as waiting: true when the I/O side must be woken to read (mutex_ held).
  bool ask_locked();
  // The memory read_fully_into() lends to the I/O thread, and what became of it.
  struct Target {
    enum class State { none, offered, taken, given_back } state = State::none;
    char* data = nullptr;
    std::size_t room = 0;
    std::size_t filled = 0;  // by the I/O thread, once given back
    bool fill = true;        // read_fully_into's: filled to the end
  } target_;
  friend class BodyTargetLease;
  void give_back_target(std::size_t filled);

  std::size_t take_locked(char* out, std::size_t max);  // mutex_ held
  void changed();  // wakes whoever waits: a blocked read() or the event loop
};

}  // namespace hornbeam::worker
