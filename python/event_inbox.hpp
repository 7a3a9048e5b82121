#pragma once

// Work handed from other threads (the I/O thread) to one context's event loop. The loop
// watches fd() with add_reader and runs what take() returns, a batch at a time, with the GIL;
// posting needs no GIL and wakes the loop only when the inbox was empty.

#include "common/http_exchange.hpp"
#include "common/unique_fd.hpp"
#include "common/wake_batch.hpp"

#include <functional>
#include <mutex>
#include <vector>

namespace hornbeam::python {

class EventInbox final : public Wakeable {
 public:
  using Event = std::function<void()>;
  // What take() hands the loop. Kept by the loop from one take() to the next, so that both
  // sides' vectors keep their memory.
  struct Taken {
    // New HTTP requests, the one event of every request: run first (nothing posted refers
    // to them yet).
    std::vector<DispatchedRequest> http_starts;
    std::vector<Event> events;  // in the order posted
  };

  EventInbox();  // throws std::system_error when no eventfd can be made
  EventInbox(const EventInbox&) = delete;
  EventInbox& operator=(const EventInbox&) = delete;

  // Any thread.
  void post(Event event);
  void post_http(HttpRequest&& request, std::shared_ptr<ResponseSink> sink);
  // The loop's thread: everything posted since the last take(), into `taken` (emptied first).
  void take(Taken& taken);
  int fd() const { return fd_.get(); }
  // Makes the eventfd readable if events wait (held wakes of a WakeBatch end here).
  void wake_now() override;

 private:
  void posted(std::unique_lock<std::mutex>& lock);

  UniqueFd fd_;
  std::mutex mutex_;
  Taken waiting_;
  bool signalled_ = false;  // the eventfd is readable: the loop will come
};

}  // namespace hornbeam::python
