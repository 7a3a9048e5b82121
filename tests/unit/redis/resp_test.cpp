#include "redis/resp.hpp"

#include <gtest/gtest.h>

#include <stdexcept>

namespace hornbeam::redis {
namespace {

TEST(RespCommand, IsAnArrayOfBulkStringsThatKeepsAnyByte) {
  std::string out;
  append_command(out, {"SET", std::string_view("k\0\r\n", 4), ""});
  EXPECT_EQ(out, std::string("*3\r\n$3\r\nSET\r\n$4\r\nk\0\r\n\r\n$0\r\n\r\n", 29));
}

TEST(RespParser, ReadsEveryKindOfReply) {
  ReplyParser parser;
  parser.feed(
      "+OK\r\n-ERR bad "
      "thing\r\n:-42\r\n$5\r\nhe\r\no\r\n$-1\r\n*-1\r\n*2\r\n:1\r\n*1\r\n$0\r\n\r\n");
  auto status = parser.next();
  ASSERT_TRUE(status);
  EXPECT_EQ(status->kind, Reply::Kind::status);
  EXPECT_EQ(status->text, "OK");
  auto error = parser.next();
  ASSERT_TRUE(error && error->is_error());
  EXPECT_EQ(error->error_code(), "ERR");
  EXPECT_EQ(error->text, "ERR bad thing");
  EXPECT_EQ(parser.next()->integer, -42);
  EXPECT_EQ(parser.next()->text, "he\r\no");  // a bulk string is read by its length
  EXPECT_TRUE(parser.next()->is_nil());
  EXPECT_TRUE(parser.next()->is_nil());
  auto array = parser.next();
  ASSERT_TRUE(array);
  ASSERT_EQ(array->elements.size(), 2u);
  EXPECT_EQ(array->elements[0].integer, 1);
  ASSERT_EQ(array->elements[1].elements.size(), 1u);
  EXPECT_EQ(array->elements[1].elements[0].kind, Reply::Kind::bulk);
  EXPECT_EQ(array->elements[1].elements[0].text, "");
  EXPECT_FALSE(parser.next());
}

TEST(RespParser, WaitsForTheRestOfAReplyCutAnywhere) {
  const std::string stream = "*3\r\n$3\r\nfoo\r\n:7\r\n*1\r\n+x\r\n:8\r\n";
  for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
    ReplyParser parser;
    parser.feed(stream.substr(0, cut));
    std::vector<Reply> replies;
    while (auto reply = parser.next()) replies.push_back(*reply);
    parser.feed(stream.substr(cut));
    while (auto reply = parser.next()) replies.push_back(*reply);
    ASSERT_EQ(replies.size(), 2u) << "cut at " << cut;
    EXPECT_EQ(replies[0].elements[0].text, "foo");
    EXPECT_EQ(replies[0].elements[2].elements[0].text, "x");
    EXPECT_EQ(replies[1].integer, 8);
  }
}

TEST(RespParser, WritesStraightIntoItsBuffer) {
  ReplyParser parser;
  const std::string_view bytes = ":12\r\n";
  std::copy(bytes.begin(), bytes.end(), parser.prepare(64));
  parser.commit(bytes.size());
  EXPECT_EQ(parser.next()->integer, 12);
  EXPECT_FALSE(parser.next());
}

// As a connection reads: room for 64 KiB at each read, pieces that cut replies anywhere, and
// what was consumed dropped between reads (the unconsumed rest moved to the front).
TEST(RespParser, KeepsTheUnconsumedRestAcrossLargeReads) {
  std::string stream;
  for (int i = 0; i < 3000; ++i) stream += ":" + std::to_string(i) + "\r\n$3\r\nabc\r\n";
  ReplyParser parser;
  std::vector<Reply> replies;
  for (std::size_t at = 0, piece = 1; at < stream.size();
       at += piece, piece = piece * 7 % 613 + 1) {
    const std::string_view bytes = std::string_view(stream).substr(at, piece);
    std::copy(bytes.begin(), bytes.end(), parser.prepare(64 * 1024));
    parser.commit(bytes.size());
    while (auto reply = parser.next()) replies.push_back(*reply);
  }
  ASSERT_EQ(replies.size(), 6000u);
  for (int i = 0; i < 3000; ++i) {
    EXPECT_EQ(replies[2 * i].integer, i);
    EXPECT_EQ(replies[2 * i + 1].text, "abc");
  }
}

TEST(RespParser, RefusesWhatIsNotResp) {
  ReplyParser garbage;
  garbage.feed("HTTP/1.1 200 OK\r\n");
  EXPECT_THROW(garbage.next(), std::runtime_error);
  ReplyParser bad_number;
  bad_number.feed(":12a\r\n");
  EXPECT_THROW(bad_number.next(), std::runtime_error);
  ReplyParser too_deep;
  too_deep.feed("*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n");
  EXPECT_THROW(too_deep.next(), std::runtime_error);
  ReplyParser huge;
  huge.feed("$99999999999\r\n");
  EXPECT_THROW(huge.next(), std::runtime_error);
}

}  // namespace
}  // namespace hornbeam::redis
