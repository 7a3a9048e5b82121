#include "worker/access_log.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace hornbeam::worker {
namespace {

AccessEntry sample() {
  AccessEntry entry;
  entry.remote_addr = "10.0.0.7";
  entry.method = "GET";
  entry.target = "/path?q=1";
  entry.status = 200;
  entry.body_bytes = 1234;
  entry.duration = std::chrono::microseconds(1'500'000);
  return entry;
}

TEST(AccessLog, AtomsOfTheDefaultFormats) {
  const std::vector<HttpHeader> request = {{"User-Agent", "curl/8"}, {"Referer", "http://r/"}};
  auto entry = sample();
  entry.request_headers = &request;
  const AccessLogFormat format(
      R"(%(h)s %(l)s %(u)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(m)s %(U)s %(q)s %(H)s)");
  EXPECT_EQ(
      format.text(entry),
      R"(10.0.0.7 - - "GET /path?q=1 HTTP/1.1" 200 1234 "http://r/" "curl/8" GET /path q=1 HTTP/1.1)");
  EXPECT_TRUE(format.uses_request_headers());
  EXPECT_FALSE(format.uses_response_headers());
}

TEST(AccessLog, APercentSignIsWrittenDoubledAsInGunicorn) {
  EXPECT_EQ(AccessLogFormat("100%% %(s)s %%(s)s %").text(sample()), "100% 200 %(s)s %");
}

TEST(AccessLog, TimesAndSizes) {
  auto entry = sample();
  EXPECT_EQ(AccessLogFormat("%(T)s %(D)s %(M)s %(L)s").text(entry), "1 1500000 1500 1.500000");
  entry.body_bytes = 0;
  EXPECT_EQ(AccessLogFormat("%(b)s %(B)s").text(entry), "- 0");
  EXPECT_TRUE(AccessLogFormat("%(t)s").text(entry).starts_with("["));
}

TEST(AccessLog, HeaderAtoms) {
  const std::vector<HttpHeader> request = {{"X-Request-Id", "abc"}};
  const std::vector<HttpHeader> response = {{"Content-Type", "text/html"}};
  auto entry = sample();
  entry.request_headers = &request;
  entry.response_headers = &response;
  const AccessLogFormat format("%({x-request-id}i)s %({content-type}o)s %({missing}i)s");
  EXPECT_TRUE(format.uses_response_headers());
  EXPECT_EQ(format.text(entry), "abc text/html -");
}

TEST(AccessLog, ControlCharactersAreEscaped) {
  auto entry = sample();
  entry.target = "/\x1b[2J\"\\";
  EXPECT_EQ(AccessLogFormat("%(r)s").text(entry), R"(GET /\x1b[2J\"\\ HTTP/1.1)");
}

TEST(AccessLog, JsonRecord) {
  const auto record = nlohmann::json::parse(AccessLogFormat::json(sample()));
  EXPECT_EQ(record["status"], 200);
  EXPECT_EQ(record["target"], "/path?q=1");
  EXPECT_EQ(record["duration_us"], 1500000);
}

}  // namespace
}  // namespace hornbeam::worker
