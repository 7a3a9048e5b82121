#include "python/event_inbox.hpp"

#include <sys/eventfd.h>

#include <cerrno>
#include <cstdint>
#include <system_error>
#include <utility>

namespace hornbeam::python {

EventInbox::EventInbox() : fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  if (!fd_) throw std::system_error(errno, std::generic_category(), "eventfd");
}

void EventInbox::post(Event event) {
  std::unique_lock lock(mutex_);
  waiting_.events.push_back(std::move(event));
  posted(lock);
}

void EventInbox::post_http(HttpRequest&& request, std::shared_ptr<ResponseSink> sink) {
  std::unique_lock lock(mutex_);
  auto& start = waiting_.http_starts.emplace_back();  // built in place: the request moves once
  start.request = std::move(request);
  start.sink = std::move(sink);
  posted(lock);
}

void EventInbox::posted(std::unique_lock<std::mutex>& lock) {
  const bool first = !signalled_;
  lock.unlock();
  // The I/O thread holds the wake until the end of its burst of completions.
  if (first && !WakeBatch::hold(*this)) wake_now();
}

void EventInbox::wake_now() {
  {
    std::lock_guard lock(mutex_);
    if (signalled_ || (waiting_.events.empty() && waiting_.http_starts.empty())) return;
    signalled_ = true;
  }
  const std::uint64_t one = 1;
  [[maybe_unused]] const auto written = ::write(fd_.get(), &one, sizeof one);
}

void EventInbox::take(Taken& taken) {
  taken.http_starts.clear();
  taken.events.clear();
  std::lock_guard lock(mutex_);
  if (signalled_) {
    std::uint64_t count = 0;
    [[maybe_unused]] const auto read = ::read(fd_.get(), &count, sizeof count);
    signalled_ = false;
  }
  taken.http_starts.swap(waiting_.http_starts);
  taken.events.swap(waiting_.events);
}

}  // namespace hornbeam::python
