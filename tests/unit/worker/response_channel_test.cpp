// Framing of responses: what bytes the client gets for each way an app can answer.

#include "worker/response_channel.hpp"
#include "common/unique_fd.hpp"

#include <gtest/gtest.h>

#include <sys/socket.h>
#include <unistd.h>
#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>

namespace hornbeam::worker {
namespace {

std::string drain(ResponseChannel& channel, ResponseChannel::Batch* last = nullptr) {
  auto batch = channel.take();
  std::string bytes = batch.bytes;
  if (last) *last = std::move(batch);
  return bytes;
}

// The response without its Date line (which changes every second).
std::string without_date(std::string bytes) {
  const auto date = bytes.find("Date: ");
  if (date != std::string::npos) bytes.erase(date, bytes.find("\r\n", date) + 2 - date);
  return bytes;
}

TEST(ResponseChannel, ContentLengthFromTheApp) {
  ResponseChannel channel({}, 1 << 20, [] {});
  channel.start("200 OK", {{"Content-Length", "5"}});
  EXPECT_TRUE(channel.write("hello", false));
  channel.finish();
  ResponseChannel::Batch batch;
  EXPECT_EQ(without_date(drain(channel, &batch)),
            "HTTP/1.1 200 OK\r\nServer: hornbeam\r\nContent-Length: 5\r\n\r\nhello");
  EXPECT_TRUE(batch.complete);
  EXPECT_TRUE(batch.keep_alive);
  EXPECT_FALSE(batch.cut);
}

// A reopened channel answers the next request as a new one would, whatever the last response
// left behind (chunking, a cut, a wake-up, HTTP/1.0 framing), in the memory it already had.
TEST(ResponseChannel, ReopenedServesTheNextResponseAsANewOne) {
  int wakes = 0;
  ResponseFraming old_framing;
  old_framing.http_version = 10;
  ResponseChannel channel(old_framing, 1 << 20, [&wakes] { ++wakes; });
  channel.start("500 Internal Server Error", {});  // no length on HTTP/1.0: the close ends it
  EXPECT_TRUE(channel.write(std::string(300, 'x'), true));
  channel.set_failure_status(413);
  channel.abort();
  ResponseChannel::Batch first;
  drain(channel, &first);
  EXPECT_TRUE(first.cut);
  std::string written = std::move(first.bytes);  // what the connection wrote
  const auto capacity = written.capacity();
  EXPECT_TRUE(channel.reusable());

  channel.reopen({}, std::move(written));
  channel.start("200 OK", {{"Content-Length", "5"}});
  EXPECT_TRUE(channel.write("hello", false));
  channel.finish();
  ResponseChannel::Batch next;
  const std::string bytes = drain(channel, &next);
  EXPECT_EQ(without_date(bytes),
            "HTTP/1.1 200 OK\r\nServer: hornbeam\r\nContent-Length: 5\r\n\r\nhello");
  EXPECT_TRUE(next.complete);
  EXPECT_TRUE(next.keep_alive);
  EXPECT_FALSE(next.cut);
  EXPECT_EQ(next.status, 200);
  EXPECT_EQ(next.bytes.capacity(), capacity);  // the written batch's memory, no new buffer
  EXPECT_EQ(channel.body_bytes(), 5u);
  EXPECT_EQ(wakes, 2);  // one per response: the first one's wake-up was answered by take()

  channel.reopen({}, {});
  channel.fail(500);  // the 413 set for the first response is gone with it
  EXPECT_NE(drain(channel).find("HTTP/1.1 500 "), std::string::npos);
}

// A buffer that grew for a large response is not kept while the connection waits.
TEST(ResponseChannel, ALargeBufferIsNotKeptForTheNextResponse) {
  ResponseChannel channel({}, 1 << 20, [] {});
  channel.start("200 OK", {});
  EXPECT_TRUE(channel.write(std::string(ResponseChannel::reused_buffer_limit + 1, 'x'), true));
  EXPECT_FALSE(channel.reusable());
  drain(channel);
  channel.reopen({}, std::string(ResponseChannel::reused_buffer_limit * 2, 'y'));
  channel.start("204 No Content", {});
  channel.finish();
  EXPECT_LE(channel.take().bytes.capacity(), ResponseChannel::reused_buffer_limit);
}

// The request's fields come back to the connection, once, with their strings' memory.
TEST(ResponseChannel, ReturnedFieldsAreTakenOnce) {
  ResponseChannel channel({}, 1 << 20, [] {});
  EXPECT_TRUE(channel.take_returned_fields().empty());
  std::vector<HttpHeader> fields{{"User-Agent", std::string(100, 'u')}};
  const char* memory = fields[0].value.data();
  channel.return_fields(std::move(fields));
  auto taken = channel.take_returned_fields();
  ASSERT_EQ(taken.size(), 1u);
  EXPECT_EQ(taken[0].value.data(), memory);
  EXPECT_TRUE(channel.take_returned_fields().empty());
}

// HTTP/2: the session frames the response, so the channel hands over fields and a bare body.
TEST(ResponseChannel, Http2GetsTheHeadAsFieldsAndTheBodyUnframed) {
  ResponseFraming framing;
  framing.http_version = 20;
  ResponseChannel channel(framing, 1 << 20, [] {});
  channel.start("201 Created", {{"Content-Type", "text/plain"}});
  EXPECT_TRUE(channel.write("hello", false));
  EXPECT_TRUE(channel.write(" world", false));
  channel.finish_with_trailers({{"x-checksum", "abc"}});
  ResponseChannel::Batch batch;
  EXPECT_EQ(drain(channel, &batch), "hello world");  // no chunk sizes
  ASSERT_TRUE(batch.head);
  EXPECT_EQ(batch.head->status, 201);
  ASSERT_EQ(batch.head->fields.size(), 3u);  // server, date, then the app's
  EXPECT_EQ(batch.head->fields[0].name, "server");
  EXPECT_EQ(batch.head->fields[1].name, "date");
  EXPECT_EQ(batch.head->fields[2].value, "text/plain");
  EXPECT_TRUE(batch.complete);
  ASSERT_EQ(batch.trailers.size(), 1u);
  EXPECT_EQ(batch.trailers[0].value, "abc");
}

TEST(ResponseChannel, Http2FailureIsAHeadAndABody) {
  ResponseFraming framing;
  framing.http_version = 20;
  ResponseChannel channel(framing, 1 << 20, [] {});
  channel.fail(503);
  ResponseChannel::Batch batch;
  EXPECT_EQ(drain(channel, &batch), "503 Service Unavailable\n");
  ASSERT_TRUE(batch.head);
  EXPECT_EQ(batch.head->status, 503);
  EXPECT_EQ(batch.head->fields.back().value, "24");  // content-length
  EXPECT_TRUE(batch.complete);
}

TEST(ResponseChannel, ChunkedWithoutLengthOnHttp11) {
  ResponseChannel channel({}, 1 << 20, [] {});
  channel.start("200 OK", {});
  channel.write("ab", false);
  channel.write("cde", false);
  channel.finish();
  EXPECT_EQ(without_date(drain(channel)),
            "HTTP/1.1 200 OK\r\nServer: hornbeam\r\nTransfer-Encoding: "
            "chunked\r\n\r\n2\r\nab\r\n3\r\ncde\r\n0\r\n\r\n");
}

TEST(ResponseChannel, CloseDelimitedOnHttp10) {
  ResponseChannel channel({.http_version = 10}, 1 << 20, [] {});
  channel.start("200 OK", {});
  channel.write("abc", false);
  channel.finish();
  ResponseChannel::Batch batch;
  EXPECT_EQ(without_date(drain(channel, &batch)),
            "HTTP/1.0 200 OK\r\nServer: hornbeam\r\nConnection: close\r\n\r\nabc");
  EXPECT_FALSE(batch.keep_alive);
}

TEST(ResponseChannel, HeadAnd204And304CarryNoBody) {
  for (const auto& [head_request, status] :
       {std::pair{true, "200 OK"}, {false, "204 No Content"}, {false, "304 Not Modified"}}) {
    ResponseChannel channel({.head_request = head_request}, 1 << 20, [] {});
    channel.start(status, {{"Content-Length", "4"}});
    channel.write("body", false);
    channel.finish();
    const std::string bytes = drain(channel);
    EXPECT_TRUE(bytes.ends_with("\r\n\r\n")) << bytes;
    EXPECT_EQ(bytes.find("body"), std::string::npos) << bytes;
  }
}

TEST(ResponseChannel, ShortBodyForItsContentLengthIsCut) {
  ResponseChannel channel({}, 1 << 20, [] {});
  channel.start("200 OK", {{"Content-Length", "10"}});
  channel.write("short", false);
  channel.finish();
  ResponseChannel::Batch batch;
  drain(channel, &batch);
  EXPECT_TRUE(batch.cut);
}

TEST(ResponseChannel, LongBodyForItsContentLengthIsCutAtTheLength) {
  ResponseChannel channel({}, 1 << 20, [] {});
  channel.start("200 OK", {{"Content-Length", "3"}});
  EXPECT_FALSE(channel.write("toolong", false));
  ResponseChannel::Batch batch;
  EXPECT_TRUE(drain(channel, &batch).ends_with("\r\n\r\ntoo"));
  EXPECT_TRUE(batch.cut);
}

TEST(ResponseChannel, AbortAfterStartCutsWithoutTheLastChunk) {
  ResponseChannel channel({}, 1 << 20, [] {});
  channel.start("200 OK", {});
  channel.write("partial", false);
  channel.abort();
  ResponseChannel::Batch batch;
  const std::string bytes = drain(channel, &batch);
  EXPECT_TRUE(batch.cut);
  EXPECT_EQ(bytes.find("0\r\n\r\n"), std::string::npos);
}

TEST(ResponseChannel, FailSendsAComplete500AndCloses) {
  ResponseChannel channel({}, 1 << 20, [] {});
  channel.fail(500);
  ResponseChannel::Batch batch;
  const std::string bytes = drain(channel, &batch);
  EXPECT_TRUE(bytes.starts_with("HTTP/1.1 500 Internal Server Error\r\n"));
  EXPECT_NE(bytes.find("Connection: close\r\n"), std::string::npos);
  EXPECT_TRUE(batch.complete);
  EXPECT_FALSE(batch.keep_alive);
}

TEST(ResponseChannel, AStuckAppThatHasNotStartedGetsA504) {
  ResponseChannel channel({}, 1 << 20, [] {});
  EXPECT_TRUE(channel.fail_unstarted(504));
  ResponseChannel::Batch batch;
  const std::string bytes = drain(channel, &batch);
  EXPECT_TRUE(bytes.starts_with("HTTP/1.1 504 Gateway Timeout\r\n"));
  EXPECT_TRUE(batch.complete);
  EXPECT_FALSE(batch.keep_alive);
}

// The I/O thread answered first (a malformed body: 400, then the connection closes); the
// app's start() that comes after must change nothing of that answer, keep-alive above all:
// the unread rest of a bad body would otherwise be read as the next request.
TEST(ResponseChannel, AStartAfterTheIoSideAnsweredLeavesItsAnswerAsItIs) {
  ResponseChannel channel({}, 1 << 20, [] {});
  ASSERT_TRUE(channel.fail_unstarted(400));
  channel.start("200 OK", {{"Content-Length", "5"}});
  EXPECT_FALSE(channel.write("hello", false));
  channel.finish();
  ResponseChannel::Batch batch;
  const std::string bytes = drain(channel, &batch);
  EXPECT_TRUE(bytes.starts_with("HTTP/1.1 400 Bad Request\r\n")) << bytes;
  EXPECT_EQ(bytes.find("hello"), std::string::npos);
  EXPECT_EQ(batch.status, 400);
  EXPECT_TRUE(batch.complete);
  EXPECT_FALSE(batch.keep_alive);
}

TEST(ResponseChannel, AStartedResponseIsNotReplacedByA504) {
  ResponseChannel channel({}, 1 << 20, [] {});
  channel.start("200 OK", {});
  EXPECT_FALSE(channel.fail_unstarted(504));
  const std::string bytes = drain(channel);
  EXPECT_TRUE(bytes.starts_with("HTTP/1.1 200 OK\r\n"));
  EXPECT_EQ(bytes.find("504"), std::string::npos);
}

TEST(ResponseChannel, ALargeChunkIsTakenWholeAndTheNextWriteWaitsForTheClient) {
  std::atomic<int> wakes = 0;
  ResponseChannel channel({}, 1024, [&] { ++wakes; });
  channel.start("200 OK", {{"Content-Length", "8192"}});
  EXPECT_TRUE(
      channel.write(std::string(4096, 'x'), false));  // over the high-water mark, yet accepted
  std::atomic<bool> returned = false;
  std::thread writer([&] {
    channel.write(std::string(4096, 'y'), false);  // waits: the first chunk has not been taken
    returned = true;
  });
  std::this_thread::sleep_for(
      std::chrono::milliseconds(50));  // give a wrong implementation time to return
  EXPECT_FALSE(returned);
  std::size_t taken = drain(channel).size();
  writer.join();
  EXPECT_TRUE(returned);
  taken += drain(channel).size();
  EXPECT_GT(taken, 8192u);
}

// The head alone does not wake the I/O thread; a write that must wait for it to drain has to
// wake it first, or both sides wait for ever (this hung sendfile responses once).
TEST(ResponseChannel, AWaitingWriterWakesTheIoSideFirst) {
  std::atomic<int> wakes = 0;
  ResponseChannel channel({}, 1 << 20, [&] { ++wakes; });
  channel.start("200 OK", {});
  EXPECT_EQ(wakes, 0);
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  ::close(fds[1]);
  std::thread writer([&] { channel.send_file(UniqueFd(fds[0]), 0, 10); });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (wakes == 0 && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  EXPECT_EQ(wakes, 1) << "the writer waits for a head nobody was told to take";
  drain(channel);  // the I/O side takes the head: the writer proceeds
  writer.join();
  ResponseChannel::Batch batch;
  EXPECT_EQ(drain(channel, &batch), "a\r\n");  // chunked: the chunk's size line, then the file
  drain(channel, &batch);
  ASSERT_TRUE(batch.file.has_value());
  EXPECT_EQ(batch.file->length, 10u);
}

TEST(ResponseChannel, AKnownWholeBodyWakesTheIoThreadOnce) {
  int wakes = 0;
  ResponseChannel channel({}, 1 << 20, [&] { ++wakes; });
  channel.start("200 OK", {{"Content-Length", "6"}});
  channel.write("abc", true);  // more follows: no wake-up for these bytes alone
  channel.write("def", true);
  EXPECT_EQ(wakes, 0);
  channel.finish();
  EXPECT_EQ(wakes, 1);
  EXPECT_TRUE(drain(channel).ends_with("\r\n\r\nabcdef"));
}

TEST(ResponseChannel, AStreamedChunkWakesTheIoThreadAtOnce) {
  int wakes = 0;
  ResponseChannel channel({}, 1 << 20, [&] { ++wakes; });
  channel.start("200 OK", {});
  channel.write("event", false);
  EXPECT_EQ(wakes, 1);
}

TEST(ResponseChannel, ClosingReleasesAWaitingWriter) {
  ResponseChannel channel({}, 16, [] {});
  channel.start("200 OK", {});  // the head alone is over the mark: the next write waits
  std::atomic<bool> result = true;
  std::thread writer([&] { result = channel.write(std::string(1000, 'x'), false); });
  channel.close();
  writer.join();
  EXPECT_FALSE(result);
  EXPECT_FALSE(channel.write("more", false));
}

TEST(ResponseChannel, NoWaitWritesQueueAndTheWakerSaysWhenThereIsRoom) {
  ResponseChannel channel({}, 10, [] {});
  int woken = 0;
  channel.set_waker([&] { ++woken; });
  channel.start("200 OK", {});
  EXPECT_TRUE(channel.write_nowait("0123456789abcdef"));  // over high water: queued all the same
  EXPECT_FALSE(channel.has_room_or_notify());
  EXPECT_EQ(woken, 0);
  drain(channel);  // the client took it
  EXPECT_EQ(woken, 1);
  EXPECT_TRUE(channel.has_room_or_notify());
  channel.close();  // the client left: the loop hears of it too
  EXPECT_EQ(woken, 2);
  EXPECT_TRUE(channel.client_gone());
  EXPECT_FALSE(channel.write_nowait("more"));
}

TEST(ResponseChannel, TryWriteQueuesOnlyWhenThereIsRoomNow) {
  ResponseChannel channel({}, 256, [] {});
  channel.start("200 OK", {});
  using Outcome = ResponseSink::TryWrite;
  EXPECT_EQ(channel.try_write(std::string(1000, 'x'), false), Outcome::written);  // taken whole
  EXPECT_EQ(channel.try_write("more", false), Outcome::no_room);  // write() would wait here
  drain(channel);
  EXPECT_EQ(channel.try_write("more", false), Outcome::written);
  channel.close();
  EXPECT_EQ(channel.try_write("late", false), Outcome::client_gone);
}

TEST(ResponseChannel, TrailersFollowTheLastChunk) {
  ResponseChannel channel({}, 1 << 20, [] {});
  channel.start("200 OK", {});
  EXPECT_TRUE(channel.write_nowait("abc"));
  channel.finish_with_trailers({{"X-Checksum", "1"}, {"X-Count", "2"}});
  EXPECT_EQ(without_date(drain(channel)),
            "HTTP/1.1 200 OK\r\nServer: hornbeam\r\nTransfer-Encoding: chunked\r\n\r\n"
            "3\r\nabc\r\n0\r\nX-Checksum: 1\r\nX-Count: 2\r\n\r\n");
}

TEST(ResponseChannel, TrailersAreDroppedWithoutChunkedFraming) {
  ResponseChannel channel({}, 1 << 20, [] {});
  channel.start("200 OK", {{"Content-Length", "3"}});
  EXPECT_TRUE(channel.write_nowait("abc"));
  channel.finish_with_trailers({{"X-Checksum", "1"}});
  EXPECT_EQ(without_date(drain(channel)),
            "HTTP/1.1 200 OK\r\nServer: hornbeam\r\nContent-Length: 3\r\n\r\nabc");
}

// A connected socket pair: `server` is what the channel sends to, `client` reads.
struct SocketPair {
  UniqueFd server, client;
  SocketPair() {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds) != 0)
      throw std::runtime_error("socketpair");
    server = UniqueFd(fds[0]);
    client = UniqueFd(fds[1]);
  }
  // Everything the client can read now.
  std::string received() const {
    std::string bytes;
    char piece[65536];
    for (ssize_t n; (n = ::recv(client.get(), piece, sizeof piece, 0)) > 0;) bytes.append(piece, n);
    return bytes;
  }
};

TEST(ResponseChannel, AWholeResponseGoesStraightToTheSocketFromTheThreadThatEndsIt) {
  SocketPair sockets;
  int wakes = 0;
  ResponseChannel channel({}, 1 << 20, [&] { ++wakes; });
  channel.send_directly_to(sockets.server.get());
  channel.start("200 OK", {{"Content-Length", "5"}});
  EXPECT_TRUE(channel.write("hello", false));
  EXPECT_EQ(sockets.received(), "") << "a body that may not be the last is not sent yet";
  channel.finish();
  EXPECT_EQ(without_date(sockets.received()),
            "HTTP/1.1 200 OK\r\nServer: hornbeam\r\nContent-Length: 5\r\n\r\nhello");
  // The I/O thread is still woken, to end the exchange: nothing is left to write.
  EXPECT_GE(wakes, 1);
  ResponseChannel::Batch batch;
  EXPECT_EQ(drain(channel, &batch), "");
  EXPECT_TRUE(batch.complete);
  EXPECT_TRUE(batch.keep_alive);
  EXPECT_EQ(batch.status, 200);
  EXPECT_EQ(channel.body_bytes(), 5u);
}

// A large body leaves at write() (from the app's memory), a smaller one at finish(): either
// way, what the socket does not take follows, in order, through the I/O thread.
TEST(ResponseChannel, WhatTheSocketDoesNotTakeIsLeftForTheIoThread) {
  for (const std::size_t size :
       {ResponseChannel::direct_body_min / 2, ResponseChannel::direct_body_min * 2}) {
    SocketPair sockets;
    const int small = 4096;
    ::setsockopt(sockets.server.get(), SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    std::string body(size, '\0');
    for (std::size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>('a' + i % 26);
    ResponseChannel channel({}, 1 << 20, [] {});
    channel.send_directly_to(sockets.server.get());
    channel.start("200 OK", {{"Content-Length", std::to_string(body.size())}});
    EXPECT_TRUE(channel.write(body, true));
    channel.finish();  // returns at once: the socket's buffer is full, nobody waits for it
    const std::string sent = sockets.received();
    ResponseChannel::Batch batch;
    const std::string rest = drain(channel, &batch);
    EXPECT_FALSE(sent.empty());
    EXPECT_FALSE(rest.empty());
    EXPECT_TRUE(batch.complete);
    const std::string whole = sent + rest;
    EXPECT_TRUE(whole.starts_with("HTTP/1.1 200 OK\r\n"));
    EXPECT_TRUE(whole.ends_with("\r\n\r\n" + body)) << size;
  }
}

TEST(ResponseChannel, OnceTheIoThreadHasTakenBytesTheRestGoesItsWay) {
  SocketPair sockets;
  ResponseChannel channel({}, 1 << 20, [] {});
  channel.send_directly_to(sockets.server.get());
  channel.start("200 OK", {});
  EXPECT_TRUE(channel.write("ab", false));
  EXPECT_FALSE(drain(channel).empty());  // the I/O thread may be writing these right now
  EXPECT_TRUE(channel.write("cde", false));
  channel.finish();
  EXPECT_EQ(sockets.received(), "");
  EXPECT_EQ(drain(channel), "3\r\ncde\r\n0\r\n\r\n");
}

TEST(ResponseChannel, NoDirectSendAfterCloseForACutResponseOrAboveTheLimit) {
  {
    SocketPair sockets;
    ResponseChannel channel({}, 1 << 20, [] {});
    channel.send_directly_to(sockets.server.get());
    channel.start("204 No Content", {});
    channel.close();  // the I/O side is about to close the socket: its fd may be reused
    channel.finish();
    EXPECT_EQ(sockets.received(), "");
  }
  {
    SocketPair sockets;
    ResponseChannel channel({}, 1 << 20, [] {});
    channel.send_directly_to(sockets.server.get());
    channel.start("200 OK", {{"Content-Length", "10"}});
    channel.write("short", false);
    channel.finish();  // 5 of 10 bytes: cut
    EXPECT_EQ(sockets.received(), "");
    ResponseChannel::Batch batch;
    drain(channel, &batch);
    EXPECT_TRUE(batch.cut);
  }
  {
    SocketPair sockets;
    const std::string body(ResponseChannel::direct_body_min - 1, 'x');
    ResponseChannel channel({}, 1 << 20, [] {});
    channel.send_directly_to(sockets.server.get());
    channel.start("200 OK", {});  // chunked: more than direct_send_limit with its framing
    channel.write(body, true);
    channel.write(body, true);
    channel.finish();
    EXPECT_EQ(sockets.received(), "");
    EXPECT_TRUE(drain(channel).ends_with(body + "\r\n0\r\n\r\n"));
  }
}

// A socket pair whose server side takes `bytes` before it is full.
void give_room(const SocketPair& sockets, int bytes) {
  ::setsockopt(sockets.server.get(), SOL_SOCKET, SO_SNDBUF, &bytes, sizeof bytes);
}

TEST(ResponseChannel, ALargeBodyLeavesWithTheHeadFromTheAppsOwnMemory) {
  SocketPair sockets;
  give_room(sockets, 4 << 20);
  const std::string body(3 * ResponseChannel::direct_body_min, 'b');
  int wakes = 0;
  ResponseChannel channel({}, 1 << 20, [&] { ++wakes; });
  channel.send_directly_to(sockets.server.get(), ResponseChannel::DirectSends::large_bodies);
  channel.start("200 OK", {{"Content-Length", std::to_string(body.size())}});
  EXPECT_TRUE(channel.write(body, false));
  EXPECT_EQ(without_date(sockets.received()),
            "HTTP/1.1 200 OK\r\nServer: hornbeam\r\nContent-Length: " +
                std::to_string(body.size()) + "\r\n\r\n" + body);
  channel.finish();
  ResponseChannel::Batch batch;
  EXPECT_EQ(drain(channel, &batch), "");
  EXPECT_TRUE(batch.complete);
  EXPECT_EQ(channel.body_bytes(), body.size());
}

TEST(ResponseChannel, ALargeChunkKeepsItsFramingWhenSentDirectly) {
  SocketPair sockets;
  give_room(sockets, 4 << 20);
  const std::string body(ResponseChannel::direct_body_min, 'c');
  ResponseChannel channel({}, 1 << 20, [] {});
  channel.send_directly_to(sockets.server.get(), ResponseChannel::DirectSends::large_bodies);
  channel.start("200 OK", {});
  EXPECT_TRUE(channel.write(body, true));
  channel.finish();
  EXPECT_TRUE(sockets.received().ends_with("\r\n\r\n10000\r\n" + body + "\r\n"));
  EXPECT_EQ(drain(channel), "0\r\n\r\n");
}

TEST(ResponseChannel, AnEventLoopsSmallResponsesAndBodiesAfterTheIoThreadsTakeGoItsWay) {
  SocketPair sockets;
  give_room(sockets, 4 << 20);
  ResponseChannel channel({}, 1 << 20, [] {});
  channel.send_directly_to(sockets.server.get(), ResponseChannel::DirectSends::large_bodies);
  channel.start("200 OK", {});
  EXPECT_TRUE(channel.write("small", false));
  EXPECT_EQ(sockets.received(), "") << "an event loop's small writes wait for the I/O thread";
  EXPECT_FALSE(drain(channel).empty());  // the I/O thread may be writing these right now
  const std::string body(ResponseChannel::direct_body_min, 'd');
  EXPECT_TRUE(channel.write(body, false));
  channel.finish();
  EXPECT_EQ(sockets.received(), "");
  EXPECT_EQ(drain(channel), "10000\r\n" + body + "\r\n0\r\n\r\n");
}

}  // namespace
}  // namespace hornbeam::worker
