#include "common/client_wait.hpp"

namespace hornbeam {

namespace {
thread_local ClientWait::Observer* this_threads_observer = nullptr;
}  // namespace

void ClientWait::observe_this_thread(Observer* observer) { this_threads_observer = observer; }

ClientWait::ClientWait() : observer_(this_threads_observer) {
  if (observer_) observer_->client_wait_began();
}

ClientWait::~ClientWait() {
  if (observer_) observer_->client_wait_ended();
}

}  // namespace hornbeam
