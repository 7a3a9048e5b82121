#include "worker/request_head_check.hpp"

#include <gtest/gtest.h>

namespace hornbeam::worker {
namespace {

int status_of(std::string_view head, config::Limits limits = {}) {
  return check_request_head(head, limits).status;
}

TEST(RequestHeadCheck, AcceptsOrdinaryRequests) {
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
  EXPECT_EQ(status_of("POST /a?b=c HTTP/1.0\r\nContent-Length: 3\r\n\r\n"), 0);
  EXPECT_EQ(
      status_of("PUT /x HTTP/1.1\r\nTransfer-Encoding: Chunked\r\nX-Obs: caf\xc3\xa9\r\n\r\n"), 0);
  EXPECT_EQ(status_of("GET http://h/p HTTP/1.1\r\nHost: h\r\nX-Empty:\r\n\r\n"), 0);
}

TEST(RequestHeadCheck, RequestLine) {
  EXPECT_EQ(status_of("G(T / HTTP/1.1\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET / HTTP/2.0\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET / http/1.1\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET /\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET  / HTTP/1.1\r\n\r\n"), 400);  // empty target between two spaces
  EXPECT_EQ(status_of("GET /a\x01 HTTP/1.1\r\n\r\n"), 400);
}

TEST(RequestHeadCheck, Limits) {
  config::Limits limits;
  limits.max_request_line = 64;
  limits.max_header_size = 32;
  limits.max_headers = 2;
  EXPECT_EQ(status_of("GET /" + std::string(100, 'a') + " HTTP/1.1\r\n\r\n", limits), 414);
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nX: " + std::string(40, 'b') + "\r\n\r\n", limits), 431);
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", limits), 431);
  EXPECT_EQ(check_request_head("GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", limits).reason,
            "more header fields than limits.max_headers");
}

TEST(RequestHeadCheck, AmbiguousFraming) {
  EXPECT_EQ(status_of("POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"),
            400);
  EXPECT_EQ(status_of("POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n"), 400);
  EXPECT_EQ(status_of("POST / HTTP/1.1\r\nContent-Length: 1, 1\r\n\r\n"), 400);
  EXPECT_EQ(status_of("POST / HTTP/1.1\r\nContent-Length: +1\r\n\r\n"), 400);
  EXPECT_EQ(status_of("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n"), 400);
  EXPECT_EQ(status_of("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n"), 400);
  EXPECT_EQ(
      status_of(
          "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"),
      400);
  EXPECT_EQ(status_of("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"), 400);
}

TEST(RequestHeadCheck, TargetForms) {
  EXPECT_EQ(status_of("OPTIONS * HTTP/1.1\r\n\r\n"), 0);
  EXPECT_EQ(status_of("GET * HTTP/1.1\r\n\r\n"), 400);
  EXPECT_EQ(status_of("CONNECT example.com:443 HTTP/1.1\r\n\r\n"), 0);
  EXPECT_EQ(status_of("CONNECT [::1]:443 HTTP/1.1\r\n\r\n"), 0);
  EXPECT_EQ(status_of("GET example.com:443 HTTP/1.1\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET foo/bar HTTP/1.1\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET http://user@host:8080/p?q HTTP/1.1\r\n\r\n"), 0);
  EXPECT_EQ(status_of("PUT s://]ufd/: HTTP/1.1\r\n\r\n"), 400);
  EXPECT_EQ(status_of("get / HTTP/1.1\r\n\r\n"), 400);
  EXPECT_EQ(status_of("-bl /foo HTTP/1.1\r\n\r\n"), 400);
}

TEST(RequestHeadCheck, TransferCodingLists) {
  EXPECT_EQ(status_of("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"), 0);
  EXPECT_EQ(
      status_of("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"),
      0);
  EXPECT_EQ(status_of("POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"), 400);
  EXPECT_EQ(status_of("POST / HTTP/1.1\r\nTransfer-Encoding: chunked, chunked\r\n\r\n"), 400);
  EXPECT_EQ(status_of("POST / HTTP/1.1\r\nTransfer-Encoding: identity\r\n\r\n"), 400);
  EXPECT_EQ(status_of("POST / HTTP/1.1\r\nTransfer-Encoding: ,chunked\r\n\r\n"), 400);
}

TEST(RequestHeadCheck, SingletonFields) {
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nContent-Type: a\r\ncontent-type: b\r\n\r\n"), 400);
}

TEST(RequestHeadCheck, FieldSizeCountsTheCrlfLikeGunicorn) {
  config::Limits limits;
  limits.max_header_size = 10;
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nX: 12345\r\n\r\n", limits), 0);  // 8 + CRLF = 10
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nX: 123456\r\n\r\n", limits), 431);
}

TEST(RequestHeadCheck, TransferCodingsAreTokens) {
  EXPECT_EQ(status_of("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"), 0);
  EXPECT_EQ(status_of("POST / HTTP/1.1\r\nTransfer-Encoding: identit{, chunked\r\n\r\n"), 400);
  EXPECT_EQ(status_of("POST / HTTP/1.1\r\nTransfer-Encoding: gzip;q=1, chunked\r\n\r\n"), 400);
  EXPECT_EQ(status_of("POST / HTTP/1.1\r\nTransfer-Encoding: \"chunked\"\r\n\r\n"), 400);
  EXPECT_EQ(status_of("POST / HTTP/1.1\r\nTransfer-Encoding:\r\n\r\n"), 400);  // empty: not none
  EXPECT_EQ(
      status_of("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding:\r\n\r\n"),
      400);
}

TEST(RequestHeadCheck, FieldSyntax) {
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n"), 400);  // obs-fold
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\n: v\r\n\r\n"), 400);         // empty name
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nNo colon\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nX Y: v\r\n\r\n"), 400);   // space in name
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nX: a\rb\r\n\r\n"), 400);  // bare CR
  EXPECT_EQ(status_of("GET / HTTP/1.1\nX: a\n\n"), 400);           // bare LF
  EXPECT_EQ(status_of(std::string("GET / HTTP/1.1\r\nX: a\0b\r\n\r\n", 27)), 400);
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nX: a\x7f\r\n\r\n"), 400);
}

TEST(FindBareLf, FindsTheFirstLfWithoutItsCr) {
  constexpr auto npos = std::string_view::npos;
  EXPECT_EQ(find_bare_lf("GET / HTTP/1.1\r\nHost: x\r\n", 0), npos);
  EXPECT_EQ(find_bare_lf("GET / HTTP/1.1\nHost: x\n\n", 0), 14u);
  EXPECT_EQ(find_bare_lf("GET / HTTP/1.1\r\nHost: x\n", 0), 23u);
  EXPECT_EQ(find_bare_lf("\n", 0), 0u);
  // From a resumed scan: the CR before `from` still counts.
  EXPECT_EQ(find_bare_lf("GET / HTTP/1.1\r\n", 15), npos);
  EXPECT_EQ(find_bare_lf("GET / HTTP/1.1\nX", 15), npos);  // before `from`: already judged
}

TEST(HeadFields, KeepTheOrderSentAndTrimWhitespace) {
  const auto fields = head_fields(
      "GET / HTTP/1.1\r\nHost: a\r\nX-Repeat: one\r\nAccept:\t*/* \r\nX-Repeat:two\r\n\r\n");
  ASSERT_EQ(fields.size(), 4u);
  EXPECT_EQ(fields[0].name, "Host");
  EXPECT_EQ(fields[1].value, "one");
  EXPECT_EQ(fields[2].name, "Accept");
  EXPECT_EQ(fields[2].value, "*/*");
  EXPECT_EQ(fields[3].name, "X-Repeat");
  EXPECT_EQ(fields[3].value, "two");
  EXPECT_TRUE(head_fields("GET / HTTP/1.1\r\n\r\n").empty());
}

// The session keeps one vector for every request of a connection: the check leaves only this
// head's fields in it.
TEST(HeadFields, TheCheckReplacesWhatTheVectorHeld) {
  const config::Limits limits;
  std::vector<HttpHeader> fields{{"Stale", "from the last request"}};
  ASSERT_EQ(check_request_head("GET / HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n\r\n", limits, &fields)
                .status,
            0);
  ASSERT_EQ(fields.size(), 2u);
  EXPECT_EQ(fields[0].name, "Host");
  EXPECT_EQ(fields[1].value, "*/*");
  ASSERT_EQ(check_request_head("GET / HTTP/1.1\r\n\r\n", limits, &fields).status, 0);
  EXPECT_TRUE(fields.empty());
}

// A connection's next head is read into the strings of its last one: their memory is reused.
TEST(HeadFields, TheCheckAssignsIntoTheFieldsItFinds) {
  const config::Limits limits;
  const std::string agent =
      "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
  std::vector<HttpHeader> fields;
  ASSERT_EQ(check_request_head("GET / HTTP/1.1\r\nUser-Agent: " + agent + "\r\nAccept: */*\r\n\r\n",
                               limits, &fields)
                .status,
            0);
  const char* memory = fields[0].value.data();
  // A value no longer than the last one fits in its memory.
  const std::string shorter = agent.substr(0, 40);
  ASSERT_EQ(
      check_request_head("GET /2 HTTP/1.1\r\nUser-Agent: " + shorter + "\r\n\r\n", limits, &fields)
          .status,
      0);
  ASSERT_EQ(fields.size(), 1u);
  EXPECT_EQ(fields[0].value, shorter);
  EXPECT_EQ(fields[0].value.data(), memory);
  // A refused head leaves nothing of the last head's (as before: the fields read up to the
  // refusal are this head's).
  EXPECT_EQ(check_request_head("GET / HTTP/1.1\r\nA: 1\r\nB C: 2\r\n\r\n", limits, &fields).status,
            400);
  ASSERT_EQ(fields.size(), 1u);
  EXPECT_EQ(fields[0].name, "A");
}

TEST(RequestLine, SplitsAnAcceptedHeadsFirstLine) {
  const auto line = request_line_of("OPTIONS * HTTP/1.0\r\nHost: a\r\n\r\n");
  EXPECT_EQ(line.method, "OPTIONS");
  EXPECT_EQ(line.target, "*");
  EXPECT_EQ(line.version, 10);
  const auto absolute = request_line_of("GET http://a.example/x?y=1 HTTP/1.1\r\n\r\n");
  EXPECT_EQ(absolute.method, "GET");
  EXPECT_EQ(absolute.target, "http://a.example/x?y=1");
  EXPECT_EQ(absolute.version, 11);
}

std::vector<HttpHeader> connection(std::initializer_list<std::string> values) {
  std::vector<HttpHeader> fields{{"Host", "a"}};
  for (const auto& value : values) fields.push_back({"connection", value});
  return fields;
}

TEST(KeepAlive, HttpOneOneKeepsUnlessAConnectionFieldListsClose) {
  EXPECT_TRUE(wants_keep_alive(11, connection({})));
  EXPECT_TRUE(wants_keep_alive(11, connection({"keep-alive"})));
  EXPECT_TRUE(wants_keep_alive(11, connection({"closed, upgrade"})));  // a token, not a prefix
  EXPECT_FALSE(wants_keep_alive(11, connection({"close"})));
  EXPECT_FALSE(wants_keep_alive(11, connection({"Upgrade ,  CLOSE "})));
  EXPECT_FALSE(wants_keep_alive(11, connection({"te", "close"})));  // every field counts
}

TEST(KeepAlive, HttpOneZeroKeepsOnlyWhenAskedAndNotClosed) {
  EXPECT_FALSE(wants_keep_alive(10, connection({})));
  EXPECT_TRUE(wants_keep_alive(10, connection({"Keep-Alive"})));
  EXPECT_TRUE(wants_keep_alive(10, connection({"foo", "keep-alive"})));
  EXPECT_FALSE(wants_keep_alive(10, connection({"keep-alive", "close"})));  // close wins
}

TEST(RequestHeadCheck, ConnectionFieldsMustBeListsOfTokens) {
  const config::Limits limits;
  const auto status = [&](const std::string& field) {
    return check_request_head("GET / HTTP/1.1\r\nHost: a\r\n" + field + "\r\n\r\n", limits).status;
  };
  EXPECT_EQ(status("Connection: keep-alive, Upgrade"), 0);
  EXPECT_EQ(status("Connection: , close ,"), 0);  // empty elements are allowed
  EXPECT_EQ(status("Connection:"), 0);
  EXPECT_EQ(status("Connection: keep alive"), 400);
  EXPECT_EQ(status("connection: close;q=1"), 400);
  EXPECT_EQ(status("Proxy-Connection: \"close\""), 400);
  EXPECT_EQ(status("X-Connection: keep alive"), 0);  // only those two fields are lists
}

TEST(KeepAlive, ProxyConnectionCountsAsBeastsParserCountsIt) {
  EXPECT_FALSE(wants_keep_alive(11, {{"Proxy-Connection", "close"}}));
  EXPECT_TRUE(wants_keep_alive(10, {{"proxy-connection", "keep-alive"}}));
}

TEST(PlainBodiless, OnlyWithoutBodyFramingUpgradeOrExpect) {
  EXPECT_TRUE(is_plain_bodiless({{"Host", "a"}, {"Accept", "*/*"}, {"Connection", "close"}}));
  EXPECT_TRUE(is_plain_bodiless({}));
  for (const char* name : {"content-length", "Transfer-Encoding", "UPGRADE", "Expect"}) {
    EXPECT_FALSE(is_plain_bodiless({{"Host", "a"}, {name, "x"}})) << name;
  }
}

}  // namespace
}  // namespace hornbeam::worker
