#pragma once

// Work handed from other threads (the I/O thread) to one context's event loop. The loop
// watches fd() with add_reader and runs what take() returns, a batch at a time, with the GIL;
// posting needs no GIL and wakes the loop only when the inbox was empty.

#include "common/unique_fd.hpp"
#include "common/wake_batch.hpp"

#include <functional>
#include <mutex>
#include <vector>

namespace hornbeam::python {

class EventInbox final : public Wakeable {
 public:
  using Event = std::function<void()>;

  EventInbox();  // throws std::system_error when no eventfd can be made
  EventInbox(const EventInbox&) = delete;
  EventInbox& operator=(const EventInbox&) = delete;

  // Any thread.
  void post(Event event);
  // The loop's thread: everything posted so far, in order.
  std::vector<Event> take();
  int fd() const { return fd_.get(); }
  // Makes the eventfd readable if events wait (held wakes of a WakeBatch end here).
  void wake_now() override;

 private:
  UniqueFd fd_;
  std::mutex mutex_;
  std::vector<Event> events_;
  bool signalled_ = false;  // the eventfd is readable: the loop will come
};

}  // namespace hornbeam::python
