// The streamed-body hand-over between the I/O thread (push) and a context (read).

#include "worker/request_body_stream.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <thread>

namespace hornbeam::worker {
namespace {

// What ASGI's receive() does: the bytes that have arrived (up to `max`), "" at the end, or
// nullopt when nothing is here yet.
std::optional<std::string> try_read(RequestBodyStream& stream, std::size_t max) {
  const auto available = stream.try_available(max);
  if (!available) return std::nullopt;
  std::string out(*available, '\0');
  if (*available > 0) out.resize(stream.read_into(out.data(), out.size()));
  return out;
}

TEST(RequestBodyStream, NothingIsReadFromTheNetworkBeforeTheAppAsks) {
  std::atomic<int> wakes = 0;
  RequestBodyStream stream(1024, [&] { ++wakes; });
  EXPECT_FALSE(stream.wants_more());  // 100-continue: no reading before the app reads
  EXPECT_FALSE(stream.app_started_reading());
  std::thread reader([&] { EXPECT_EQ(stream.read(10), "hello"); });
  while (wakes == 0) std::this_thread::yield();
  EXPECT_TRUE(stream.app_started_reading());
  EXPECT_TRUE(stream.wants_more());
  stream.push("hello");
  reader.join();
}

TEST(RequestBodyStream, ReadsSpanTheBlocksAsTheyCameAndSayWhatIsThereFirst) {
  RequestBodyStream stream(1 << 20, [] {});
  EXPECT_EQ(stream.try_available(10), std::nullopt);
  auto block = BodyBlock::with_room(16);
  std::memcpy(block.bytes.get(), "hello ", 6);
  block.size = 6;
  stream.push_block(std::move(block));
  stream.push("wide ");
  stream.push("world");
  EXPECT_EQ(stream.try_available(100), 16u);
  EXPECT_EQ(stream.try_available(4), 4u);
  char out[16];
  EXPECT_EQ(stream.read_into(out, 8), 8u);
  EXPECT_EQ(std::string(out, 8), "hello wi");
  EXPECT_EQ(stream.try_available(100), 8u);
  EXPECT_EQ(try_read(stream, 100), "de world");
  EXPECT_EQ(stream.consumed(), 16u);
  stream.end();
  EXPECT_EQ(stream.try_available(100), 0u);
}

// HTTP/2 reopens its flow-control windows by what the app has read: every read says so.
TEST(RequestBodyStream, EveryReadWakesTheIoSideAndCountsWhatWasConsumed) {
  int wakes = 0;
  RequestBodyStream stream(
      1 << 20, [&] { ++wakes; }, RequestBodyStream::WakeOn::every_read);
  stream.push("hello world");
  EXPECT_EQ(try_read(stream, 5), "hello");
  EXPECT_EQ(stream.consumed(), 5u);
  const int after_first = wakes;
  char out[16];
  EXPECT_EQ(stream.read_into(out, sizeof out), 6u);
  EXPECT_EQ(stream.consumed(), 11u);
  EXPECT_GT(wakes, after_first);
}

TEST(RequestBodyStream, ABodyCrossesWholeAndInOrderBetweenThreads) {
  std::atomic<int> wakes = 0;
  RequestBodyStream stream(4096, [&] { ++wakes; });
  std::string sent;
  for (int i = 0; i < 2000; ++i) sent += std::to_string(i) + ",";
  std::string received;
  std::thread reader([&] {
    char buffer[333];
    while (const std::size_t n = stream.read_into(buffer, sizeof buffer))
      received.append(buffer, n);
  });
  std::size_t offset = 0;
  while (offset < sent.size()) {
    if (!stream.wants_more()) {  // the I/O side reads only while there is room
      std::this_thread::yield();
      continue;
    }
    const std::size_t piece = std::min<std::size_t>(500, sent.size() - offset);
    stream.push(std::string_view(sent).substr(offset, piece));
    offset += piece;
  }
  stream.end();
  reader.join();
  EXPECT_EQ(received, sent);
}

TEST(RequestBodyStream, RoomIsBoundedByTheHighWaterMark) {
  RequestBodyStream stream(100, [] {});
  std::thread reader([&] { EXPECT_EQ(stream.read(1).size(), 1u); });
  while (!stream.app_started_reading()) std::this_thread::yield();
  stream.push(std::string(150, 'x'));
  reader.join();
  EXPECT_FALSE(stream.wants_more());  // 149 bytes wait: over the mark, stop reading
}

TEST(RequestBodyStream, AFailureReachesTheWaitingReader) {
  RequestBodyStream stream(1024, [] {});
  std::thread failer([&] {
    while (!stream.app_started_reading()) std::this_thread::yield();
    stream.fail(RequestBodyError::Cause::client_gone, "client disconnected");
  });
  EXPECT_THROW(stream.read(10), std::runtime_error);
  failer.join();
}

TEST(RequestBodyStream, EndAfterDataGivesTheDataThenEnd) {
  RequestBodyStream stream(1024, [] {});
  stream.push("abc");
  stream.end();
  EXPECT_EQ(stream.read(2), "ab");
  EXPECT_EQ(stream.read(10), "c");
  EXPECT_EQ(stream.read(10), "");
}

TEST(RequestBodyStream, TryReadNeverWaitsAndTheWakerSaysWhenToTryAgain) {
  int io_woken = 0;
  int loop_woken = 0;
  RequestBodyStream stream(1 << 20, [&] { ++io_woken; });
  stream.set_waker([&] { ++loop_woken; });
  EXPECT_FALSE(
      try_read(stream, 100).has_value());  // nothing yet: the first read starts the reading
  EXPECT_EQ(io_woken, 1);
  EXPECT_TRUE(stream.wants_more());
  stream.push("hello");
  EXPECT_EQ(loop_woken, 1);
  EXPECT_EQ(try_read(stream, 3).value(), "hel");
  EXPECT_EQ(try_read(stream, 100).value(), "lo");
  stream.end();
  EXPECT_EQ(loop_woken, 2);
  EXPECT_EQ(try_read(stream, 100).value(), "");  // the end
}

TEST(RequestBodyStream, TryReadThrowsOnFailure) {
  RequestBodyStream stream(1 << 20, [] {});
  stream.fail(RequestBodyError::Cause::client_gone, "client disconnected");
  EXPECT_THROW(try_read(stream, 100), std::runtime_error);
}

TEST(RequestBodyStream, TheFirstFailureNamesItsCause) {
  RequestBodyStream stream(1 << 20, [] {});
  EXPECT_FALSE(stream.malformed());
  stream.fail(RequestBodyError::Cause::malformed, "bad chunk");
  stream.fail(RequestBodyError::Cause::response_complete, "the response is complete");
  EXPECT_TRUE(stream.malformed());
  try {
    try_read(stream, 100);
    FAIL() << "no exception";
  } catch (const RequestBodyError& error) {
    EXPECT_EQ(error.cause(), RequestBodyError::Cause::malformed);
    EXPECT_STREQ(error.what(), "bad chunk");
  }
}

}  // namespace
}  // namespace hornbeam::worker
