#include "python/wsgi_input.hpp"

#include "python/gil.hpp"
#include "python/heap_type.hpp"
#include "python/state_module.hpp"

#include <algorithm>
#include <cstring>
#include <new>
#include <optional>
#include <string>

namespace hornbeam::python {
namespace {

constexpr std::size_t read_size = 64 * 1024;
// read() of a Content-Length body makes one bytes object of the rest up to this size.
constexpr std::uint64_t whole_read_limit = 64 * 1024 * 1024;

struct InputState {
  std::shared_ptr<RequestBodySource> source;
  std::string pending;  // read from the source, not yet given to the app
  bool ended = false;
};

struct InputObject {
  PyObject_HEAD InputState* state;
};

InputState& state_of(PyObject* self) { return *reinterpret_cast<InputObject*>(self)->state; }

// A malformed body is hornbeam.BadRequestBody; a client that left or a broken limit, OSError.
std::nullptr_t raise_body_error(const RequestBodyError& error) {
  if (error.cause() == RequestBodyError::Cause::malformed)
    return raise_bad_request_body(error.what());
  PyErr_SetString(PyExc_OSError, error.what());
  return nullptr;
}

// Reads one more piece into `pending`; false at the end of the body or on error (then with a
// Python exception set).
bool fill(InputState& state) {
  if (state.ended) return false;
  std::string piece;
  std::optional<RequestBodyError> error;
  {
    GilRelease unlocked;
    try {
      piece = state.source->read(read_size);
    } catch (const RequestBodyError& e) {
      error = e;
    } catch (const std::exception& e) {  // never through Python's C frames
      error.emplace(RequestBodyError::Cause::client_gone, e.what());
    }
  }
  if (error) {
    raise_body_error(*error);
    return false;
  }
  if (piece.empty()) {
    state.ended = true;
    return false;
  }
  state.pending += piece;
  return true;
}

PyObject* take(InputState& state, std::size_t size) {
  size = std::min(size, state.pending.size());
  PyObject* bytes = PyBytes_FromStringAndSize(state.pending.data(), static_cast<Py_ssize_t>(size));
  state.pending.erase(0, size);
  return bytes;
}

Py_ssize_t size_argument(PyObject* args, const char* name) {
  PyObject* size = Py_None;
  if (!PyArg_UnpackTuple(args, name, 0, 1, &size)) return -2;
  if (size == Py_None) return -1;
  const Py_ssize_t value = PyNumber_AsSsize_t(size, PyExc_OverflowError);
  if (value == -1 && PyErr_Occurred()) return -2;
  return value < 0 ? -1 : value;
}

// read(n): one bytes object of n bytes, filled from the stream (for a Content-Length body,
// straight from the socket once what arrived before is taken), then cut to what arrived
// before the end of the body.
PyObject* read_exactly(InputState& state, Py_ssize_t size) {
  PyObject* bytes = PyBytes_FromStringAndSize(nullptr, size);
  if (!bytes) return nullptr;
  char* out = PyBytes_AS_STRING(bytes);
  Py_ssize_t filled = std::min<Py_ssize_t>(size, static_cast<Py_ssize_t>(state.pending.size()));
  std::memcpy(out, state.pending.data(), static_cast<std::size_t>(filled));
  state.pending.erase(0, static_cast<std::size_t>(filled));
  std::optional<RequestBodyError> error;
  {
    GilRelease unlocked;
    try {
      while (filled < size && !state.ended) {
        const std::size_t wanted = static_cast<std::size_t>(size - filled);
        const std::size_t got = state.source->read_fully_into(out + filled, wanted);
        if (got < wanted) state.ended = true;
        filled += static_cast<Py_ssize_t>(got);
      }
    } catch (const RequestBodyError& e) {
      error = e;
    } catch (const std::exception& e) {  // never through Python's C frames
      error.emplace(RequestBodyError::Cause::client_gone, e.what());
    }
  }
  if (error) {
    Py_DECREF(bytes);
    return raise_body_error(*error);
  }
  if (filled < size && _PyBytes_Resize(&bytes, filled) != 0) return nullptr;
  return bytes;
}

PyObject* input_read(PyObject* self, PyObject* args) {
  const Py_ssize_t size = size_argument(args, "read");
  if (size == -2) return nullptr;
  InputState& state = state_of(self);
  if (size > 0) return read_exactly(state, size);
  if (size < 0) {
    // A Content-Length body's rest is known: one bytes object of its size, read into straight
    // from the socket, instead of pieces gathered and copied. Up to a bound: the length is the
    // client's word, and memory for a larger body is taken as its bytes come.
    if (const auto unread = state.source->unread_length();
        unread && state.pending.size() <= whole_read_limit &&
        *unread <= whole_read_limit - state.pending.size()) {  // never wraps
      return read_exactly(state, static_cast<Py_ssize_t>(state.pending.size() + *unread));
    }
    while (fill(state)) {
    }
  } else {
    while (state.pending.size() < static_cast<std::size_t>(size) && fill(state)) {
    }
  }
  if (PyErr_Occurred()) return nullptr;
  return take(state, size < 0 ? state.pending.size() : static_cast<std::size_t>(size));
}

PyObject* input_readline(PyObject* self, PyObject* args) {
  const Py_ssize_t limit = size_argument(args, "readline");
  if (limit == -2) return nullptr;
  InputState& state = state_of(self);
  std::size_t scanned = 0;
  while (true) {
    const auto newline = state.pending.find('\n', scanned);
    if (newline != std::string::npos) {
      const std::size_t line = newline + 1;
      return take(state, limit < 0 ? line : std::min(line, static_cast<std::size_t>(limit)));
    }
    if (limit >= 0 && state.pending.size() >= static_cast<std::size_t>(limit))
      return take(state, limit);
    scanned = state.pending.size();
    if (!fill(state)) break;
  }
  if (PyErr_Occurred()) return nullptr;
  return take(state, state.pending.size());
}

PyObject* input_readlines(PyObject* self, PyObject* args) {
  const Py_ssize_t hint = size_argument(args, "readlines");
  if (hint == -2) return nullptr;
  PyRef lines = PyRef::steal(PyList_New(0));
  PyRef no_arguments = PyRef::steal(PyTuple_New(0));
  Py_ssize_t total = 0;
  while (lines && no_arguments) {
    PyRef line = PyRef::steal(input_readline(self, no_arguments.get()));
    if (!line) return nullptr;
    if (PyBytes_GET_SIZE(line.get()) == 0) break;
    total += PyBytes_GET_SIZE(line.get());
    if (PyList_Append(lines.get(), line.get()) != 0) return nullptr;
    if (hint > 0 && total >= hint) break;
  }
  return lines.release();
}

PyObject* input_iternext(PyObject* self) {
  PyRef empty = PyRef::steal(PyTuple_New(0));
  PyObject* line = input_readline(self, empty.get());
  if (line && PyBytes_GET_SIZE(line) == 0) {
    Py_DECREF(line);
    return nullptr;  // StopIteration
  }
  return line;
}

void input_dealloc(PyObject* self) {
  delete reinterpret_cast<InputObject*>(self)->state;
  free_heap_object(self);
}

PyMethodDef methods[] = {
    {"read", input_read, METH_VARARGS, "read([size]) -> bytes"},
    {"readline", input_readline, METH_VARARGS, "readline([size]) -> bytes"},
    {"readlines", input_readlines, METH_VARARGS, "readlines([hint]) -> list of bytes"},
    {nullptr, nullptr, 0, nullptr},
};

PyType_Slot slots[] = {
    {Py_tp_dealloc, reinterpret_cast<void*>(input_dealloc)},
    {Py_tp_iter, reinterpret_cast<void*>(iter_self)},
    {Py_tp_iternext, reinterpret_cast<void*>(input_iternext)},
    {Py_tp_methods, methods},
    {0, nullptr},
};

PyType_Spec spec = {"hornbeam.Input", sizeof(InputObject), 0,
                    Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION, slots};

}  // namespace

PyRef make_input_type() { return PyRef::steal(PyType_FromSpec(&spec)); }

PyRef make_input(PyObject* type, std::shared_ptr<RequestBodySource> source) {
  auto* object = PyObject_New(InputObject, reinterpret_cast<PyTypeObject*>(type));
  if (!object) return {};
  object->state = new (std::nothrow) InputState{std::move(source), {}, false};
  if (!object->state) {
    Py_DECREF(object);
    PyErr_NoMemory();
    return {};
  }
  return PyRef::steal(reinterpret_cast<PyObject*>(object));
}

}  // namespace hornbeam::python
