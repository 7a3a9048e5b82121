#include "python/wsgi_start_response.hpp"

#include "common/http_text.hpp"
#include "python/gil.hpp"
#include "python/heap_type.hpp"

#include <structmember.h>

#include <algorithm>
#include <array>
#include <cctype>

namespace hornbeam::python {
namespace {

struct StartResponseObject {
  PyObject_HEAD WsgiResponseState* state;
  vectorcallfunc vectorcall;  // how Python calls it: start_response_vectorcall
};

// A str that is latin-1 (PEP 3333 "native string"), as bytes; sets TypeError otherwise.
bool native_string(PyObject* object, const char* what, std::string& out) {
  if (!PyUnicode_Check(object)) {
    PyErr_Format(PyExc_TypeError, "%s must be a str, not %.200s", what, Py_TYPE(object)->tp_name);
    return false;
  }
  // One byte per character is latin-1 already (the common case): copied as it is, without
  // the bytes object PyUnicode_AsLatin1String would make.
  if (PyUnicode_READY(object) != 0) return false;
  if (PyUnicode_KIND(object) == PyUnicode_1BYTE_KIND) {
    out.assign(reinterpret_cast<const char*>(PyUnicode_1BYTE_DATA(object)),
               static_cast<std::size_t>(PyUnicode_GET_LENGTH(object)));
    return true;
  }
  PyRef bytes = PyRef::steal(PyUnicode_AsLatin1String(object));
  if (!bytes) return false;
  out.assign(PyBytes_AS_STRING(bytes.get()), PyBytes_GET_SIZE(bytes.get()));
  return true;
}

bool parse_status(PyObject* object, std::string& status) {
  if (!native_string(object, "status", status)) return false;
  const bool shape_ok = status.size() >= 3 && std::isdigit(static_cast<unsigned char>(status[0])) &&
                        std::isdigit(static_cast<unsigned char>(status[1])) &&
                        std::isdigit(static_cast<unsigned char>(status[2])) && status[0] != '0' &&
                        (status.size() == 3 || status[3] == ' ');
  if (!shape_ok || has_line_break_or_nul(status)) {
    PyErr_Format(PyExc_ValueError, "invalid status %R: expected '200 OK' style", object);
    return false;
  }
  // A 1xx is an interim answer (the server sends 100 Continue itself): the client would
  // still wait for the response.
  if (status[0] == '1') {
    PyErr_Format(PyExc_ValueError, "invalid status %R: a response's status is 200 or more", object);
    return false;
  }
  // "200" alone: the status line still needs its space, and RFC 9110's phrase reads better.
  if (status.size() == 3) status += " " + std::string(reason_phrase(std::stoi(status)));
  return true;
}

// PEP 3333 asks for a list of tuples; as Gunicorn does, any sequence of (name, value) pairs
// is taken (a tuple of them, [name, value] lists), so that what runs there runs here.
bool parse_headers(PyObject* object, std::vector<HttpHeader>& headers) {
  if (PyUnicode_Check(object) || PyBytes_Check(object) || !PySequence_Check(object)) {
    PyErr_Format(PyExc_TypeError, "headers must be a list, not %.200s", Py_TYPE(object)->tp_name);
    return false;
  }
  PyRef list = PyRef::steal(PySequence_Fast(object, "headers must be a list"));
  if (!list) return false;
  const Py_ssize_t count = PySequence_Fast_GET_SIZE(list.get());
  headers.clear();
  // With room for the two the channel adds (Server, Date): no reallocation on the way.
  headers.reserve(static_cast<std::size_t>(count) + 2);
  for (Py_ssize_t i = 0; i < count; ++i) {
    PyObject* item = PySequence_Fast_GET_ITEM(list.get(), i);
    if (!(PyTuple_Check(item) || PyList_Check(item)) || PySequence_Fast_GET_SIZE(item) != 2) {
      PyErr_Format(PyExc_TypeError, "each header must be a (name, value) tuple, not %R", item);
      return false;
    }
    HttpHeader header;
    if (!native_string(PySequence_Fast_GET_ITEM(item, 0), "header name", header.name) ||
        !native_string(PySequence_Fast_GET_ITEM(item, 1), "header value", header.value)) {
      return false;
    }
    if (!is_token(header.name) || has_line_break_or_nul(header.value)) {
      PyErr_Format(PyExc_ValueError, "invalid header %R (CR, LF or NUL, or a bad name)", item);
      return false;
    }
    if (!is_hop_by_hop(header.name)) headers.push_back(std::move(header));
  }
  if (const auto problem = settle_content_length(headers); !problem.empty()) {
    PyErr_SetString(PyExc_ValueError, problem.c_str());
    return false;
  }
  return true;
}

PyObject* start_response_write(PyObject* self, PyObject* data);

PyMethodDef write_method = {"write", start_response_write, METH_O,
                            "Write body bytes (PEP 3333 write callable)."};

// The arguments start_response(status, headers, exc_info=None) was given, by position or by
// name (wsgiref's and Gunicorn's names). False with TypeError set when they do not fit.
bool parse_arguments(PyObject* const* args, std::size_t nargsf, PyObject* kwnames,
                     std::array<PyObject*, 3>& parsed) {
  static constexpr std::array<const char*, 3> names = {"status", "headers", "exc_info"};
  const Py_ssize_t positional = PyVectorcall_NARGS(nargsf);
  if (positional > 3) {
    PyErr_Format(PyExc_TypeError, "start_response() takes at most 3 arguments (%zd given)",
                 positional);
    return false;
  }
  parsed = {nullptr, nullptr, nullptr};
  std::copy(args, args + positional, parsed.begin());
  const Py_ssize_t keywords = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
  for (Py_ssize_t i = 0; i < keywords; ++i) {
    PyObject* name = PyTuple_GET_ITEM(kwnames, i);
    const auto slot = std::find_if(names.begin(), names.end(), [name](const char* known) {
      return PyUnicode_CompareWithASCIIString(name, known) == 0;
    });
    if (slot == names.end()) {
      PyErr_Format(PyExc_TypeError, "start_response() got an unexpected keyword argument '%U'",
                   name);
      return false;
    }
    PyObject*& target = parsed[static_cast<std::size_t>(slot - names.begin())];
    if (target) {
      PyErr_Format(PyExc_TypeError, "start_response() got multiple values for argument '%U'", name);
      return false;
    }
    target = args[positional + i];
  }
  if (!parsed[0] || !parsed[1]) {
    PyErr_Format(PyExc_TypeError, "start_response() missing required argument '%s'",
                 parsed[0] ? names[1] : names[0]);
    return false;
  }
  return true;
}

// A vectorcall: the app's start_response(status, headers) costs no argument tuple and no
// format-string parsing (about 850 instructions of a WSGI hello world's 24.6 k).
PyObject* start_response_vectorcall(PyObject* self, PyObject* const* args, std::size_t nargsf,
                                    PyObject* kwnames) {
  std::array<PyObject*, 3> parsed{};
  if (!parse_arguments(args, nargsf, kwnames, parsed)) return nullptr;
  PyObject* status = parsed[0];
  PyObject* headers = parsed[1];
  PyObject* exc_info = parsed[2] ? parsed[2] : Py_None;
  WsgiResponseState* state = reinterpret_cast<StartResponseObject*>(self)->state;
  if (!state) {
    PyErr_SetString(PyExc_RuntimeError, "start_response called after the request ended");
    return nullptr;
  }
  if (exc_info != Py_None) {
    // PEP 3333: with exc_info after the head went out, re-raise the app's exception.
    if (state->head_sent) {
      if (!PyTuple_Check(exc_info) || PyTuple_GET_SIZE(exc_info) != 3) {
        PyErr_SetString(PyExc_TypeError, "exc_info must be a (type, value, traceback) tuple");
        return nullptr;
      }
      PyObject* type = PyTuple_GET_ITEM(exc_info, 0);
      PyObject* value = PyTuple_GET_ITEM(exc_info, 1);
      PyObject* traceback = PyTuple_GET_ITEM(exc_info, 2);
      Py_INCREF(type);
      Py_INCREF(value);
      Py_INCREF(traceback);
      PyErr_Restore(type, value, traceback);
      return nullptr;
    }
  } else if (state->called) {
    PyErr_SetString(PyExc_RuntimeError, "start_response called a second time without exc_info");
    return nullptr;
  }
  std::string parsed_status;
  std::vector<HttpHeader> parsed_headers;
  if (!parse_status(status, parsed_status) || !parse_headers(headers, parsed_headers))
    return nullptr;
  state->status = std::move(parsed_status);
  state->headers = std::move(parsed_headers);
  state->called = true;
  // The bound write method, made directly: an attribute lookup by C string cost more.
  return PyCFunction_New(&write_method, self);
}

PyObject* start_response_write(PyObject* self, PyObject* data) {
  WsgiResponseState* state = reinterpret_cast<StartResponseObject*>(self)->state;
  if (!state || !state->called) {
    PyErr_SetString(PyExc_RuntimeError, "write() called outside a started response");
    return nullptr;
  }
  if (!PyBytes_Check(data)) {
    PyErr_Format(PyExc_TypeError, "write() takes bytes, not %.200s", Py_TYPE(data)->tp_name);
    return nullptr;
  }
  if (!state->write(std::string_view(PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data)))) {
    PyErr_SetString(PyExc_OSError, "client disconnected");
    return nullptr;
  }
  Py_RETURN_NONE;
}

PyMethodDef methods[] = {
    write_method,
    {nullptr, nullptr, 0, nullptr},
};

// The vectorcall's slot in each object, as CPython finds it on a heap type.
PyMemberDef members[] = {
    {"__vectorcalloffset__", T_PYSSIZET, offsetof(StartResponseObject, vectorcall), READONLY,
     nullptr},
    {nullptr, 0, 0, 0, nullptr},
};

PyType_Slot slots[] = {
    {Py_tp_call, reinterpret_cast<void*>(PyVectorcall_Call)},
    {Py_tp_members, members},
    {Py_tp_dealloc, reinterpret_cast<void*>(free_heap_object)},
    {Py_tp_methods, methods},
    {0, nullptr},
};

PyType_Spec spec = {
    "hornbeam.StartResponse", sizeof(StartResponseObject), 0,
    Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION | Py_TPFLAGS_HAVE_VECTORCALL, slots};

}  // namespace

void WsgiResponseState::send_head() {
  if (head_sent) return;
  head_sent = true;
  sink->start(std::move(status), std::move(headers));  // nothing reads them after the head left
}

bool WsgiResponseState::write(std::string_view data, bool more_follows) {
  if (client_gone) return false;
  send_head();
  if (data.empty()) return true;
  switch (sink->try_write(data, more_follows)) {
    case ResponseSink::TryWrite::written: return true;
    case ResponseSink::TryWrite::client_gone: client_gone = true; return false;
    case ResponseSink::TryWrite::no_room: break;
  }
  // The client is slow: wait for room without the GIL.
  GilRelease unlocked;
  client_gone = !sink->write(data, more_follows);
  return !client_gone;
}

PyRef make_start_response_type() { return PyRef::steal(PyType_FromSpec(&spec)); }

PyRef make_start_response(PyObject* type, WsgiResponseState* state) {
  auto* object = PyObject_New(StartResponseObject, reinterpret_cast<PyTypeObject*>(type));
  if (!object) return {};
  object->state = state;
  object->vectorcall = start_response_vectorcall;
  return PyRef::steal(reinterpret_cast<PyObject*>(object));
}

void detach_start_response(PyObject* start_response) {
  reinterpret_cast<StartResponseObject*>(start_response)->state = nullptr;
}

}  // namespace hornbeam::python
