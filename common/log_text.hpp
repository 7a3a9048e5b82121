#pragma once

// Text from outside (request bytes, an app's traceback) made safe for a log line: a log must
// stay valid UTF-8 (and its JSON valid JSON) whatever a client sends, and must never carry a
// terminal escape sequence or a forged line.

#include <string>
#include <string_view>

namespace hornbeam::logging {

// For a value quoted in a log line (a request target, a header): printable ASCII stays, every
// other byte becomes \xNN, and `"` and `\` are escaped, so the value cannot end its quotes.
std::string escape_for_log(std::string_view text);

// For a whole message: valid UTF-8 stays (tracebacks name files and values in any script), and
// so do newlines and tabs (tracebacks span lines); every other control character (C1's U+0080
// to U+009F included), and each byte of an invalid UTF-8 sequence, becomes \xNN.
std::string sanitize_log_text(std::string_view text);

// Whether sanitize_log_text would change nothing (the common case, checked without copying).
bool is_clean_log_text(std::string_view text);

}  // namespace hornbeam::logging
