#include "python/asgi_message.hpp"

#include "common/http_text.hpp"

namespace hornbeam::python {
namespace {

// The bytes of a bytes-like object, or false with TypeError.
bool buffer_text(PyObject* value, const char* what, std::string& out) {
  if (PyBytes_Check(value)) {
    out.assign(PyBytes_AS_STRING(value), static_cast<std::size_t>(PyBytes_GET_SIZE(value)));
    return true;
  }
  if (!PyObject_CheckBuffer(value) || PyUnicode_Check(value)) {
    PyErr_Format(PyExc_TypeError, "%s must be bytes, not %.200s", what, Py_TYPE(value)->tp_name);
    return false;
  }
  Py_buffer view;
  if (PyObject_GetBuffer(value, &view, PyBUF_SIMPLE) != 0) return false;
  out.assign(static_cast<const char*>(view.buf), static_cast<std::size_t>(view.len));
  PyBuffer_Release(&view);
  return true;
}

}  // namespace

PyRef message_get(PyObject* message, PyObject* key) {
  if (PyDict_CheckExact(message)) {
    PyObject* value = PyDict_GetItemWithError(message, key);  // borrowed
    return PyRef::borrow(value);
  }
  PyRef value = PyRef::steal(PyObject_GetItem(message, key));
  if (!value && PyErr_ExceptionMatches(PyExc_KeyError)) PyErr_Clear();
  return value;
}

bool message_type(PyObject* message, PyObject* type_key, PyRef& type) {
  if (!PyMapping_Check(message)) {
    PyErr_Format(PyExc_TypeError, "an ASGI message must be a dict, not %.200s",
                 Py_TYPE(message)->tp_name);
    return false;
  }
  type = message_get(message, type_key);
  if (PyErr_Occurred()) return false;
  if (!type || !PyUnicode_Check(type.get())) {
    PyErr_SetString(PyExc_TypeError, "an ASGI message needs a str 'type'");
    return false;
  }
  return true;
}

bool is_type(PyObject* type, const PyRef& key) {
  return type == key.get() || PyUnicode_Compare(type, key.get()) == 0;
}

bool message_bytes(PyObject* message, PyObject* key, std::string& out) {
  PyRef value = message_get(message, key);
  if (!value) {
    out.clear();
    return !PyErr_Occurred();
  }
  PyRef what = PyRef::steal(PyUnicode_AsUTF8String(key));
  return buffer_text(value.get(), what ? PyBytes_AS_STRING(what.get()) : "value", out);
}

bool message_bytes_view(PyObject* message, PyObject* key, PyRef& owner, std::string& scratch,
                        std::string_view& view) {
  owner = message_get(message, key);
  if (owner && PyBytes_Check(owner.get())) {
    view = std::string_view(PyBytes_AS_STRING(owner.get()),
                            static_cast<std::size_t>(PyBytes_GET_SIZE(owner.get())));
    return true;
  }
  if (PyErr_Occurred() || !message_bytes(message, key, scratch)) return false;
  view = scratch;
  return true;
}

bool message_flag(PyObject* message, PyObject* key, bool& out) {
  PyRef value = message_get(message, key);
  if (!value) {
    out = false;
    return !PyErr_Occurred();
  }
  const int truth = PyObject_IsTrue(value.get());
  if (truth < 0) return false;
  out = truth == 1;
  return true;
}

bool message_int(PyObject* message, PyObject* key, long fallback, long& out) {
  PyRef value = message_get(message, key);
  if (!value) {
    out = fallback;
    return !PyErr_Occurred();
  }
  if (!PyLong_Check(value.get())) {
    PyErr_Format(PyExc_TypeError, "%R must be an int, not %.200s", key,
                 Py_TYPE(value.get())->tp_name);
    return false;
  }
  out = PyLong_AsLong(value.get());
  return !PyErr_Occurred();
}

bool message_str(PyObject* message, PyObject* key, std::string& out) {
  out.clear();
  PyRef value = message_get(message, key);
  if (!value || value.get() == Py_None) return !PyErr_Occurred();
  if (!PyUnicode_Check(value.get())) {
    PyErr_Format(PyExc_TypeError, "%R must be a str, not %.200s", key,
                 Py_TYPE(value.get())->tp_name);
    return false;
  }
  Py_ssize_t size = 0;
  const char* text = PyUnicode_AsUTF8AndSize(value.get(), &size);
  if (!text) return false;
  out.assign(text, static_cast<std::size_t>(size));
  return true;
}

bool message_headers(PyObject* message, PyObject* key, std::vector<HttpHeader>& out) {
  out.clear();
  PyRef value = message_get(message, key);
  if (!value) return !PyErr_Occurred();
  // Any iterable; a list or tuple (what apps send) is read without an iterator.
  PyRef headers =
      PyRef::steal(PySequence_Fast(value.get(), "ASGI headers must be an iterable of pairs"));
  if (!headers) return false;
  const Py_ssize_t count = PySequence_Fast_GET_SIZE(headers.get());
  out.reserve(static_cast<std::size_t>(count));
  for (Py_ssize_t i = 0; i < count; ++i) {
    PyObject* item = PySequence_Fast_GET_ITEM(headers.get(), i);
    PyRef pair =
        PyRef::steal(PySequence_Fast(item, "each ASGI header must be a [name, value] pair"));
    if (!pair) return false;
    if (PySequence_Fast_GET_SIZE(pair.get()) != 2) {
      PyErr_Format(PyExc_ValueError, "each ASGI header must be a [name, value] pair, not %R", item);
      return false;
    }
    HttpHeader header;
    if (!buffer_text(PySequence_Fast_GET_ITEM(pair.get(), 0), "a header name", header.name) ||
        !buffer_text(PySequence_Fast_GET_ITEM(pair.get(), 1), "a header value", header.value)) {
      return false;
    }
    if (!is_token(header.name) || has_line_break_or_nul(header.value)) {
      PyErr_Format(PyExc_ValueError, "invalid header %R (CR, LF or NUL, or a bad name)", item);
      return false;
    }
    if (!is_hop_by_hop(header.name)) out.push_back(std::move(header));
  }
  if (const auto problem = settle_content_length(out); !problem.empty()) {
    PyErr_SetString(PyExc_ValueError, problem.c_str());
    return false;
  }
  return true;
}

}  // namespace hornbeam::python
