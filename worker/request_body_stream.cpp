#include "worker/request_body_stream.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace hornbeam::worker {

RequestBodyStream::RequestBodyStream(std::size_t high_water, std::function<void()> wake_io,
                                     WakeOn wake_on)
    : high_water_(high_water), wake_io_(std::move(wake_io)), wake_on_(wake_on) {}

std::string RequestBodyStream::read(std::size_t max) {
  std::string out(max == 0 ? 64 * 1024 : max, '\0');
  out.resize(read_into(out.data(), out.size()));
  return out;
}

std::size_t RequestBodyStream::read_into(char* out, std::size_t max) {
  std::unique_lock lock(mutex_);
  bool wake = !started_;
  started_ = true;
  if (wake) {
    lock.unlock();
    wake_io_();
    lock.lock();
  }
  arrived_.wait(lock, [&] { return offset_ < buffer_.size() || ended_ || !error_.empty(); });
  if (offset_ == buffer_.size()) {
    if (!error_.empty()) throw RequestBodyError(cause_, error_);
    return 0;  // ended
  }
  const std::size_t available = buffer_.size() - offset_;
  const std::size_t count = std::min(max, available);
  std::memcpy(out, buffer_.data() + offset_, count);
  offset_ += count;
  consumed_ += count;
  const bool was_full = available >= high_water_;
  if (offset_ == buffer_.size()) {
    buffer_.clear();
    offset_ = 0;
  }
  // The I/O side stops reading at the high-water mark: restart it once there is room.
  wake = (was_full || wake_on_ == WakeOn::every_read) && !ended_ && error_.empty();
  lock.unlock();
  if (wake) wake_io_();
  return count;
}

std::optional<std::string> RequestBodyStream::try_read(std::size_t max) {
  std::unique_lock lock(mutex_);
  const bool first = !started_;
  started_ = true;
  if (offset_ == buffer_.size()) {
    if (!error_.empty()) throw RequestBodyError(cause_, error_);
    if (ended_) return std::string();
    lock.unlock();
    if (first) wake_io_();  // the app's first read is what starts the reading
    return std::nullopt;
  }
  const std::size_t available = buffer_.size() - offset_;
  std::string out;
  if (offset_ == 0 && available <= max) {
    out.swap(buffer_);  // all of it: hand the buffer over instead of copying it
  } else {
    const std::size_t count = std::min(max, available);
    out.assign(buffer_.data() + offset_, count);
    offset_ += count;
    if (offset_ == buffer_.size()) {
      buffer_.clear();
      offset_ = 0;
    }
  }
  consumed_ += out.size();
  const bool wake = (first || available >= high_water_ || wake_on_ == WakeOn::every_read) &&
                    !ended_ && error_.empty();
  lock.unlock();
  if (wake) wake_io_();
  return out;
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
  return started_ && !ended_ && error_.empty() && buffer_.size() - offset_ < high_water_;
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
  {
    std::lock_guard lock(mutex_);
    append_locked(data);
  }
  changed();
}

void RequestBodyStream::push_block(std::string&& block) {
  {
    std::lock_guard lock(mutex_);
    if (offset_ == buffer_.size()) {
      buffer_ = std::move(block);
      offset_ = 0;
    } else {
      append_locked(block);
    }
  }
  changed();
}

void RequestBodyStream::append_locked(std::string_view data) {
  // What the reader has taken goes before the buffer grows, or a reader that never quite
  // catches up (the I/O side pushes again before it has read all) would keep it all: the
  // move costs no more than what was taken, so the copying stays linear in the body.
  if (offset_ > 0 && offset_ >= buffer_.size() - offset_) {
    buffer_.erase(0, offset_);
    offset_ = 0;
  }
  buffer_.append(data);
}

void RequestBodyStream::end() {
  {
    std::lock_guard lock(mutex_);
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

bool RequestBodyStream::malformed() const {
  std::lock_guard lock(mutex_);
  return !error_.empty() && cause_ == RequestBodyError::Cause::malformed;
}

}  // namespace hornbeam::worker
