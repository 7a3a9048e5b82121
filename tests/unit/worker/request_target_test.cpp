#include "worker/request_target.hpp"

#include <gtest/gtest.h>

namespace hornbeam::worker {
namespace {

using Parts = std::pair<std::string, std::string>;

Parts parts(const char* path, const char* query) { return {path, query}; }

Parts split(std::string_view target, bool connect = false) {
  HttpRequest request;
  split_target(target, connect, request);
  return {request.path, request.query};
}

TEST(RequestTarget, OriginForm) {
  EXPECT_EQ(split("/a/b?x=1&y"), parts("/a/b", "x=1&y"));
  EXPECT_EQ(split("/a%20b"), parts("/a%20b", ""));  // decoded later, by the adapter
  EXPECT_EQ(split("/p?q#frag"), parts("/p", "q"));
  EXPECT_EQ(split("/p#frag?notquery"), parts("/p", ""));
}

TEST(RequestTarget, AbsoluteForm) {
  EXPECT_EQ(split("http://example.com/p/q?z=9"), parts("/p/q", "z=9"));
  EXPECT_EQ(split("http://example.com"), parts("/", ""));
  EXPECT_EQ(split("http://example.com?q=1"), parts("/", "q=1"));
  EXPECT_EQ(split("https://user@host:8443/x"), parts("/x", ""));
}

TEST(RequestTarget, AsteriskAndAuthorityForms) {
  EXPECT_EQ(split("*"), parts("*", ""));
  EXPECT_EQ(split("example.com:443", true), parts("example.com:443", ""));
}

TEST(RequestTarget, ForbiddenTrailers) {
  for (const char* name : {"Host", "content-length", "Transfer-Encoding", "Authorization", "TE"}) {
    EXPECT_TRUE(is_forbidden_trailer(name)) << name;
  }
  for (const char* name : {"Content-Type", "Vary", "X-Checksum", "Server-Timing"}) {
    EXPECT_FALSE(is_forbidden_trailer(name)) << name;
  }
}

}  // namespace
}  // namespace hornbeam::worker
