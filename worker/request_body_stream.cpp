#include "worker/request_body_stream.hpp"

#include <cstring>
#include <stdexcept>

namespace hornbeam::worker {

RequestBodyStream::RequestBodyStream(std::size_t high_water, std::function<void()> wake_io)
    : high_water_(high_water), wake_io_(std::move(wake_io)) {}

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
    if (!error_.empty()) throw std::runtime_error(error_);
    return 0;  // ended
  }
  const std::size_t available = buffer_.size() - offset_;
  const std::size_t count = std::min(max, available);
  std::memcpy(out, buffer_.data() + offset_, count);
  offset_ += count;
  const bool was_full = available >= high_water_;
  if (offset_ == buffer_.size()) {
    buffer_.clear();
    offset_ = 0;
  }
  // The I/O side stops reading at the high-water mark: restart it once there is room.
  wake = was_full && !ended_ && error_.empty();
  lock.unlock();
  if (wake) wake_io_();
  return count;
}

bool RequestBodyStream::wants_more() const {
  std::lock_guard lock(mutex_);
  return started_ && !ended_ && error_.empty() && buffer_.size() - offset_ < high_water_;
}

bool RequestBodyStream::app_started_reading() const {
  std::lock_guard lock(mutex_);
  return started_;
}

void RequestBodyStream::push(std::string_view data) {
  {
    std::lock_guard lock(mutex_);
    buffer_.append(data);
  }
  arrived_.notify_all();
}

void RequestBodyStream::end() {
  {
    std::lock_guard lock(mutex_);
    ended_ = true;
  }
  arrived_.notify_all();
}

void RequestBodyStream::fail(const std::string& why) {
  {
    std::lock_guard lock(mutex_);
    if (!ended_ && error_.empty()) error_ = why;
  }
  arrived_.notify_all();
}

}  // namespace hornbeam::worker
