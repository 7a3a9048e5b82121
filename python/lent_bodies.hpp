#pragma once

// Bytes objects that ASGI's receive() lent to a request body's stream (the socket's next read
// goes straight into them) and whose exchange ended first: the app finished without waiting
// for them. The I/O thread may still write into one, so it is freed only once given back.

#include "common/http_exchange.hpp"
#include "python/py_ref.hpp"

#include <memory>
#include <vector>

namespace hornbeam::python {

class LentBodies {
 public:
  LentBodies() = default;
  LentBodies(const LentBodies&) = delete;
  LentBodies& operator=(const LentBodies&) = delete;
  // Those still lent are leaked (at the context's end): memory the I/O thread could still
  // write into is never freed under it.
  ~LentBodies() {
    for (Lent& lent : lent_) {
      if (!lent.stream->lent_back()) static_cast<void>(lent.bytes.release());
    }
  }

  // GIL held.
  void keep(std::shared_ptr<RequestBodySource> stream, PyRef bytes) {
    lent_.push_back({std::move(stream), std::move(bytes)});
  }
  // GIL held: frees those given back.
  void release_returned() {
    if (lent_.empty()) return;
    std::erase_if(lent_, [](const Lent& lent) { return lent.stream->lent_back().has_value(); });
  }

 private:
  struct Lent {
    std::shared_ptr<RequestBodySource> stream;
    PyRef bytes;
  };
  std::vector<Lent> lent_;
};

}  // namespace hornbeam::python
