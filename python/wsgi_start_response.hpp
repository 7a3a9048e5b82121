#pragma once

// The start_response callable of PEP 3333 (and the write() callable it returns), as a heap
// type created per interpreter.

#include "common/http_exchange.hpp"
#include "python/py_ref.hpp"

#include <string>
#include <vector>

namespace hornbeam::python {

// What start_response learnt, shared between the adapter and the Python object for the
// duration of one request.
struct WsgiResponseState {
  ResponseSink* sink = nullptr;
  bool called = false;     // start_response was called
  bool head_sent = false;  // status and headers went to the sink
  bool client_gone = false;
  std::string status;
  std::vector<HttpHeader> headers;

  // Hands status and headers to the sink once.
  void send_head();
  // Writes body bytes with the GIL released. False once the client has gone. `more_follows`
  // as in ResponseSink::write.
  bool write(std::string_view data, bool more_follows = false);
};

// The type object (GIL held). Create once per context.
PyRef make_start_response_type();
// A start_response bound to `state`; detach it when the request is over.
PyRef make_start_response(PyObject* type, WsgiResponseState* state);
void detach_start_response(PyObject* start_response);

}  // namespace hornbeam::python
