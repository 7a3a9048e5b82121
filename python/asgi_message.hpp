#pragma once

// Reading the messages an ASGI app sends (GIL held). Each reader returns false with a Python
// exception set when the message is malformed, so that send() raises it into the app.

#include "common/http_exchange.hpp"
#include "python/py_ref.hpp"

#include <string>
#include <vector>

namespace hornbeam::python {

// message[key]; null without an exception when the key is absent.
PyRef message_get(PyObject* message, PyObject* key);
// message["type"], which must be a str.
bool message_type(PyObject* message, PyObject* type_key, PyRef& type);
// `type` is the message type `key` (interned: usually the same object).
bool is_type(PyObject* type, const PyRef& key);
// A bytes-like value (bytes, bytearray, memoryview) copied into `out`; absent → "".
bool message_bytes(PyObject* message, PyObject* key, std::string& out);
// The same without a copy for bytes (the common case): `view` points into the object `owner`
// keeps alive; other bytes-like values are copied into `scratch`.
bool message_bytes_view(PyObject* message, PyObject* key, PyRef& owner, std::string& scratch,
                        std::string_view& view);
// A truthy flag; absent → false.
bool message_flag(PyObject* message, PyObject* key, bool& out);
// An int; absent → `fallback`.
bool message_int(PyObject* message, PyObject* key, long fallback, long& out);
// An optional str; absent or None → "".
bool message_str(PyObject* message, PyObject* key, std::string& out);
// ASGI headers: an iterable of [name, value] byte strings. Names must be tokens and values
// free of CR, LF and NUL (else ValueError: never response splitting); hop-by-hop fields are
// dropped, as the server frames the response. Absent → none.
bool message_headers(PyObject* message, PyObject* key, std::vector<HttpHeader>& out);

}  // namespace hornbeam::python
