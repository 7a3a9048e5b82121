#include "common/wake_batch.hpp"

#include <algorithm>

namespace hornbeam {
namespace {

thread_local WakeBatch* open_batch = nullptr;

}  // namespace

WakeBatch::WakeBatch(std::function<void()> on_first_held)
    : on_first_held_(std::move(on_first_held)), previous_(open_batch) {
  open_batch = this;
}

WakeBatch::~WakeBatch() {
  release();
  open_batch = previous_;
}

void WakeBatch::release() {
  std::vector<Wakeable*> targets;
  targets.swap(held_);
  for (auto* target : targets) target->wake_now();
  // Its memory back to held_ (nothing was held meanwhile): no allocation per burst.
  targets.clear();
  if (held_.empty()) held_.swap(targets);
}

bool WakeBatch::hold(Wakeable& target) {
  WakeBatch* batch = open_batch;
  if (!batch) return false;
  if (std::find(batch->held_.begin(), batch->held_.end(), &target) != batch->held_.end())
    return true;
  batch->held_.push_back(&target);
  if (batch->held_.size() == 1 && batch->on_first_held_) batch->on_first_held_();
  return true;
}

}  // namespace hornbeam
