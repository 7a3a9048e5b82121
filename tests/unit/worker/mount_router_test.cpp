#include "worker/mount_router.hpp"

#include <gtest/gtest.h>

namespace hornbeam::worker {
namespace {

TEST(MountRouter, LongestPrefixOnSegmentBoundaries) {
  const MountRouter router({"/", "/api", "/api/v2", "/static"});
  EXPECT_EQ(router.route("/"), 0);
  EXPECT_EQ(router.route("/index.html"), 0);
  EXPECT_EQ(router.route("/api"), 1);
  EXPECT_EQ(router.route("/api/"), 1);
  EXPECT_EQ(router.route("/api/users"), 1);
  EXPECT_EQ(router.route("/apiv2"), 0);  // not on a segment boundary
  EXPECT_EQ(router.route("/api/v2"), 2);
  EXPECT_EQ(router.route("/api/v2/x"), 2);
  EXPECT_EQ(router.route("/api/v20"), 1);
  EXPECT_EQ(router.route("/static/a.css"), 3);
  EXPECT_EQ(router.route("*"), 0);  // OPTIONS *: only the root takes it
}

TEST(MountRouter, RawPathsAreMatchedAsSent) {
  const MountRouter router({"/", "/api"});
  EXPECT_EQ(router.route("/api%2Fx"), 0);  // %2F is not a separator
  EXPECT_EQ(router.route("/%61pi/x"), 0);  // nor is an escaped letter the letter
}

TEST(MountRouter, WithoutARootSomePathsHaveNoApp) {
  const MountRouter router({"/api", "/admin"});
  EXPECT_EQ(router.route("/"), -1);
  EXPECT_EQ(router.route("/other"), -1);
  EXPECT_EQ(router.route("/admin/x"), 1);
}

}  // namespace
}  // namespace hornbeam::worker
