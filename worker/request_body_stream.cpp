#include "worker/request_body_stream.hpp"

#include "common/client_wait.hpp"
#include "common/io_thread_policy.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace hornbeam::worker {
BodyTargetLease::BodyTargetLease(BodyTargetLease&& other) noexcept
    : stream_(std::move(other.stream_)),
      data_(other.data_),
      room_(other.room_),
      fill_(other.fill_),
      filled_(other.filled_) {}

BodyTargetLease& BodyTargetLease::operator=(BodyTargetLease&& other) noexcept {
  if (this != &other) {
    give_back();
    stream_ = std::move(other.stream_);
    data_ = other.data_;
    room_ = other.room_;
    fill_ = other.fill_;
    filled_ = other.filled_;
  }
  return *this;
}

void BodyTargetLease::give_back() {
  if (!stream_) return;
  stream_->give_back_target(filled_);
  stream_.reset();
}

RequestBodyStream::RequestBodyStream(std::size_t high_water, std::function<void()> wake_io,
                                     WakeOn wake_on)
    : high_water_(high_water), wake_io_(std::move(wake_io)), wake_on_(wake_on) {}

std::string RequestBodyStream::read(std::size_t max) {
  std::string out(max == 0 ? 64 * 1024 : max, '\0');
  out.resize(read_into(out.data(), out.size()));
  return out;
}

std::size_t RequestBodyStream::read_into(char* out, std::size_t max) {
  const IoThreadPolicy::WaitingForIo waiting;  // what this may wait for comes from the I/O thread
  std::unique_lock lock(mutex_);
  const bool asked = ask_locked();
  bool wake = !started_ || asked;
  started_ = true;
  if (wake) {
    lock.unlock();
    wake_io_();
    lock.lock();
  }
  const auto arrived = [&] { return buffered_ > 0 || ended_ || !error_.empty(); };
  if (!arrived()) {
    const ClientWait client;  // the client's time, not the app's
    arrived_.wait(lock, arrived);
  }
  if (buffered_ == 0) {
    if (!error_.empty()) throw RequestBodyError(cause_, error_);
    return 0;  // ended
  }
  const bool was_full = buffered_ >= high_water_;
  const std::size_t count = take_locked(out, max);
  // The I/O side stops reading at the high-water mark: restart it once there is room.
  wake = (was_full || wake_on_ == WakeOn::every_read) && !ended_ && error_.empty();
  lock.unlock();
  if (wake) wake_io_();
  return count;
}

std::size_t RequestBodyStream::read_fully_into(char* out, std::size_t size) {
  const IoThreadPolicy::WaitingForIo waiting;  // the same
  std::size_t filled = 0;
  std::unique_lock lock(mutex_);
  bool wake = !started_;  // the first read is what starts the reading
  started_ = true;
  while (filled < size) {
    if (buffered_ > 0) {
      const bool was_full = buffered_ >= high_water_;
      filled += take_locked(out + filled, size - filled);
      wake = wake || was_full || wake_on_ == WakeOn::every_read;
      continue;
    }
    if (!error_.empty()) throw RequestBodyError(cause_, error_);
    if (ended_) break;
    if (direct_reads() && size - filled >= smallest_lend) {
      // What arrives next goes straight into `out` (the I/O side takes it only while nothing
      // is buffered, so the bytes stay in order).
      target_ = {Target::State::offered, out + filled, size - filled, 0, true};
      wake = true;
    } else {
      wake = ask_locked() || wake;
    }
    if (wake) {
      lock.unlock();
      wake_io_();
      lock.lock();
      wake = false;
    }
    const auto arrived = [&] {
      if (target_.state == Target::State::taken) return false;  // being written into
      return target_.state == Target::State::given_back || buffered_ > 0 || ended_ ||
             !error_.empty();
    };
    if (!arrived()) {
      const ClientWait client;  // the client's time, not the app's
      arrived_.wait(lock, arrived);
    }
    if (target_.state == Target::State::given_back) {
      filled += target_.filled;
      consumed_ += target_.filled;
    }
    target_ = {};  // given back, or withdrawn (bytes came first, or the end)
  }
  wake = wake && !ended_ && error_.empty();
  lock.unlock();
  if (wake) wake_io_();
  return filled;
}

std::optional<BodyTargetLease> RequestBodyStream::take_target() {
  std::lock_guard lock(mutex_);
  if (target_.state != Target::State::offered || buffered_ > 0) return std::nullopt;
  target_.state = Target::State::taken;
  return BodyTargetLease(shared_from_this(), target_.data, target_.room, target_.fill);
}

void RequestBodyStream::give_back_target(std::size_t filled) {
  {
    std::lock_guard lock(mutex_);
    target_.state = Target::State::given_back;
    target_.filled = filled;
    asked_ = false;  // answered
  }
  changed();
}

bool RequestBodyStream::lend(char* out, std::size_t room) {
  {
    std::lock_guard lock(mutex_);
    if (!direct_reads() || room < smallest_lend || buffered_ > 0 || ended_ || !error_.empty() ||
        target_.state != Target::State::none) {
      return false;
    }
    started_ = true;
    target_ = {Target::State::offered, out, room, 0, false};
  }
  wake_io_();
  return true;
}

std::optional<std::size_t> RequestBodyStream::lent_back() {
  std::lock_guard lock(mutex_);
  switch (target_.state) {
    case Target::State::taken: return std::nullopt;  // being written into
    case Target::State::offered: {
      // Still offered while nothing else happened; withdrawn when blocks came first (they
      // are read as usual) or the body is over.
      if (buffered_ == 0 && !ended_ && error_.empty()) return std::nullopt;
      target_ = {};
      return 0;
    }
    case Target::State::given_back: {
      const std::size_t filled = target_.filled;
      consumed_ += filled;
      target_ = {};
      return filled;
    }
    case Target::State::none: break;
  }
  return 0;
}

std::size_t RequestBodyStream::take_locked(char* out, std::size_t max) {
  std::size_t count = 0;
  while (count < max && !blocks_.empty()) {
    const BodyBlock& block = blocks_.front();
    const std::size_t piece = std::min(max - count, block.size - offset_);
    std::memcpy(out + count, block.bytes.get() + offset_, piece);
    count += piece;
    offset_ += piece;
    if (offset_ == block.size) {
      blocks_.pop_front();
      offset_ = 0;
    }
  }
  buffered_ -= count;
  consumed_ += count;
  return count;
}

std::optional<std::size_t> RequestBodyStream::try_available(std::size_t max) {
  std::unique_lock lock(mutex_);
  const bool first = !started_;
  started_ = true;
  if (buffered_ > 0) return std::min(max, buffered_);
  if (!error_.empty()) throw RequestBodyError(cause_, error_);
  if (ended_) return 0;
  const bool wake = ask_locked() || first;  // the app's first read is what starts the reading
  lock.unlock();
  if (wake) wake_io_();
  return std::nullopt;
}

void RequestBodyStream::set_waker(std::function<void()> waker) {
  std::lock_guard lock(mutex_);
  waker_ = std::move(waker);
}

void RequestBodyStream::changed() {
  arrived_.notify_all();
  std::function<void()> waker;
  {
    std::lock_guard lock(mutex_);
    waker = waker_;
  }
  if (waker) waker();
}

bool RequestBodyStream::wants_more() const {
  std::lock_guard lock(mutex_);
  if (!started_ || ended_ || !error_.empty()) return false;
  // A stream that lends reads only when its reader waits with nothing buffered: ahead of the
  // reader, bytes would go into a block (and be copied from it) rather than into the memory
  // the reader is about to lend. The kernel's socket buffer holds them meanwhile.
  if (direct_reads()) return buffered_ == 0 && (asked_ || target_.state == Target::State::offered);
  return buffered_ < high_water_;
}

std::optional<std::uint64_t> RequestBodyStream::unread_length() const {
  if (!length_) return std::nullopt;
  std::lock_guard lock(mutex_);
  return *length_ - std::min(*length_, consumed_);
}

std::uint64_t RequestBodyStream::consumed() const {
  std::lock_guard lock(mutex_);
  return consumed_;
}

bool RequestBodyStream::app_started_reading() const {
  std::lock_guard lock(mutex_);
  return started_;
}

void RequestBodyStream::push(std::string_view data) {
  auto block = BodyBlock::with_room(data.size());
  std::memcpy(block.bytes.get(), data.data(), data.size());
  block.size = data.size();
  push_block(std::move(block));
}

bool RequestBodyStream::ask_locked() {
  if (!direct_reads() || asked_ || buffered_ > 0 || ended_ || !error_.empty()) return false;
  asked_ = true;
  return true;
}

void RequestBodyStream::push_block(BodyBlock&& block) {
  if (block.size == 0) return;
  {
    std::lock_guard lock(mutex_);
    asked_ = false;  // answered
    buffered_ += block.size;
    blocks_.push_back(std::move(block));
  }
  changed();
}

void RequestBodyStream::end() {
  {
    std::lock_guard lock(mutex_);
    if (ended_) return;
    ended_ = true;
  }
  changed();
}

void RequestBodyStream::fail(RequestBodyError::Cause cause, const std::string& why) {
  {
    std::lock_guard lock(mutex_);
    if (ended_ || !error_.empty()) return;
    error_ = why;
    cause_ = cause;
  }
  changed();
}

bool RequestBodyStream::refused() const {
  std::lock_guard lock(mutex_);
  return !error_.empty() && (cause_ == RequestBodyError::Cause::malformed ||
                             cause_ == RequestBodyError::Cause::timed_out);
}

}  // namespace hornbeam::worker
