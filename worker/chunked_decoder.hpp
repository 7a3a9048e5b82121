#pragma once

// RFC 9112 §7.1's chunked transfer coding, decoded strictly: a request body follows the
// grammar to the letter or is refused, never guessed at. Beast's parser was lenient where it
// matters: it waited for the end of a chunk extension's quoted string across lines, and for a
// trailer section whose lines ended in a bare LF, so such a client held its connection (and a
// WSGI context reading the body) for ever.
//
// Incremental and allocation-light: feed it bytes as they arrive; it keeps what it needs of a
// line that is split across reads. Trailer fields are checked (syntax, forbidden names) and
// dropped: the adapters do not hand request trailers to apps.

#include <cstdint>
#include <string>
#include <string_view>

namespace hornbeam::worker {

class ChunkedDecoder {
 public:
  struct Limits {
    std::uint64_t max_body_size = 0;      // 0: none; beyond it, too_large (413)
    std::size_t max_chunk_line = 4096;    // a chunk-size line with its extensions, CRLF included
    std::size_t max_trailer_line = 8190;  // a trailer field line, CRLF included
    std::size_t max_trailer_fields = 100;
  };
  enum class Outcome {
    more,       // needs more input (or more room for data)
    done,       // the body ended: input after what decode() used belongs to the next request
    malformed,  // why() says what
    too_large,  // over max_body_size
  };

  explicit ChunkedDecoder(Limits limits) : limits_(limits) {}

  // Decodes from `input`, appending at most `room` bytes of body data to `out`; returns how
  // many bytes of `input` it used. It stops early only at the end of the body, on an error, or
  // when `room` is used up (then call again with the rest).
  std::size_t decode(std::string_view input, std::string& out, std::size_t room);

  Outcome outcome() const { return outcome_; }
  const std::string& why() const { return why_; }
  std::uint64_t body_size() const { return body_size_; }

 private:
  enum class State { size_line, data, data_end, trailer_line, finished };

  // Collects a line (up to its LF) into line_; true when it is complete.
  bool collect_line(std::string_view input, std::size_t& at, std::size_t limit, const char* what);
  void end_of_line();
  void size_line(std::string_view line);
  void trailer_line(std::string_view line);
  void fail(Outcome outcome, std::string why);

  Limits limits_;
  State state_ = State::size_line;
  Outcome outcome_ = Outcome::more;
  std::string why_;
  std::string line_;  // the line being collected, with its CR and LF
  std::uint64_t chunk_left_ = 0;
  std::uint64_t body_size_ = 0;
  std::size_t trailer_fields_ = 0;
};

}  // namespace hornbeam::worker
