// The streamed-body hand-over between the I/O thread (push) and a context (read).

#include "worker/request_body_stream.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <memory>
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
  EXPECT_FALSE(stream.refused());
  stream.fail(RequestBodyError::Cause::malformed, "bad chunk");
  stream.fail(RequestBodyError::Cause::response_complete, "the response is complete");
  EXPECT_TRUE(stream.refused());
  try {
    try_read(stream, 100);
    FAIL() << "no exception";
  } catch (const RequestBodyError& error) {
    EXPECT_EQ(error.cause(), RequestBodyError::Cause::malformed);
    EXPECT_STREQ(error.what(), "bad chunk");
  }
}

// What the I/O side does with lent memory: waits until a reader lends it, then writes `data`
// into it in two reads and gives it back.
void fill_lent_memory(const std::shared_ptr<RequestBodyStream>& stream, std::string_view data) {
  std::optional<BodyTargetLease> lease;
  while (!(lease = stream->take_target())) std::this_thread::yield();
  ASSERT_GE(lease->room_left(), data.size());
  const std::size_t half = data.size() / 2;
  std::memcpy(lease->next(), data.data(), half);
  lease->add(half);
  std::memcpy(lease->next(), data.data() + half, data.size() - half);
  lease->add(data.size() - half);
  lease->give_back();
}

TEST(RequestBodyStream, AFullReadLendsItsMemoryAfterWhatIsBufferedIsTaken) {
  auto stream = std::make_shared<RequestBodyStream>(1 << 20, [] {});
  stream->set_content_length(1 << 30);
  std::string body(70000, '\0');
  for (std::size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>(i * 7);
  stream->push(std::string_view(body).substr(0, 1000));  // came with the head
  std::string received(body.size(), '\0');
  std::thread reader(
      [&] { EXPECT_EQ(stream->read_fully_into(received.data(), received.size()), body.size()); });
  fill_lent_memory(stream, std::string_view(body).substr(1000));
  reader.join();
  EXPECT_EQ(received, body);
  EXPECT_EQ(stream->consumed(), body.size());
}

TEST(RequestBodyStream, MemoryIsLentOnlyForLargeReadsOfStreamsThatAllowIt) {
  auto small = std::make_shared<RequestBodyStream>(1 << 20, [] {});
  small->set_content_length(1 << 30);
  std::thread reader([&] {
    char out[100];
    EXPECT_EQ(small->read_fully_into(out, sizeof out), 5u);  // then the body ended
  });
  while (!small->wants_more()) std::this_thread::yield();
  EXPECT_FALSE(small->take_target());
  small->push("hello");
  small->end();
  reader.join();

  auto framed = std::make_shared<RequestBodyStream>(1 << 20, [] {});  // chunked, HTTP/2
  std::thread large_reader([&] {
    std::string out(100000, '\0');
    EXPECT_EQ(framed->read_fully_into(out.data(), out.size()), 0u);
  });
  while (!framed->wants_more()) std::this_thread::yield();
  EXPECT_FALSE(framed->take_target());
  framed->end();
  large_reader.join();
}

// The reader never gets its memory back while the I/O side may write into it: not on a
// failure, only when the lease ends (given back, or destroyed with a handler that never ran).
TEST(RequestBodyStream, AFailureWaitsForLentMemoryToComeBack) {
  auto stream = std::make_shared<RequestBodyStream>(1 << 20, [] {});
  stream->set_content_length(1 << 30);
  std::atomic<bool> returned = false;
  std::thread reader([&] {
    std::string out(50000, '\0');
    EXPECT_THROW(stream->read_fully_into(out.data(), out.size()), RequestBodyError);
    returned = true;
  });
  std::optional<BodyTargetLease> lease;
  while (!(lease = stream->take_target())) std::this_thread::yield();
  lease->add(10);
  stream->fail(RequestBodyError::Cause::client_gone, "client disconnected");
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(returned);
  lease.reset();  // destroyed without give_back()
  reader.join();
  EXPECT_TRUE(returned);
}

// Blocks that arrive while memory is offered come first; the I/O side reads no further ahead
// into blocks until the reader has taken them and lent what is left of its memory.
TEST(RequestBodyStream, BlocksArrivingBeforeTheLentMemoryIsTakenComeFirst) {
  auto stream = std::make_shared<RequestBodyStream>(1 << 20, [] {});
  stream->set_content_length(1 << 30);
  std::string received(60000, '\0');
  std::thread reader([&] {
    EXPECT_EQ(stream->read_fully_into(received.data(), received.size()), received.size());
  });
  while (!stream->wants_more()) std::this_thread::yield();
  const std::string first(20000, 'a'), rest(40000, 'b');
  stream->push(first);  // a block read that was pending when the memory was offered
  fill_lent_memory(stream, rest);
  reader.join();
  EXPECT_EQ(received, first + rest);
}

// A stream that lends reads only for a reader that waits: bytes read ahead of it would go
// into a block and be copied, not into the memory it is about to lend.
TEST(RequestBodyStream, AStreamThatLendsReadsOnlyWhenItsReaderWaits) {
  std::atomic<int> wakes = 0;
  auto stream = std::make_shared<RequestBodyStream>(1 << 20, [&] { ++wakes; });
  stream->set_content_length(1 << 30);
  EXPECT_FALSE(stream->wants_more());
  std::thread reader([&] {
    char out[100];
    EXPECT_EQ(stream->read_into(out, sizeof out), 100u);
  });
  while (wakes == 0) std::this_thread::yield();  // the first read asks
  EXPECT_TRUE(stream->wants_more());
  stream->push(std::string(1000, 'x'));
  reader.join();
  EXPECT_FALSE(stream->wants_more());  // 900 bytes wait: nothing is read ahead of them
  EXPECT_EQ(stream->try_available(10000), 900u);
  char rest[900];
  EXPECT_EQ(stream->read_into(rest, sizeof rest), 900u);
  EXPECT_FALSE(stream->wants_more());
  EXPECT_EQ(stream->try_available(10000), std::nullopt);  // asks again
  EXPECT_TRUE(stream->wants_more());
  EXPECT_EQ(wakes, 2);
}

// ASGI's receive(): memory lent for the next read comes back with what was read into it;
// lent while blocks wait, or withdrawn when a block came first, it is not used.
TEST(RequestBodyStream, LentMemoryComesBackWithWhatWasReadIntoIt) {
  std::atomic<int> wakes = 0;
  auto stream = std::make_shared<RequestBodyStream>(1 << 20, [&] { ++wakes; });
  stream->set_content_length(1 << 30);
  EXPECT_TRUE(stream->may_lend());
  std::string memory(64 * 1024, '\0');
  ASSERT_TRUE(stream->lend(memory.data(), memory.size()));
  EXPECT_EQ(wakes, 1);                           // the I/O side is told to read into it
  EXPECT_EQ(stream->lent_back(), std::nullopt);  // offered, nothing read yet
  {
    auto lease = stream->take_target();
    ASSERT_TRUE(lease);
    EXPECT_FALSE(lease->wants_it_full());          // given back after the first read
    EXPECT_EQ(stream->lent_back(), std::nullopt);  // being written into
    std::memcpy(lease->next(), "hello", 5);
    lease->add(5);
  }  // the lease's end gives it back
  EXPECT_EQ(stream->lent_back(), 5u);
  EXPECT_EQ(memory.substr(0, 5), "hello");
  EXPECT_EQ(stream->consumed(), 5u);

  ASSERT_TRUE(stream->lend(memory.data(), memory.size()));
  stream->push("first");  // a read into a block was on its way
  EXPECT_FALSE(stream->take_target());
  EXPECT_EQ(stream->lent_back(), 0u);  // withdrawn: the block is read as usual
  EXPECT_FALSE(stream->lend(memory.data(), memory.size()));  // bytes wait
  EXPECT_EQ(stream->try_available(100), 5u);

  auto framed = std::make_shared<RequestBodyStream>(1 << 20, [] {});
  EXPECT_FALSE(framed->may_lend());
  EXPECT_FALSE(framed->lend(memory.data(), memory.size()));
}

// wsgi.input.read() of a Content-Length body makes one bytes object of what is left.
TEST(RequestBodyStream, AKnownLengthSaysWhatTheAppHasNotReadYet) {
  RequestBodyStream chunked(1 << 20, [] {});
  EXPECT_EQ(chunked.unread_length(), std::nullopt);
  RequestBodyStream stream(1 << 20, [] {});
  stream.set_content_length(100);
  EXPECT_EQ(stream.unread_length(), 100u);
  stream.push(std::string(30, 'x'));
  EXPECT_EQ(stream.unread_length(), 100u);  // arrived, not read
  char out[10];
  EXPECT_EQ(stream.read_into(out, sizeof out), 10u);
  EXPECT_EQ(stream.unread_length(), 90u);
}

}  // namespace
}  // namespace hornbeam::worker
