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

TEST(RequestTarget, AnAbsoluteFormTargetsAuthorityIsTheHost) {
  EXPECT_EQ(absolute_form_authority("http://example.com/p?q", false), "example.com");
  EXPECT_EQ(absolute_form_authority("https://user:pw@host:8443", false), "host:8443");
  EXPECT_EQ(absolute_form_authority("http://[::1]:81?q", false), "[::1]:81");
  EXPECT_EQ(absolute_form_authority("/p?http://x/", false), "");
  EXPECT_EQ(absolute_form_authority("*", false), "");
  EXPECT_EQ(absolute_form_authority("example.com:443", true), "");

  std::vector<HttpHeader> fields = {{"Accept", "*/*"}, {"HOST", "ignored"}};
  use_as_host(fields, "example.com:81");
  ASSERT_EQ(fields.size(), 2u);
  EXPECT_EQ(fields[1].name, "HOST");
  EXPECT_EQ(fields[1].value, "example.com:81");
  std::vector<HttpHeader> without_host = {{"Accept", "*/*"}};  // HTTP/1.0 may send none
  use_as_host(without_host, "example.com");
  ASSERT_EQ(without_host.size(), 2u);
  EXPECT_EQ(without_host[1].name, "Host");
  EXPECT_EQ(without_host[1].value, "example.com");
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
