#include "worker/chunked_decoder.hpp"

#include <gtest/gtest.h>

namespace hornbeam::worker {
namespace {

using Outcome = ChunkedDecoder::Outcome;

struct Decoded {
  Outcome outcome;
  std::string body;
  std::size_t used;
  std::string why;
};

// Feeds `input` in pieces of `step` bytes (every split a network may make), with unbounded room.
Decoded decode(std::string_view input, std::size_t step = 1 << 20,
               ChunkedDecoder::Limits limits = {}) {
  ChunkedDecoder decoder(limits);
  Decoded result{Outcome::more, "", 0, ""};
  while (result.used < input.size() && decoder.outcome() == Outcome::more) {
    const auto piece = input.substr(result.used, step);
    result.used += decoder.decode(piece, result.body, 1 << 30);
  }
  result.outcome = decoder.outcome();
  result.why = decoder.why();
  return result;
}

TEST(ChunkedDecoder, DecodesABodyWhateverTheSplits) {
  const std::string body =
      "5\r\nhello\r\n6;name=value;q=\"a \\\"b\\\"\"\r\n world\r\n000\r\nX-Checksum: "
      "abc\r\n\r\nNEXT";
  for (std::size_t step = 1; step <= body.size(); ++step) {
    const auto decoded = decode(body, step);
    ASSERT_EQ(decoded.outcome, Outcome::done) << "step " << step << ": " << decoded.why;
    EXPECT_EQ(decoded.body, "hello world");
    EXPECT_EQ(decoded.used, body.size() - 4) << "the next request's bytes are left";
  }
}

TEST(ChunkedDecoder, HexSizesLeadingZerosAndExtensionWhitespace) {
  EXPECT_EQ(decode("0000A\r\n0123456789\r\n0\r\n\r\n").body, "0123456789");
  EXPECT_EQ(decode("a ; x = y\r\n0123456789\r\n0\r\n\r\n").outcome, Outcome::done);
  EXPECT_EQ(decode("0\r\n\r\n").outcome, Outcome::done);
}

TEST(ChunkedDecoder, RoomBoundsTheDataOfOneCall) {
  ChunkedDecoder decoder({});
  const std::string input = "a\r\n0123456789\r\n0\r\n\r\n";
  std::string out;
  std::size_t used = decoder.decode(input, out, 4);
  EXPECT_EQ(out, "0123");
  EXPECT_EQ(decoder.outcome(), Outcome::more);
  used += decoder.decode(std::string_view(input).substr(used), out, 100);
  EXPECT_EQ(out, "0123456789");
  EXPECT_EQ(decoder.outcome(), Outcome::done);
  EXPECT_EQ(used, input.size());
}

TEST(ChunkedDecoder, RefusesWhatTheGrammarDoesNotAllow) {
  const std::pair<const char*, const char*> cases[] = {
      {"zz\r\nhello\r\n0\r\n\r\n", "chunk size is not hexadecimal"},
      {"0x5\r\nhello\r\n0\r\n\r\n", "bad chunk size or extension"},
      {"+5\r\nhello\r\n0\r\n\r\n", "chunk size is not hexadecimal"},
      {"-5\r\nhello\r\n0\r\n\r\n", "chunk size is not hexadecimal"},
      {"10000000000000005\r\nhello\r\n0\r\n\r\n", "chunk size over 64 bits"},
      {"5\r\nhelloEXTRA\r\n0\r\n\r\n", "chunk data longer than its chunk size"},
      {"5\nhello\r\n0\r\n\r\n", "bare LF in the chunked body"},
      {"5\r\nhello\n0\r\n\r\n", "bare LF in the chunked body"},
      {"5\r\nhello0\r\n\r\n", "chunk data longer than its chunk size"},
      {"5\r\rhello\r\n0\r\n\r\n", "bare CR in the chunked body"},
      {"5;=x\r\nhello\r\n0\r\n\r\n", "bad chunk size or extension"},
      {"5;a=\"unterminated\r\nhello\r\n0\r\n\r\n", "bad chunk size or extension"},
      {"5;a=\"bad\x01\"\r\nhello\r\n0\r\n\r\n", "bad chunk size or extension"},
      {"5 \r\nhello\r\n0\r\n\r\n", "bad chunk size or extension"},
      {"\r\nhello\r\n0\r\n\r\n", "chunk size is not hexadecimal"},
      {"0\r\nContent-Length: 5\r\n\r\n", "forbidden trailer field Content-Length"},
      {"0\r\nhost: elsewhere\r\n\r\n", "forbidden trailer field host"},
      {"0\r\nTransfer-Encoding: chunked\r\n\r\n", "forbidden trailer field Transfer-Encoding"},
      {"0\r\nX-Trailer: 1\n\r\n", "bare LF in the chunked body"},
      {"0\r\nX-Trailer: 1\r\n folded\r\n\r\n", "obsolete line folding in a trailer"},
      {"0\r\nNo colon\r\n\r\n", "invalid trailer field"},
      {"0\r\nX: a\x7f\r\n\r\n", "control character in a trailer field value"},
  };
  for (const auto& [input, why] : cases) {
    for (const std::size_t step : {std::size_t{1}, std::size_t{1} << 20}) {
      const auto decoded = decode(input, step);
      EXPECT_EQ(decoded.outcome, Outcome::malformed) << input;
      EXPECT_EQ(decoded.why, why) << input;
    }
  }
}

TEST(ChunkedDecoder, LinesHaveLimits) {
  ChunkedDecoder::Limits limits;
  limits.max_chunk_line = 16;
  limits.max_trailer_line = 16;
  limits.max_trailer_fields = 1;
  EXPECT_EQ(decode("5;a=0123456789012\r\nhello\r\n0\r\n\r\n", 3, limits).why,
            "chunk size line longer than 16");
  EXPECT_EQ(decode("0\r\nX: 0123456789012\r\n\r\n", 3, limits).why, "trailer field longer than 16");
  EXPECT_EQ(decode("0\r\nA: 1\r\nB: 2\r\n\r\n", 3, limits).why,
            "more trailer fields than limits.max_headers");
}

TEST(ChunkedDecoder, TooLargeAsSoonAsAChunkSizeSaysSo) {
  ChunkedDecoder::Limits limits;
  limits.max_body_size = 8;
  EXPECT_EQ(decode("5\r\nhello\r\n3\r\nabc\r\n0\r\n\r\n", 1, limits).outcome, Outcome::done);
  const auto over = decode("5\r\nhello\r\n4\r\n", 1, limits);  // the data never needs to come
  EXPECT_EQ(over.outcome, Outcome::too_large);
  EXPECT_EQ(over.body, "hello");
  EXPECT_EQ(decode("ffffffffffffffff\r\n", 1, limits).outcome, Outcome::too_large);
}

}  // namespace
}  // namespace hornbeam::worker
