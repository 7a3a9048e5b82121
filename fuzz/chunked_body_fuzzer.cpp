// The chunked body decoder, fed as the network would: the input split at places the input
// chooses, with little room for data at a time. Besides crashes, it checks that the splits
// change nothing: the outcome, the reason and the body are those of one decode of the whole.

#include "worker/chunked_decoder.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

using hornbeam::worker::ChunkedDecoder;

namespace {

ChunkedDecoder::Limits limits() {
  ChunkedDecoder::Limits limits;
  limits.max_body_size = 1 << 16;
  limits.max_chunk_line = 256;
  limits.max_trailer_line = 256;
  limits.max_trailer_fields = 8;
  return limits;
}

struct Result {
  ChunkedDecoder::Outcome outcome;
  std::string why;
  std::string body;
  std::size_t used = 0;
};

Result decode_in_pieces(std::string_view body, std::string_view splits) {
  ChunkedDecoder decoder(limits());
  Result result;
  std::size_t next_split = 0;
  while (result.used < body.size() && decoder.outcome() == ChunkedDecoder::Outcome::more) {
    std::size_t piece = body.size() - result.used;
    std::size_t room = 1 << 20;
    if (next_split < splits.size()) {
      const auto choice = static_cast<unsigned char>(splits[next_split++]);
      piece = std::min<std::size_t>(piece, 1 + (choice & 0x3f));
      room = 1 + (choice >> 6) * 7;
    }
    const auto used = decoder.decode(body.substr(result.used, piece), result.body, room);
    if (used == 0 && room >= piece && decoder.outcome() == ChunkedDecoder::Outcome::more)
      std::abort();  // no progress with room to spare: it would spin for ever
    result.used += used;
  }
  result.outcome = decoder.outcome();
  result.why = decoder.why();
  return result;
}

}  // namespace

// Input: [splits length][splits][body].
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::size_t split_count =
      std::min<std::size_t>(static_cast<unsigned char>(input[0]), size - 1);
  const std::string_view splits = input.substr(1, split_count);
  const std::string_view body = input.substr(1 + split_count);

  const Result whole = decode_in_pieces(body, {});
  const Result pieces = decode_in_pieces(body, splits);
  if (whole.outcome != pieces.outcome || whole.why != pieces.why) std::abort();
  if (whole.body != pieces.body) std::abort();
  if (whole.outcome == ChunkedDecoder::Outcome::done && whole.used != pieces.used) std::abort();
  if (whole.body.size() > limits().max_body_size) std::abort();
  return 0;
}
