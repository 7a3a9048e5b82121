#pragma once

// A context that waits for its client — for room in the socket to write more of the response,
// or for the next bytes of a streamed request body — waits on the client's time, not the
// app's. The arbiter's `timeout` is there to catch a stuck app, and a client that reads or
// sends slowly must not get the whole worker (and every request on it) replaced; those waits
// have limits of their own that cut that one client (limits.send_timeout,
// limits.body_timeout). So the waits say when they begin and end, and whoever runs the
// context (the worker's slot in shared memory) leaves them out of the request's time.
//
// The observer is per thread: a context installs its own, and a wait on any other thread
// (tests, the I/O thread) tells nobody.

namespace hornbeam {

class ClientWait {
 public:
  class Observer {
   public:
    // On the waiting thread, in pairs: no wait nests in another.
    virtual void client_wait_began() = 0;
    virtual void client_wait_ended() = 0;

   protected:
    ~Observer() = default;
  };

  // This thread's observer from now on (nullptr: none). It must outlive its installation.
  static void observe_this_thread(Observer* observer);

  // Held for the wait, and only when the thread is about to block: a read that finds its
  // bytes already there is no wait.
  ClientWait();
  ~ClientWait();
  ClientWait(const ClientWait&) = delete;
  ClientWait& operator=(const ClientWait&) = delete;

 private:
  Observer* observer_;
};

}  // namespace hornbeam
