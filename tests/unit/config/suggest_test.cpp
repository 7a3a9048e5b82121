#include "config/suggest.hpp"

#include <gtest/gtest.h>

namespace hornbeam::config {
namespace {

const std::vector<std::string> keys = {"workers", "worker_class", "timeout", "keepalive", "bind"};

TEST(Suggest, TyposFindTheirKey) {
  EXPECT_EQ(closest("wokers", keys), "workers");
  EXPECT_EQ(closest("wrokers", keys), "workers");  // a swapped pair is one edit
  EXPECT_EQ(closest("Workers", keys), "workers");
  EXPECT_EQ(closest("timout", keys), "timeout");
  EXPECT_EQ(closest("bnid", keys), "bind");
}

TEST(Suggest, NothingCloseMeansNoSuggestion) {
  EXPECT_FALSE(closest("zzzzzzzz", keys).has_value());
  EXPECT_EQ(did_you_mean("zzzzzzzz", keys), "");
  EXPECT_EQ(did_you_mean("keepalve", keys), " (did you mean `keepalive`?)");
}

}  // namespace
}  // namespace hornbeam::config
