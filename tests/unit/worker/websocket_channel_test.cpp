// The hand-over of a WebSocket connection between the I/O thread and the app's event loop.

#include "worker/websocket_channel.hpp"

#include <gtest/gtest.h>

namespace hornbeam::worker {
namespace {

TEST(WebSocketChannel, ActionsReachTheIoSideInOrder) {
  WebSocketChannel channel(1 << 20);
  int io_woken = 0;
  channel.set_io_waker([&] { ++io_woken; });
  channel.accept("chat", {{"X-A", "1"}});
  EXPECT_TRUE(channel.send({false, "hello"}));
  channel.close({4000, "bye"});
  EXPECT_FALSE(channel.send({false, "after close"}));
  EXPECT_EQ(io_woken, 3);
  auto accept = channel.next_action();
  ASSERT_TRUE(accept && std::holds_alternative<WebSocketAccept>(*accept));
  EXPECT_EQ(std::get<WebSocketAccept>(*accept).subprotocol, "chat");
  auto message = channel.next_action();
  ASSERT_TRUE(message && std::holds_alternative<WebSocketMessage>(*message));
  EXPECT_EQ(std::get<WebSocketMessage>(*message).data, "hello");
  auto close = channel.next_action();
  ASSERT_TRUE(close && std::holds_alternative<WebSocketClose>(*close));
  EXPECT_EQ(std::get<WebSocketClose>(*close).code, 4000);
  EXPECT_FALSE(channel.next_action());
}

TEST(WebSocketChannel, SendWaitsForRoomOnceTheQueueIsFull) {
  WebSocketChannel channel(10);
  int loop_woken = 0;
  channel.set_waker([&] { ++loop_woken; });
  EXPECT_TRUE(channel.send({true, std::string(16, 'x')}));
  EXPECT_FALSE(channel.has_room_or_notify());
  channel.next_action();  // the I/O side took it
  EXPECT_EQ(loop_woken, 1);
  EXPECT_TRUE(channel.has_room_or_notify());
}

TEST(WebSocketChannel, ReadingPausesWhileTheAppDoesNotTakeMessages) {
  WebSocketChannel channel(10);
  int io_woken = 0;
  channel.set_io_waker([&] { ++io_woken; });
  channel.push_incoming({false, std::string(16, 'x')});
  EXPECT_TRUE(channel.pause_if_full());
  EXPECT_EQ(channel.receive()->data.size(), 16u);
  EXPECT_EQ(io_woken, 1);  // room again: the I/O side resumes reading
  EXPECT_FALSE(channel.pause_if_full());
}

TEST(WebSocketChannel, TheEndComesAfterTheMessagesBeforeIt) {
  WebSocketChannel channel(1 << 20);
  channel.push_incoming({false, "last words"});
  channel.finish({1001, "going away"});
  EXPECT_FALSE(channel.ended());
  EXPECT_EQ(channel.receive()->data, "last words");
  ASSERT_TRUE(channel.ended());
  EXPECT_EQ(channel.ended()->code, 1001);
  EXPECT_FALSE(channel.send({false, "too late"}));
  EXPECT_TRUE(channel.has_room_or_notify());  // nothing to wait for on a closed connection
}

}  // namespace
}  // namespace hornbeam::worker
