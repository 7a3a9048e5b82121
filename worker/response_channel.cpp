#include "worker/response_channel.hpp"
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
  std::from_chars(status.data(), status.data() + 3, status_);
  const bool has_body = status_ >= 200 && status_ != 204 && status_ != 304;  // RFC 9110 §6.4.1
  body_allowed_ = has_body && !framing_.head_request;
  for (const auto& header : headers) {
    if (iequals(header.name, "Content-Length")) {
      std::uint64_t length = 0;
      const auto [ptr, ec] =
          std::from_chars(header.value.data(), header.value.data() + header.value.size(), length);
      if (ec == std::errc{} && ptr == header.value.data() + header.value.size())
        content_length_ = length;
    }
  }
  if (structured()) return start_structured(std::move(headers));
  // Without a length: chunked on HTTP/1.1 (a HEAD announces what its GET would use), and on
  // HTTP/1.0 the end of the body is the close.
  const bool length_unknown = has_body && !content_length_;
  const bool announce_chunked = length_unknown && framing_.http_version >= 11;
  chunked_ = announce_chunked && !framing_.head_request;
  keep_alive_ = framing_.client_keep_alive && !(length_unknown && framing_.http_version < 11);

  const std::string_view connection = !keep_alive_                  ? "Connection: close\r\n"
                                      : framing_.http_version == 10 ? "Connection: keep-alive\r\n"
                                                                    : "";
  const std::string_view chunked = announce_chunked ? "Transfer-Encoding: chunked\r\n" : "";
  const std::string_view date = http_date();  // once: both walks must see the same pieces
  // The head's pieces, walked twice: once for their total, once to copy them. The string then
  // grows once (a dozen appends, each checking and growing the capacity, cost about twice the
  // instructions), and at least to 256 bytes: it becomes the buffer a small body is appended to.
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
  std::string head;
  head.reserve(std::max<std::size_t>(size, 256));
  head.resize(size);
  char* at = head.data();
  pieces([&at](std::string_view piece) { at = std::copy(piece.begin(), piece.end(), at); });

  std::lock_guard lock(mutex_);
  if (complete_) return;  // answered without the app (a refused body): nothing more goes out
  started_ = true;
  if (framing_.keep_headers) headers_ = std::move(headers);
  // No wake-up for the head alone: PEP 3333 sends it with the first body bytes or the end,
  // which wake the I/O thread once for both.
  // The head's memory (reserved above) becomes the buffer the body is appended to: a small
  // body then costs no allocation, and the head no copy.
  if (std::string& out = tail(); out.empty())
    out = std::move(head);
  else
    out += head;
}

// HTTP/2 frames the body itself (DATA frames, END_STREAM): no chunking, and the connection
// outlives the response.
void ResponseChannel::start_structured(std::vector<HttpHeader> headers) {
  Head head{status_, {}};
  head.fields.reserve(headers.size() + 2);
  head.fields.push_back({"server", "hornbeam"});
  head.fields.push_back({"date", http_date()});
  std::lock_guard lock(mutex_);
  if (complete_) return;
  started_ = true;
  if (framing_.keep_headers) {
    head.fields.insert(head.fields.end(), headers.begin(), headers.end());
    headers_ = std::move(headers);
  } else {
    std::move(headers.begin(), headers.end(), std::back_inserter(head.fields));
  }
  head_ = std::move(head);
}

bool ResponseChannel::write(std::string_view data, bool more_follows) {
  std::unique_lock lock(mutex_);
  // Wait while the client has not taken what is already here, then take this chunk whole:
  // a response given as one large bytes object frees its context at once, and a generator
  // is held back once `high_water_` bytes wait.
  wait_for_room(lock, [&] { return pending_.size() < high_water_ && !file_; });
  if (closed_ || complete_) return false;
  return append_body(data, more_follows, lock);
}

ResponseSink::TryWrite ResponseChannel::try_write(std::string_view data, bool more_follows) {
  std::unique_lock lock(mutex_);
  if (closed_ || complete_) return TryWrite::client_gone;
  if (pending_.size() >= high_water_ || file_) return TryWrite::no_room;  // write() would wait
  return append_body(data, more_follows, lock) ? TryWrite::written : TryWrite::client_gone;
}

bool ResponseChannel::write_nowait(std::string_view data) {
  std::unique_lock lock(mutex_);
  if (closed_ || complete_) return false;
  return append_body(data, false, lock);
}

void ResponseChannel::return_fields(std::vector<HttpHeader> fields) {
  std::lock_guard lock(mutex_);
  returned_fields_ = std::move(fields);
}

std::vector<HttpHeader> ResponseChannel::take_returned_fields() {
  std::lock_guard lock(mutex_);
  return std::move(returned_fields_);
}

bool ResponseChannel::has_room_or_notify() {
  std::lock_guard lock(mutex_);
  if (closed_ || complete_ || (pending_.size() < high_water_ && !file_)) return true;
  wants_room_ = true;
  return false;
}

bool ResponseChannel::client_gone() const {
  std::lock_guard lock(mutex_);
  return closed_;
}

void ResponseChannel::set_waker(std::function<void()> waker) {
  std::lock_guard lock(mutex_);
  waker_ = std::move(waker);
}

void ResponseChannel::watch_for_disconnect() {
  std::unique_lock lock(mutex_);
  if (closed_ || complete_ || watch_requested_) return;
  watch_requested_ = true;
  wake(lock);  // a wake-up already on its way sees the request too
}

bool ResponseChannel::take_watch_request() {
  std::lock_guard lock(mutex_);
  return std::exchange(watch_requested_, false);
}

void ResponseChannel::call_waker() {
  std::function<void()> waker;
  {
    std::lock_guard lock(mutex_);
    waker = waker_;
  }
  if (waker) waker();
}

bool ResponseChannel::append_body(std::string_view data, bool more_follows,
                                  std::unique_lock<std::mutex>& lock) {
  if (!body_allowed_) return true;
  if (content_length_ && body_written_ + data.size() > *content_length_) {
    // More than the app announced: send what fits, then cut (never a wrong framing).
    data = data.substr(0, *content_length_ - body_written_);
    body_written_ += data.size();
    append(data, lock);
    logging::error_log().error("the app wrote more than its Content-Length; the response was cut");
    end(lock, true);
    return false;
  }
  if (data.empty()) return true;  // an empty chunk would end a chunked body
  body_written_ += data.size();
  char size[24];
  std::string_view chunk_head, chunk_end;
  if (chunked_) {
    chunk_head = {
        size, static_cast<std::size_t>(std::snprintf(size, sizeof size, "%zx\r\n", data.size()))};
    chunk_end = "\r\n";
  }
  if (data.size() >= direct_body_min && send_directly_after_pending(chunk_head, data, chunk_end)) {
    append({}, lock, more_follows);  // the I/O thread takes the rest, if any, as usual
    return true;
  }
  if (chunked_) {
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
  wait_for_room(lock, [&] { return pending_.empty() && !file_; });
  if (closed_ || complete_) return false;
  queue_file(std::move(file), offset, length, lock);
  return true;
}

// The bytes already waiting go first (take() hands them out before the file).
bool ResponseChannel::send_file_nowait(UniqueFd file, std::uint64_t offset, std::uint64_t length) {
  std::unique_lock lock(mutex_);
  if (closed_ || complete_) return false;
  if (file_) throw std::logic_error("send_file_nowait: a file is already queued");
  queue_file(std::move(file), offset, length, lock);
  return true;
}

void ResponseChannel::queue_file(UniqueFd file, std::uint64_t offset, std::uint64_t length,
                                 std::unique_lock<std::mutex>& lock) {
  if (!body_allowed_ || length == 0) return;
  if (content_length_ && body_written_ + length > *content_length_) {
    length = *content_length_ - body_written_;  // never more than announced
  }
  body_written_ += length;
  if (chunked_) {
    char size[24];
    const int printed =
        std::snprintf(size, sizeof size, "%llx\r\n", static_cast<unsigned long long>(length));
    pending_.append(size, static_cast<std::size_t>(printed));
  }
  file_ = FileSegment{std::move(file), offset, length};
  if (chunked_) after_file_ = "\r\n";
  wake(lock);
}

void ResponseChannel::finish() {
  std::unique_lock lock(mutex_);
  if (complete_) return;
  if (content_length_ && body_allowed_ && body_written_ < *content_length_) {
    logging::error_log().error(
        "the app wrote {} of its {} Content-Length bytes; the response was cut", body_written_,
        *content_length_);
    end(lock, true);
    return;
  }
  if (chunked_) tail() += "0\r\n\r\n";
  end(lock, false);
}

void ResponseChannel::finish_with_trailers(const std::vector<HttpHeader>& trailers) {
  std::unique_lock lock(mutex_);
  if (complete_) return;
  if (structured()) {
    if (body_allowed_) trailers_ = trailers;
    lock.unlock();
    return finish();
  }
  if (!chunked_) {
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
  failure_status_ = status;
}

// HTTP/1: the whole response as bytes. HTTP/2: the body, the head going to head_ (the mutex
// is not held: end_with() takes the head only if the answer is still the channel's to give).
std::string ResponseChannel::error_response(int status) {
  const std::string body = std::to_string(status) + " " + std::string(reason_phrase(status)) + "\n";
  if (structured()) return body;
  std::string response =
      (framing_.http_version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ") + std::to_string(status) + " " +
      std::string(reason_phrase(status)) + "\r\nServer: hornbeam\r\nDate: " + http_date() +
      "\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(body.size()) +
      "\r\nConnection: close\r\n\r\n";
  if (!framing_.head_request) response += body;
  return response;
}

void ResponseChannel::fail(int status) {
  {
    std::lock_guard lock(mutex_);
    if (failure_status_) status = failure_status_;
  }
  const std::string response = error_response(status);
  std::unique_lock lock(mutex_);
  if (complete_) return;  // answered already (a refused body, a timed-out app)
  end_with(response, status, lock);
}

bool ResponseChannel::fail_unstarted(int status) {
  const std::string response = error_response(status);
  std::unique_lock lock(mutex_);
  if (started_ || complete_) return false;
  end_with(response, status, lock);
  return true;
}

void ResponseChannel::end_with(const std::string& response, int status,
                               std::unique_lock<std::mutex>& lock) {
  status_ = status;
  keep_alive_ = false;
  if (structured()) {
    head_ = Head{status,
                 {{"server", "hornbeam"},
                  {"date", http_date()},
                  {"content-type", "text/plain"},
                  {"content-length", std::to_string(response.size())}}};
    if (framing_.head_request) return end(lock, false);
  }
  pending_ += response;
  end(lock, false);
}

void ResponseChannel::abort() {
  std::unique_lock lock(mutex_);
  if (complete_) return;
  end(lock, true);
}

ResponseChannel::Batch ResponseChannel::take() {
  Batch batch;
  bool room_freed = false;
  {
    std::lock_guard lock(mutex_);
    woken_ = false;
    handed_out_ = handed_out_ || !pending_.empty() || file_;
    if (head_) {
      batch.head = std::move(head_);
      head_.reset();
    }
    if (!pending_.empty()) {
      batch.bytes.swap(pending_);
    } else if (file_) {
      batch.file = std::move(file_);
      file_.reset();
      pending_.swap(after_file_);
    }
    // Complete only when this batch is the last of the response.
    batch.complete = complete_ && pending_.empty() && !file_ && after_file_.empty();
    batch.keep_alive = keep_alive_ && !cut_;
    batch.cut = cut_;
    batch.status = status_;
    if (batch.complete) batch.trailers = std::move(trailers_);
    if (wants_room_ && pending_.size() < high_water_ && !file_) {
      wants_room_ = false;
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
    if (closed_) return;
    closed_ = true;
    direct_ = nullptr;
  }
  drained_.notify_all();
  call_waker();
}

std::uint64_t ResponseChannel::body_bytes() const {
  std::lock_guard lock(mutex_);
  return body_written_;
}

void ResponseChannel::append(std::string_view bytes, std::unique_lock<std::mutex>& lock,
                             bool more_follows) {
  tail().append(bytes);
  if (!more_follows || pending_.size() >= high_water_) wake(lock);
}

void ResponseChannel::end(std::unique_lock<std::mutex>& lock, bool cut) {
  complete_ = true;
  cut_ = cut;
  if (!cut) send_whole_response_directly();
  wake(lock);
}

void ResponseChannel::send_directly_to(int fd, DirectSends what) {
  send_directly_through(
      [fd](std::initializer_list<std::string_view> pieces) { return send_now(fd, pieces); }, what);
}

void ResponseChannel::send_directly_through(DirectSender sender, DirectSends what) {
  std::lock_guard lock(mutex_);
  if (closed_) return;
  direct_ = std::move(sender);
  direct_sends_ = what;
}

// mutex_ held, so the I/O side can neither take these bytes nor close the socket meanwhile.
// An error is left for the I/O thread too: its own write fails the same way and closes.
void ResponseChannel::send_whole_response_directly() {
  if (!direct_ || direct_sends_ != DirectSends::whole_responses_and_large_bodies || handed_out_ ||
      file_ || pending_.empty() || pending_.size() > direct_send_limit) {
    return;
  }
  if (const auto sent = direct_({pending_})) pending_.erase(0, *sent);
}

// mutex_ held. What waits in pending_ (the head), then a body piece (with its chunk framing,
// if chunked) to the socket, as far as it takes them now; what it does not take stays in
// pending_, in order. False (nothing done) when the I/O thread has bytes of this response, a
// file comes first, or the connection failed (the I/O thread's own write then fails the same
// way and closes).
bool ResponseChannel::send_directly_after_pending(std::string_view chunk_head,
                                                  std::string_view body,
                                                  std::string_view chunk_end) {
  if (!direct_ || handed_out_ || file_ || structured()) return false;
  const std::string_view waiting = pending_;
  const auto sent = direct_({waiting, chunk_head, body, chunk_end});
  if (!sent) return false;
  std::size_t skip = *sent;
  std::string rest;
  for (const auto piece : {waiting, chunk_head, body, chunk_end}) {
    const std::size_t taken = std::min(skip, piece.size());
    skip -= taken;
    rest.append(piece.substr(taken));
  }
  pending_ = std::move(rest);
  return true;
}

// Waits until `has_room` or the channel closes. Whatever is waiting must be on its way to the
// I/O thread first (the head alone does not wake it), or nothing would ever drain it.
template <class HasRoom>
void ResponseChannel::wait_for_room(std::unique_lock<std::mutex>& lock, HasRoom has_room) {
  if (closed_ || has_room()) return;
  const IoThreadPolicy::WaitingForIo waiting;  // the I/O thread drains it
  wake(lock);
  drained_.wait(lock, [&] { return closed_ || has_room(); });
}

// One wake-up until the I/O thread has taken what is here: each costs a thread switch.
void ResponseChannel::wake(std::unique_lock<std::mutex>& lock) {
  if (woken_) return;
  woken_ = true;
  lock.unlock();
  wake_io_();
  lock.lock();
}

}  // namespace hornbeam::worker
