#include "worker/response_channel.hpp"
#include "common/client_wait.hpp"
#include "common/http_text.hpp"
#include "common/io_thread_policy.hpp"
#include "worker/send_now.hpp"

#include "common/logging.hpp"
#include "common/version.hpp"

#include <spdlog/logger.h>

#include <algorithm>
#include <charconv>
#include <ctime>
#include <stdexcept>
#include <utility>

namespace hornbeam::worker {

const std::string& http_date() {
  thread_local std::time_t cached_second = 0;
  thread_local std::string cached;
  const std::time_t now = std::time(nullptr);
  if (now != cached_second) {
    std::tm utc{};
    gmtime_r(&now, &utc);
    char text[64];
    std::strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S GMT", &utc);
    cached = text;
    cached_second = now;
  }
  return cached;
}

ResponseChannel::ResponseChannel(ResponseFraming framing, std::size_t high_water,
                                 std::function<void()> wake_io)
    : framing_(framing), high_water_(high_water), wake_io_(std::move(wake_io)) {}

void ResponseChannel::start(std::string status, std::vector<HttpHeader> headers) {
  // Decided here, stored in r_ only under the lock and only if the I/O side has not answered
  // first (fail_unstarted): its status and its Connection: close must stand.
  Framed framed;
  std::from_chars(status.data(), status.data() + 3, framed.status);
  const bool has_body =
      framed.status >= 200 && framed.status != 204 && framed.status != 304;  // RFC 9110 §6.4.1
  framed.body_allowed = has_body && !framing_.head_request;
  for (const auto& header : headers) {
    if (iequals(header.name, "Content-Length")) {
      std::uint64_t length = 0;
      const auto [ptr, ec] =
          std::from_chars(header.value.data(), header.value.data() + header.value.size(), length);
      if (ec == std::errc{} && ptr == header.value.data() + header.value.size())
        framed.content_length = length;
    }
  }
  if (structured()) return start_structured(framed, std::move(headers));
  // Without a length: chunked on HTTP/1.1 (a HEAD announces what its GET would use), and on
  // HTTP/1.0 the end of the body is the close.
  const bool length_unknown = has_body && !framed.content_length;
  const bool announce_chunked = length_unknown && framing_.http_version >= 11;
  framed.chunked = announce_chunked && !framing_.head_request;
  framed.keep_alive = framing_.client_keep_alive && !(length_unknown && framing_.http_version < 11);

  const std::string_view connection = !framed.keep_alive            ? "Connection: close\r\n"
                                      : framing_.http_version == 10 ? "Connection: keep-alive\r\n"
                                                                    : "";
  const std::string_view chunked = announce_chunked ? "Transfer-Encoding: chunked\r\n" : "";
  const std::string_view date = http_date();  // once: both walks must see the same pieces
  // The head's pieces, walked twice: once for their total, once to copy them. The buffer then
  // grows at most once (a dozen appends, each checking and growing the capacity, cost about
  // twice the instructions).
  const auto pieces = [&](auto&& put) {
    put(framing_.http_version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ");
    put(status);
    put("\r\nServer: hornbeam\r\nDate: ");
    put(date);
    put("\r\n");
    for (const auto& header : headers) {
      put(header.name);
      put(": ");
      put(header.value);
      put("\r\n");
    }
    put(chunked);
    put(connection);
    put("\r\n");
  };
  std::size_t size = 0;
  pieces([&size](std::string_view piece) { size += piece.size(); });

  std::lock_guard lock(mutex_);
  if (r_.complete) return;  // answered without the app (a refused body): nothing more goes out
  store(framed);
  // No wake-up for the head alone: PEP 3333 sends it with the first body bytes or the end,
  // which wake the I/O thread once for both.
  // The head is written where the body will be appended, at least 256 bytes of it reserved:
  // a small body then costs no allocation. A reopened channel's buffer has that room already.
  std::string& out = tail();
  const std::size_t before = out.size();
  out.reserve(std::max<std::size_t>(before + size, 256));
  out.resize(before + size);
  char* at = out.data() + before;
  pieces([&at](std::string_view piece) { at = std::copy(piece.begin(), piece.end(), at); });
  if (framing_.keep_headers) r_.headers = std::move(headers);
}

// mutex_ held.
void ResponseChannel::store(const Framed& framed) {
  r_.started = true;
  r_.status = framed.status;
  r_.body_allowed = framed.body_allowed;
  r_.content_length = framed.content_length;
  r_.chunked = framed.chunked;
  r_.keep_alive = framed.keep_alive;
}

// HTTP/2 frames the body itself (DATA frames, END_STREAM): no chunking, and the connection
// outlives the response.
void ResponseChannel::start_structured(const Framed& framed, std::vector<HttpHeader> headers) {
  Head head{framed.status, {}};
  head.fields.reserve(headers.size() + 2);
  head.fields.push_back({"server", "hornbeam"});
  head.fields.push_back({"date", http_date()});
  std::lock_guard lock(mutex_);
  if (r_.complete) return;
  store(framed);
  if (framing_.keep_headers) {
    head.fields.insert(head.fields.end(), headers.begin(), headers.end());
    r_.headers = std::move(headers);
  } else {
    std::move(headers.begin(), headers.end(), std::back_inserter(head.fields));
  }
  r_.head = std::move(head);
}

bool ResponseChannel::write(std::string_view data, bool more_follows) {
  std::unique_lock lock(mutex_);
  // Wait while the client has not taken what is already here, then take this chunk whole:
  // a response given as one large bytes object frees its context at once, and a generator
  // is held back once `high_water_` bytes wait.
  wait_for_room(lock, [&] { return r_.pending.size() < high_water_ && !r_.file; });
  if (r_.closed || r_.complete) return false;
  return append_body(data, more_follows, lock);
}

ResponseSink::TryWrite ResponseChannel::try_write(std::string_view data, bool more_follows) {
  std::unique_lock lock(mutex_);
  if (r_.closed || r_.complete) return TryWrite::client_gone;
  if (r_.pending.size() >= high_water_ || r_.file) return TryWrite::no_room;  // write() would wait
  return append_body(data, more_follows, lock) ? TryWrite::written : TryWrite::client_gone;
}

bool ResponseChannel::write_nowait(std::string_view data) {
  std::unique_lock lock(mutex_);
  if (r_.closed || r_.complete) return false;
  return append_body(data, false, lock);
}

void ResponseChannel::return_fields(std::vector<HttpHeader> fields) {
  std::lock_guard lock(mutex_);
  r_.returned_fields = std::move(fields);
}

std::vector<HttpHeader> ResponseChannel::take_returned_fields() {
  std::lock_guard lock(mutex_);
  return std::move(r_.returned_fields);
}

bool ResponseChannel::has_room_or_notify() {
  std::lock_guard lock(mutex_);
  if (r_.closed || r_.complete || (r_.pending.size() < high_water_ && !r_.file)) return true;
  r_.wants_room = true;
  return false;
}

bool ResponseChannel::client_gone() const {
  std::lock_guard lock(mutex_);
  return r_.closed;
}

void ResponseChannel::set_waker(std::function<void()> waker) {
  std::lock_guard lock(mutex_);
  r_.waker = std::move(waker);
}

void ResponseChannel::watch_for_disconnect() {
  std::unique_lock lock(mutex_);
  if (r_.closed || r_.complete || r_.watch_requested) return;
  r_.watch_requested = true;
  wake(lock);  // a wake-up already on its way sees the request too
}

bool ResponseChannel::take_watch_request() {
  std::lock_guard lock(mutex_);
  return std::exchange(r_.watch_requested, false);
}

void ResponseChannel::call_waker() {
  std::function<void()> waker;
  {
    std::lock_guard lock(mutex_);
    waker = r_.waker;
  }
  if (waker) waker();
}

bool ResponseChannel::append_body(std::string_view data, bool more_follows,
                                  std::unique_lock<std::mutex>& lock) {
  if (!r_.body_allowed) return true;
  if (r_.content_length && r_.body_written + data.size() > *r_.content_length) {
    // More than the app announced: send what fits, then cut (never a wrong framing).
    data = data.substr(0, *r_.content_length - r_.body_written);
    r_.body_written += data.size();
    append(data, lock);
    logging::error_log().error("the app wrote more than its Content-Length; the response was cut");
    end(lock, true);
    return false;
  }
  if (data.empty()) return true;  // an empty chunk would end a chunked body
  r_.body_written += data.size();
  char size[24];
  std::string_view chunk_head, chunk_end;
  if (r_.chunked) {
    chunk_head = {
        size, static_cast<std::size_t>(std::snprintf(size, sizeof size, "%zx\r\n", data.size()))};
    chunk_end = "\r\n";
  }
  if (data.size() >= direct_body_min && send_directly_after_pending(chunk_head, data, chunk_end)) {
    append({}, lock, more_follows);  // the I/O thread takes the rest, if any, as usual
    return true;
  }
  if (r_.chunked) {
    const auto length = chunk_head.size();
    std::string chunk;
    chunk.reserve(length + data.size() + 2);
    chunk.append(chunk_head).append(data).append(chunk_end);
    append(chunk, lock, more_follows);
  } else {
    append(data, lock, more_follows);
  }
  return true;
}

bool ResponseChannel::send_file(UniqueFd file, std::uint64_t offset, std::uint64_t length) {
  std::unique_lock lock(mutex_);
  wait_for_room(lock, [&] { return r_.pending.empty() && !r_.file; });
  if (r_.closed || r_.complete) return false;
  queue_file(std::move(file), offset, length, lock);
  return true;
}

// The bytes already waiting go first (take() hands them out before the file).
bool ResponseChannel::send_file_nowait(UniqueFd file, std::uint64_t offset, std::uint64_t length) {
  std::unique_lock lock(mutex_);
  if (r_.closed || r_.complete) return false;
  if (r_.file) throw std::logic_error("send_file_nowait: a file is already queued");
  queue_file(std::move(file), offset, length, lock);
  return true;
}

void ResponseChannel::queue_file(UniqueFd file, std::uint64_t offset, std::uint64_t length,
                                 std::unique_lock<std::mutex>& lock) {
  if (!r_.body_allowed || length == 0) return;
  if (r_.content_length && r_.body_written + length > *r_.content_length) {
    length = *r_.content_length - r_.body_written;  // never more than announced
  }
  r_.body_written += length;
  if (r_.chunked) {
    char size[24];
    const int printed =
        std::snprintf(size, sizeof size, "%llx\r\n", static_cast<unsigned long long>(length));
    r_.pending.append(size, static_cast<std::size_t>(printed));
  }
  r_.file = FileSegment{std::move(file), offset, length};
  if (r_.chunked) r_.after_file = "\r\n";
  wake(lock);
}

void ResponseChannel::finish() {
  std::unique_lock lock(mutex_);
  if (r_.complete) return;
  if (r_.content_length && r_.body_allowed && r_.body_written < *r_.content_length) {
    logging::error_log().error(
        "the app wrote {} of its {} Content-Length bytes; the response was cut", r_.body_written,
        *r_.content_length);
    end(lock, true);
    return;
  }
  if (r_.chunked) tail() += "0\r\n\r\n";
  end(lock, false);
}

void ResponseChannel::finish_with_trailers(const std::vector<HttpHeader>& trailers) {
  std::unique_lock lock(mutex_);
  if (r_.complete) return;
  if (structured()) {
    if (r_.body_allowed) r_.trailers = trailers;
    lock.unlock();
    return finish();
  }
  if (!r_.chunked) {
    lock.unlock();
    return finish();
  }
  std::string last = "0\r\n";
  for (const auto& field : trailers) last += field.name + ": " + field.value + "\r\n";
  last += "\r\n";
  tail() += last;
  end(lock, false);
}

void ResponseChannel::set_failure_status(int status) {
  std::lock_guard lock(mutex_);
  r_.failure_status = status;
}

// HTTP/1: the whole response as bytes. HTTP/2: the body, the head going to r_.head (the mutex
// is not held: end_with() takes the head only if the answer is still the channel's to give).
std::string ResponseChannel::error_response(int status) {
  const std::string body = std::to_string(status) + " " + std::string(reason_phrase(status)) + "\n";
  if (structured()) return body;
  std::string response =
      (framing_.http_version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ") + std::to_string(status) + " " +
      std::string(reason_phrase(status)) + "\r\nServer: hornbeam\r\nDate: " + http_date() +
      "\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(body.size()) +
      // The server's only 426 refuses a WebSocket version: RFC 6455 §4.4 has it name its own.
      (status == 426 ? "\r\nSec-WebSocket-Version: 13" : "") + "\r\nConnection: close\r\n\r\n";
  if (!framing_.head_request) response += body;
  return response;
}

void ResponseChannel::fail(int status) {
  {
    std::lock_guard lock(mutex_);
    if (r_.failure_status) status = r_.failure_status;
  }
  const std::string response = error_response(status);
  std::unique_lock lock(mutex_);
  if (r_.complete) return;  // answered already (a refused body, a timed-out app)
  end_with(response, status, lock);
}

bool ResponseChannel::fail_unstarted(int status) {
  const std::string response = error_response(status);
  std::unique_lock lock(mutex_);
  if (r_.started || r_.complete) return false;
  end_with(response, status, lock);
  return true;
}

void ResponseChannel::end_with(const std::string& response, int status,
                               std::unique_lock<std::mutex>& lock) {
  r_.status = status;
  r_.keep_alive = false;
  if (structured()) {
    r_.head = Head{status,
                   {{"server", "hornbeam"},
                    {"date", http_date()},
                    {"content-type", "text/plain"},
                    {"content-length", std::to_string(response.size())}}};
    if (framing_.head_request) return end(lock, false);
  }
  r_.pending += response;
  end(lock, false);
}

void ResponseChannel::abort() {
  std::unique_lock lock(mutex_);
  if (r_.complete) return;
  end(lock, true);
}

ResponseChannel::Batch ResponseChannel::take() {
  Batch batch;
  bool room_freed = false;
  {
    std::lock_guard lock(mutex_);
    r_.woken = false;
    r_.handed_out = r_.handed_out || !r_.pending.empty() || r_.file;
    if (r_.head) {
      batch.head = std::move(r_.head);
      r_.head.reset();
    }
    if (!r_.pending.empty()) {
      batch.bytes.swap(r_.pending);
    } else if (r_.file) {
      batch.file = std::move(r_.file);
      r_.file.reset();
      r_.pending.swap(r_.after_file);
    }
    // Complete only when this batch is the last of the response.
    batch.complete = r_.complete && r_.pending.empty() && !r_.file && r_.after_file.empty();
    batch.keep_alive = r_.keep_alive && !r_.cut;
    batch.cut = r_.cut;
    batch.status = r_.status;
    if (batch.complete) batch.trailers = std::move(r_.trailers);
    if (r_.wants_room && r_.pending.size() < high_water_ && !r_.file) {
      r_.wants_room = false;
      room_freed = true;
    }
  }
  drained_.notify_all();
  if (room_freed) call_waker();
  return batch;
}

void ResponseChannel::close() {
  {
    std::lock_guard lock(mutex_);
    if (r_.closed) return;
    r_.closed = true;
    r_.direct = nullptr;
  }
  drained_.notify_all();
  call_waker();
}

void ResponseChannel::reopen(ResponseFraming framing, std::string buffer) {
  std::lock_guard lock(mutex_);
  if (buffer.capacity() > r_.pending.capacity() && buffer.capacity() <= reused_buffer_limit)
    r_.pending = std::move(buffer);
  r_.reset();
  framing_ = framing;
}

// Member by member rather than `*this = Response{}`, which builds and moves every member
// (440 instructions, a fifth of what reusing the channel saves). Buffers keep their memory.
void ResponseChannel::Response::reset() {
  static_assert(sizeof(void*) != 8 || sizeof(Response) == 336,
                "a member was added to Response: reset it here");
  pending.clear();
  closed = false;
  woken = false;
  if (waker) waker = nullptr;
  wants_room = false;
  watch_requested = false;
  started = false;
  returned_fields.clear();
  if (direct) direct = nullptr;
  direct_sends = DirectSends::whole_responses_and_large_bodies;
  handed_out = false;
  complete = false;
  cut = false;
  keep_alive = false;
  chunked = false;
  body_allowed = true;
  status = 0;
  failure_status = 0;
  content_length.reset();
  body_written = 0;
  headers.clear();
  head.reset();
  trailers.clear();
  file.reset();
  after_file.clear();
}

bool ResponseChannel::reusable() const {
  std::lock_guard lock(mutex_);
  return r_.pending.capacity() <= reused_buffer_limit &&
         r_.after_file.capacity() <= reused_buffer_limit;
}

std::uint64_t ResponseChannel::body_bytes() const {
  std::lock_guard lock(mutex_);
  return r_.body_written;
}

void ResponseChannel::append(std::string_view bytes, std::unique_lock<std::mutex>& lock,
                             bool more_follows) {
  tail().append(bytes);
  if (!more_follows || r_.pending.size() >= high_water_) wake(lock);
}

void ResponseChannel::end(std::unique_lock<std::mutex>& lock, bool cut) {
  r_.complete = true;
  r_.cut = cut;
  if (!cut) send_whole_response_directly();
  wake(lock);
}

void ResponseChannel::send_directly_to(int fd, DirectSends what) {
  send_directly_through(
      [fd](std::initializer_list<std::string_view> pieces) { return send_now(fd, pieces); }, what);
}

void ResponseChannel::send_directly_through(DirectSender sender, DirectSends what) {
  std::lock_guard lock(mutex_);
  if (r_.closed) return;
  r_.direct = std::move(sender);
  r_.direct_sends = what;
}

// mutex_ held, so the I/O side can neither take these bytes nor close the socket meanwhile.
// An error is left for the I/O thread too: its own write fails the same way and closes.
void ResponseChannel::send_whole_response_directly() {
  if (!r_.direct || r_.direct_sends != DirectSends::whole_responses_and_large_bodies ||
      r_.handed_out || r_.file || r_.pending.empty() || r_.pending.size() > direct_send_limit) {
    return;
  }
  if (const auto sent = r_.direct({r_.pending})) r_.pending.erase(0, *sent);
}

// mutex_ held. What waits in r_.pending (the head), then a body piece (with its chunk framing,
// if chunked) to the socket, as far as it takes them now; what it does not take stays in
// r_.pending, in order. False (nothing done) when the I/O thread has bytes of this response, a
// file comes first, or the connection failed (the I/O thread's own write then fails the same
// way and closes).
bool ResponseChannel::send_directly_after_pending(std::string_view chunk_head,
                                                  std::string_view body,
                                                  std::string_view chunk_end) {
  if (!r_.direct || r_.handed_out || r_.file || structured()) return false;
  const std::string_view waiting = r_.pending;
  const auto sent = r_.direct({waiting, chunk_head, body, chunk_end});
  if (!sent) return false;
  std::size_t skip = *sent;
  std::string rest;
  for (const auto piece : {waiting, chunk_head, body, chunk_end}) {
    const std::size_t taken = std::min(skip, piece.size());
    skip -= taken;
    rest.append(piece.substr(taken));
  }
  r_.pending = std::move(rest);
  return true;
}

// Waits until `has_room` or the channel closes. Whatever is waiting must be on its way to the
// I/O thread first (the head alone does not wake it), or nothing would ever drain it.
template <class HasRoom>
void ResponseChannel::wait_for_room(std::unique_lock<std::mutex>& lock, HasRoom has_room) {
  if (r_.closed || has_room()) return;
  const IoThreadPolicy::WaitingForIo waiting;  // the I/O thread drains it
  const ClientWait client;  // as fast as the client takes it: its time, not the app's
  wake(lock);
  drained_.wait(lock, [&] { return r_.closed || has_room(); });
}

// One wake-up until the I/O thread has taken what is here: each costs a thread switch.
void ResponseChannel::wake(std::unique_lock<std::mutex>& lock) {
  if (r_.woken) return;
  r_.woken = true;
  lock.unlock();
  wake_io_();
  lock.lock();
}

}  // namespace hornbeam::worker
