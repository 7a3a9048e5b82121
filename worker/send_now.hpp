#pragma once

// One non-blocking send(2) loop, shared by the I/O thread and the contexts' direct sends.

#include <cstddef>
#include <initializer_list>
#include <optional>
#include <string_view>

namespace hornbeam::worker {

// Sends what the socket `fd` takes now, without waiting (MSG_DONTWAIT, no SIGPIPE): the number
// of bytes sent (fewer than asked when its buffer is full), or nothing on an error (the peer
// is gone).
std::optional<std::size_t> send_now(int fd, std::string_view bytes);
// The same for up to `max_pieces` pieces sent one after the other, in one sendmsg(2) each
// time (a response's head and body leave in one system call, straight from where they are).
constexpr std::size_t max_pieces = 4;
std::optional<std::size_t> send_now(int fd, std::initializer_list<std::string_view> pieces);

}  // namespace hornbeam::worker
