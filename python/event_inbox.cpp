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
  bool first = false;
  {
    std::lock_guard lock(mutex_);
    events_.push_back(std::move(event));
    first = !signalled_;
  }
  // The I/O thread holds the wake until the end of its burst of completions.
  if (first && !WakeBatch::hold(*this)) wake_now();
}

void EventInbox::wake_now() {
  {
    std::lock_guard lock(mutex_);
    if (signalled_ || events_.empty()) return;
    signalled_ = true;
  }
  const std::uint64_t one = 1;
  [[maybe_unused]] const auto written = ::write(fd_.get(), &one, sizeof one);
}

std::vector<EventInbox::Event> EventInbox::take() {
  std::vector<Event> events;
  std::lock_guard lock(mutex_);
  if (signalled_) {
    std::uint64_t count = 0;
    [[maybe_unused]] const auto read = ::read(fd_.get(), &count, sizeof count);
    signalled_ = false;
  }
  events.swap(events_);
  return events;
}

}  // namespace hornbeam::python
