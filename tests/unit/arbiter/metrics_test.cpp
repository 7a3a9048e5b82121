// The arbiter's metrics: a worker's counters folded at its exit are neither lost nor counted
// twice, and readiness says why it fails.

#include "arbiter/metrics.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

namespace hornbeam::arbiter {
namespace {

double sample(const std::string& text, const std::string& line_start) {
  const auto at = text.find("\n" + line_start + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + line_start.size() + 2));
}

class MetricsTest : public ::testing::Test {
 protected:
  MetricsTest()
      : segment(shm::Segment::create(4, 64 * 1024)), metrics(segment, ::getpid(), build) {}

  shm::WorkerSlot& running_worker(std::uint32_t index) {
    const int slot = segment.claim_slot(::getpid());
    EXPECT_EQ(slot, static_cast<int>(index));
    auto& worker = segment.slot(index);
    worker.reset(::getpid(), 1);  // a pid that exists, for its RSS
    worker.set_state(shm::SlotState::ready);
    return worker;
  }

  BuildInfo build{"0.1.0", "3.11.2", "thread"};
  shm::Segment segment;
  Metrics metrics;
};

TEST_F(MetricsTest, AnExitedWorkersCountersAreFoldedOnce) {
  auto& first = running_worker(0);
  auto& second = running_worker(1);
  first.stats.record_response(shm::WorkerStats::wsgi, 200, std::chrono::milliseconds(3));
  first.stats.record_response(shm::WorkerStats::wsgi, 503, std::chrono::seconds(20));
  second.stats.record_response(shm::WorkerStats::wsgi, 204, std::chrono::milliseconds(30));
  second.stats.record_response(shm::WorkerStats::asgi, 101, std::chrono::milliseconds(1));
  auto text = metrics.render();
  EXPECT_EQ(sample(text, "hornbeam_requests_total{status_class=\"2xx\",worker_class=\"wsgi\"}"), 2);
  EXPECT_EQ(sample(text, "hornbeam_requests_total{status_class=\"5xx\",worker_class=\"wsgi\"}"), 1);
  EXPECT_EQ(sample(text, "hornbeam_requests_total{status_class=\"1xx\",worker_class=\"asgi\"}"), 1);
  EXPECT_EQ(sample(text, "hornbeam_request_duration_seconds_bucket{le=\"0.005\"}"), 2);
  EXPECT_EQ(sample(text, "hornbeam_request_duration_seconds_bucket{le=\"0.05\"}"), 3);
  EXPECT_EQ(sample(text, "hornbeam_request_duration_seconds_bucket{le=\"10\"}"), 3);
  EXPECT_EQ(sample(text, "hornbeam_request_duration_seconds_bucket{le=\"+Inf\"}"), 4);
  EXPECT_DOUBLE_EQ(sample(text, "hornbeam_request_duration_seconds_sum"), 20.034);

  metrics.worker_exited(0, ExitCause::crash);
  segment.release_slot(0);
  text = metrics.render();
  EXPECT_EQ(sample(text, "hornbeam_requests_total{status_class=\"2xx\",worker_class=\"wsgi\"}"), 2)
      << "not lost";
  EXPECT_EQ(sample(text, "hornbeam_requests_total{status_class=\"5xx\",worker_class=\"wsgi\"}"), 1)
      << "nor doubled";
  EXPECT_EQ(sample(text, "hornbeam_worker_exits_total{cause=\"crash\"}"), 1);
  EXPECT_EQ(sample(text, "hornbeam_workers{state=\"ready\"}"), 1);
}

TEST_F(MetricsTest, SlotsOfAnotherArbiterAreNotCounted) {
  auto& mine = running_worker(0);
  mine.stats.record_response(shm::WorkerStats::wsgi, 200, std::chrono::milliseconds(1));
  auto& theirs = segment.slot(1);
  theirs.owner = ::getpid() + 1;  // an upgraded arbiter's, sharing the segment
  theirs.reset(::getpid(), 2);
  theirs.set_state(shm::SlotState::ready);
  theirs.stats.record_response(shm::WorkerStats::wsgi, 200, std::chrono::milliseconds(1));
  EXPECT_EQ(sample(metrics.render(),
                   "hornbeam_requests_total{status_class=\"2xx\",worker_class=\"wsgi\"}"),
            1);
}

TEST_F(MetricsTest, ReadinessNeedsAReadyWorkerAndNoStop) {
  EXPECT_FALSE(metrics.readiness().ready);
  EXPECT_EQ(metrics.readiness().reason, "no worker is ready");
  metrics.set_ready_workers(2);
  EXPECT_TRUE(metrics.readiness().ready);
  metrics.set_stopping("SIGTERM");
  EXPECT_FALSE(metrics.readiness().ready);
  EXPECT_EQ(metrics.readiness().reason, "stopping (SIGTERM)");
  metrics.loop_turned();
  EXPECT_TRUE(metrics.alive());
}

TEST_F(MetricsTest, LabelValuesAreEscaped) {
  Metrics odd(segment, ::getpid(), {"1\"2", "3\\4", "a\nb"});
  EXPECT_NE(odd.render().find(R"(version="1\"2",python="3\\4",context_mode="a\nb")"),
            std::string::npos);
}

}  // namespace
}  // namespace hornbeam::arbiter
