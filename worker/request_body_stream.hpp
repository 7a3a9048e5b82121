#pragma once

// The hand-over of a streamed request body from the I/O thread to the context reading it.
// The I/O thread reads from the socket only while fewer than `high_water` bytes wait here, so
// a 1 GiB upload costs `high_water` of memory, not 1 GiB; and it starts only when the app
// first reads (that is when `Expect: 100-continue` gets its 100).

#include "common/http_exchange.hpp"

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
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

class RequestBodyStream final : public RequestBodySource {
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
  std::optional<std::size_t> try_available(std::size_t max) override;
  void set_waker(std::function<void()> waker) override;

  // I/O thread.
  bool wants_more() const;  // the app has started reading and there is room
  bool app_started_reading() const;
  // Bytes the app has read so far.
  std::uint64_t consumed() const;
  void push(std::string_view data);
  // As push(), taking the block as it is: no byte is copied.
  void push_block(BodyBlock&& block);
  bool malformed() const override;
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
  std::function<void()> waker_;  // the event loop's (ASGI)

  std::size_t take_locked(char* out, std::size_t max);  // mutex_ held
  void changed();  // wakes whoever waits: a blocked read() or the event loop
};

}  // namespace hornbeam::worker
