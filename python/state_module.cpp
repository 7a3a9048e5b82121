#include "python/state_module.hpp"

#include "common/logging.hpp"
#include "common/state_store.hpp"
#include "python/interpreter.hpp"
#include "python/pubsub_module.hpp"
#include "python/py_ref.hpp"
#include "python/state_backend.hpp"
#include "redis/connection.hpp"
#include "redis/state.hpp"

#include <Python.h>
#include <spdlog/logger.h>

#include <cstring>
#include <stdexcept>
#include <string_view>
#include <vector>

namespace hornbeam::python {
namespace {

using shm::ValueType;

StateBackend* the_backend = nullptr;

// Per module object (one per interpreter), as subinterpreters need.
struct ModuleState {
  PyObject* state_full;         // hornbeam.StateFull
  PyObject* state_unavailable;  // hornbeam.StateUnavailable
  PyObject* bad_request_body;   // hornbeam.BadRequestBody
  PyObject* dumps;              // pickle.dumps
  PyObject* loads;              // pickle.loads
};

ModuleState& state_of(PyObject* module) {
  return *static_cast<ModuleState*>(PyModule_GetState(module));
}

// Binds positional and keyword arguments to `names`; the first `required` must be given.
bool bind(const char* function, PyObject* const* args, Py_ssize_t count, PyObject* keywords,
          std::initializer_list<const char*> names, std::size_t required, PyObject** out) {
  const auto total = names.size();
  if (static_cast<std::size_t>(count) > total) {
    PyErr_Format(PyExc_TypeError, "%s() takes at most %zu arguments (%zd given)", function, total,
                 count);
    return false;
  }
  for (std::size_t i = 0; i < total; ++i)
    out[i] = i < static_cast<std::size_t>(count) ? args[i] : nullptr;
  const Py_ssize_t keyword_count = keywords ? PyTuple_GET_SIZE(keywords) : 0;
  for (Py_ssize_t k = 0; k < keyword_count; ++k) {
    const char* name = PyUnicode_AsUTF8(PyTuple_GET_ITEM(keywords, k));
    if (!name) return false;
    std::size_t i = 0;
    for (const char* candidate : names) {
      if (std::strcmp(candidate, name) == 0) break;
      ++i;
    }
    if (i == total) {
      PyErr_Format(PyExc_TypeError, "%s() got an unexpected keyword argument '%s'", function, name);
      return false;
    }
    if (out[i]) {
      PyErr_Format(PyExc_TypeError, "%s() got multiple values for argument '%s'", function, name);
      return false;
    }
    out[i] = args[count + k];
  }
  for (std::size_t i = 0; i < required; ++i) {
    if (!out[i]) {
      PyErr_Format(PyExc_TypeError, "%s() missing required argument '%s'", function,
                   names.begin()[i]);
      return false;
    }
  }
  return true;
}

// A key's UTF-8, borrowed from the str (which caches it). Keys are str only.
bool key_text(PyObject* key, std::string_view& text) {
  if (!PyUnicode_Check(key)) {
    PyErr_Format(PyExc_TypeError, "shared state keys are str, not %.100s", Py_TYPE(key)->tp_name);
    return false;
  }
  Py_ssize_t size = 0;
  const char* data = PyUnicode_AsUTF8AndSize(key, &size);
  if (!data) return false;
  text = {data, static_cast<std::size_t>(size)};
  return true;
}

bool store_ready() {
  if (the_backend) return true;
  PyErr_SetString(PyExc_RuntimeError, "the hornbeam shared state is not available");
  return false;
}

// A value as the store keeps it: natively when it is exactly str, bytes, int (64-bit),
// float, bool or None; else its pickle (which `owner` holds).
struct Encoded {
  ValueType type = ValueType::none;
  std::string_view bytes;
  PyRef owner;
  char scalar[8] = {};
};

bool encode(PyObject* module, PyObject* value, Encoded& encoded) {
  if (value == Py_None) {
    encoded.type = ValueType::none;
    return true;
  }
  if (value == Py_True || value == Py_False) {
    encoded.type = ValueType::boolean;
    encoded.scalar[0] = value == Py_True ? 1 : 0;
    encoded.bytes = {encoded.scalar, 1};
    return true;
  }
  if (PyLong_CheckExact(value)) {
    int overflow = 0;
    const long long number = PyLong_AsLongLongAndOverflow(value, &overflow);
    if (overflow == 0) {
      encoded.type = ValueType::integer;
      const std::int64_t as_int64 = number;
      std::memcpy(encoded.scalar, &as_int64, 8);
      encoded.bytes = {encoded.scalar, 8};
      return true;
    }
  } else if (PyFloat_CheckExact(value)) {
    encoded.type = ValueType::floating;
    const double number = PyFloat_AS_DOUBLE(value);
    std::memcpy(encoded.scalar, &number, 8);
    encoded.bytes = {encoded.scalar, 8};
    return true;
  } else if (PyUnicode_CheckExact(value)) {
    Py_ssize_t size = 0;
    if (const char* data = PyUnicode_AsUTF8AndSize(value, &size)) {
      encoded.type = ValueType::text;
      encoded.bytes = {data, static_cast<std::size_t>(size)};
      return true;
    }
    PyErr_Clear();  // lone surrogates have no UTF-8: the pickle keeps them
  } else if (PyBytes_CheckExact(value)) {
    encoded.type = ValueType::bytes;
    encoded.bytes = {PyBytes_AS_STRING(value), static_cast<std::size_t>(PyBytes_GET_SIZE(value))};
    return true;
  }
  PyRef protocol = PyRef::steal(PyLong_FromLong(-1));  // the highest
  encoded.owner = PyRef::steal(
      PyObject_CallFunctionObjArgs(state_of(module).dumps, value, protocol.get(), nullptr));
  if (!encoded.owner) return false;
  encoded.type = ValueType::pickle;
  encoded.bytes = {PyBytes_AS_STRING(encoded.owner.get()),
                   static_cast<std::size_t>(PyBytes_GET_SIZE(encoded.owner.get()))};
  return true;
}

// Called under the store's lock: builds only objects the garbage collector does not track
// (so no collection, and no finalizer that could re-enter the store, runs while it is held).
// A pickle comes out as bytes, for finish_decode() after the lock.
PyRef decode_locked(ValueType type, std::string_view bytes, bool& pickled) {
  pickled = false;
  switch (type) {
    case ValueType::none: return PyRef::borrow(Py_None);
    case ValueType::boolean:
      return PyRef::borrow(bytes.size() == 1 && bytes[0] ? Py_True : Py_False);
    case ValueType::integer: {
      std::int64_t number = 0;
      std::memcpy(&number, bytes.data(), std::min<std::size_t>(bytes.size(), 8));
      return PyRef::steal(PyLong_FromLongLong(number));
    }
    case ValueType::floating: {
      double number = 0;
      std::memcpy(&number, bytes.data(), std::min<std::size_t>(bytes.size(), 8));
      return PyRef::steal(PyFloat_FromDouble(number));
    }
    case ValueType::text:
      return PyRef::steal(PyUnicode_DecodeUTF8(bytes.data(), static_cast<Py_ssize_t>(bytes.size()),
                                               "surrogatepass"));
    case ValueType::pickle: pickled = true; [[fallthrough]];
    case ValueType::bytes:
      return PyRef::steal(
          PyBytes_FromStringAndSize(bytes.data(), static_cast<Py_ssize_t>(bytes.size())));
  }
  PyErr_SetString(PyExc_ValueError, "the shared state holds a value of an unknown type");
  return {};
}

PyRef finish_decode(PyObject* module, PyRef value, bool pickled) {
  if (!value || !pickled) return value;
  return PyRef::steal(PyObject_CallOneArg(state_of(module).loads, value.get()));
}

// StateFull with its figures (None where the backend has none: Redis says only that it is
// out of memory).
PyObject* raise_full(PyObject* module, const char* message, const shm::StoreUsage* usage,
                     std::size_t needed) {
  PyRef error = PyRef::steal(PyObject_CallFunction(state_of(module).state_full, "s", message));
  if (!error) return nullptr;
  auto figure = [&](std::size_t value) {
    return usage ? PyRef::steal(PyLong_FromSize_t(value)) : PyRef::borrow(Py_None);
  };
  PyObject_SetAttrString(error.get(), "needed", figure(needed).get());
  PyObject_SetAttrString(error.get(), "used", figure(usage ? usage->used : 0).get());
  PyObject_SetAttrString(error.get(), "capacity", figure(usage ? usage->capacity : 0).get());
  PyObject_SetAttrString(error.get(), "entries", figure(usage ? usage->entries : 0).get());
  PyErr_SetObject(state_of(module).state_full, error.get());
  return nullptr;
}

// Runs a store call, turning its C++ exceptions into Python ones.
template <typename Call>
PyObject* guarded(PyObject* module, Call&& call) {
  try {
    return call();
  } catch (const shm::StoreFull& full) {
    return raise_full(module, full.what(), &full.usage, full.needed);
  } catch (const redis::OutOfMemory& full) {
    return raise_full(module, full.what(), nullptr, 0);
  } catch (const redis::Unavailable& unavailable) {
    PyErr_Format(state_of(module).state_unavailable, "the shared state is unavailable: %s",
                 unavailable.what());
  } catch (const shm::NotAnInteger& e) {
    PyErr_SetString(PyExc_TypeError, e.what());
  } catch (const std::overflow_error& e) {
    PyErr_SetString(PyExc_OverflowError, e.what());
  } catch (const std::exception& e) {
    PyErr_SetString(PyExc_RuntimeError, e.what());
  }
  return nullptr;
}

PyObject* state_get(PyObject* module, PyObject* const* args, Py_ssize_t count, PyObject* keywords) {
  PyObject* bound[2];
  std::string_view key;
  if (!bind("state_get", args, count, keywords, {"key", "default"}, 1, bound) ||
      !key_text(bound[0], key) || !store_ready()) {
    return nullptr;
  }
  return guarded(module, [&]() -> PyObject* {
    PyRef value;
    bool pickled = false;
    const bool found = the_backend->get(key, [&](ValueType type, std::string_view bytes) {
      value = decode_locked(type, bytes, pickled);
    });
    if (!found) return Py_NewRef(bound[1] ? bound[1] : Py_None);
    return finish_decode(module, std::move(value), pickled).release();
  });
}

// The (key, value) arguments of state_set and state_add, the value encoded for the store.
bool key_and_value(const char* function, PyObject* module, PyObject* const* args, Py_ssize_t count,
                   PyObject* keywords, std::string_view& key, Encoded& value) {
  PyObject* bound[2];
  return bind(function, args, count, keywords, {"key", "value"}, 2, bound) &&
         key_text(bound[0], key) && store_ready() && encode(module, bound[1], value);
}

PyObject* state_set(PyObject* module, PyObject* const* args, Py_ssize_t count, PyObject* keywords) {
  std::string_view key;
  Encoded value;
  if (!key_and_value("state_set", module, args, count, keywords, key, value)) return nullptr;
  return guarded(module, [&]() -> PyObject* {
    the_backend->set(key, value.type, value.bytes);
    Py_RETURN_NONE;
  });
}

PyObject* state_add(PyObject* module, PyObject* const* args, Py_ssize_t count, PyObject* keywords) {
  std::string_view key;
  Encoded value;
  if (!key_and_value("state_add", module, args, count, keywords, key, value)) return nullptr;
  return guarded(module, [&]() -> PyObject* {
    return PyBool_FromLong(the_backend->add(key, value.type, value.bytes));
  });
}

PyObject* state_delete(PyObject* module, PyObject* const* args, Py_ssize_t count,
                       PyObject* keywords) {
  PyObject* bound[1];
  std::string_view key;
  if (!bind("state_delete", args, count, keywords, {"key"}, 1, bound) || !key_text(bound[0], key) ||
      !store_ready()) {
    return nullptr;
  }
  return guarded(module, [&]() -> PyObject* { return PyBool_FromLong(the_backend->erase(key)); });
}

PyObject* increment(const char* function, int sign, PyObject* module, PyObject* const* args,
                    Py_ssize_t count, PyObject* keywords) {
  PyObject* bound[2];
  std::string_view key;
  if (!bind(function, args, count, keywords, {"key", "delta"}, 1, bound) ||
      !key_text(bound[0], key) || !store_ready()) {
    return nullptr;
  }
  long long delta = 1;
  if (bound[1]) {
    if (!PyLong_Check(bound[1])) {
      PyErr_Format(PyExc_TypeError, "%s() delta must be an int, not %.100s", function,
                   Py_TYPE(bound[1])->tp_name);
      return nullptr;
    }
    delta = PyLong_AsLongLong(bound[1]);
    if (delta == -1 && PyErr_Occurred()) return nullptr;
  }
  if (sign < 0) {
    if (delta == INT64_MIN) {
      PyErr_Format(PyExc_OverflowError, "%s() delta is out of range", function);
      return nullptr;
    }
    delta = -delta;
  }
  return guarded(module, [&]() -> PyObject* {
    return PyLong_FromLongLong(the_backend->increment(key, delta));
  });
}

PyObject* state_incr(PyObject* module, PyObject* const* args, Py_ssize_t count,
                     PyObject* keywords) {
  return increment("state_incr", 1, module, args, count, keywords);
}

PyObject* state_decr(PyObject* module, PyObject* const* args, Py_ssize_t count,
                     PyObject* keywords) {
  return increment("state_decr", -1, module, args, count, keywords);
}

PyObject* state_get_multi(PyObject* module, PyObject* const* args, Py_ssize_t count,
                          PyObject* keywords) {
  PyObject* bound[1];
  if (!bind("state_get_multi", args, count, keywords, {"keys"}, 1, bound) || !store_ready())
    return nullptr;
  PyRef sequence =
      PyRef::steal(PySequence_Fast(bound[0], "state_get_multi() takes a list of keys"));
  if (!sequence) return nullptr;
  const Py_ssize_t size = PySequence_Fast_GET_SIZE(sequence.get());
  PyObject** items = PySequence_Fast_ITEMS(sequence.get());
  std::vector<std::string_view> keys(static_cast<std::size_t>(size));
  for (Py_ssize_t i = 0; i < size; ++i) {
    if (!key_text(items[i], keys[static_cast<std::size_t>(i)])) return nullptr;
  }
  return guarded(module, [&]() -> PyObject* {
    struct Found {
      std::size_t index;
      PyRef value;
      bool pickled;
    };
    std::vector<Found> found;
    // One lock for all: the values are a consistent snapshot.
    the_backend->get_many(keys, [&](std::size_t index, ValueType type, std::string_view bytes) {
      bool pickled = false;
      PyRef value = decode_locked(type, bytes, pickled);
      found.push_back({index, std::move(value), pickled});
    });
    PyRef result = PyRef::steal(PyDict_New());
    if (!result) return nullptr;
    for (auto& entry : found) {
      PyRef value = finish_decode(module, std::move(entry.value), entry.pickled);
      if (!value || PyDict_SetItem(result.get(), items[entry.index], value.get()) != 0)
        return nullptr;
    }
    return result.release();
  });
}

PyObject* state_keys(PyObject* module, PyObject* const* args, Py_ssize_t count,
                     PyObject* keywords) {
  PyObject* bound[1];
  std::string_view prefix;
  if (!bind("state_keys", args, count, keywords, {"prefix"}, 0, bound) || !store_ready())
    return nullptr;
  if (bound[0] && bound[0] != Py_None && !key_text(bound[0], prefix)) return nullptr;
  return guarded(module, [&]() -> PyObject* {
    // Keys are copied as str objects under the lock (not tracked by the collector), and the
    // list is built after.
    std::vector<PyRef> keys;
    bool failed = false;
    the_backend->keys(prefix, [&](std::string_view key) {
      if (failed) return;
      keys.push_back(PyRef::steal(
          PyUnicode_DecodeUTF8(key.data(), static_cast<Py_ssize_t>(key.size()), "surrogatepass")));
      failed = !keys.back();
    });
    if (failed) return nullptr;
    PyRef list = PyRef::steal(PyList_New(static_cast<Py_ssize_t>(keys.size())));
    if (!list) return nullptr;
    for (std::size_t i = 0; i < keys.size(); ++i)
      PyList_SET_ITEM(list.get(), static_cast<Py_ssize_t>(i), keys[i].release());
    return list.release();
  });
}

PyObject* state_info(PyObject* module, PyObject*) {
  if (!store_ready()) return nullptr;
  return guarded(module, [&]() -> PyObject* {
    PyRef info = PyRef::steal(the_backend->info());
    PyRef pubsub = PyRef::steal(pubsub_stats());
    if (!info || !pubsub || PyDict_SetItemString(info.get(), "pubsub", pubsub.get()) != 0)
      return nullptr;
    return info.release();
  });
}

// For the server's own Python (the glues): a line in the worker's error log.
PyObject* log_at(spdlog::level::level_enum level, PyObject* text) {
  if (!PyUnicode_Check(text)) {
    PyErr_SetString(PyExc_TypeError, "the log line must be a str");
    return nullptr;
  }
  logging::error_log().log(level, "{}", text_for_log(text));
  Py_RETURN_NONE;
}
PyObject* log_info(PyObject*, PyObject* text) { return log_at(spdlog::level::info, text); }
PyObject* log_error(PyObject*, PyObject* text) { return log_at(spdlog::level::err, text); }

#define FASTCALL(function) reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(function))

PyMethodDef functions[] = {
    {"state_get", FASTCALL(state_get), METH_FASTCALL | METH_KEYWORDS,
     "state_get(key, default=None): the value stored under key, or default."},
    {"state_set", FASTCALL(state_set), METH_FASTCALL | METH_KEYWORDS,
     "state_set(key, value): stores value (anything that pickles) for every worker; raises "
     "StateFull when it does not fit."},
    {"state_add", FASTCALL(state_add), METH_FASTCALL | METH_KEYWORDS,
     "state_add(key, value) -> bool: stores value only if key is missing (first writer wins)."},
    {"state_delete", FASTCALL(state_delete), METH_FASTCALL | METH_KEYWORDS,
     "state_delete(key) -> bool: removes key; False when it was missing."},
    {"state_incr", FASTCALL(state_incr), METH_FASTCALL | METH_KEYWORDS,
     "state_incr(key, delta=1) -> int: adds delta atomically (a missing key starts at 0)."},
    {"state_decr", FASTCALL(state_decr), METH_FASTCALL | METH_KEYWORDS,
     "state_decr(key, delta=1) -> int: subtracts delta atomically (a missing key starts at 0)."},
    {"state_get_multi", FASTCALL(state_get_multi), METH_FASTCALL | METH_KEYWORDS,
     "state_get_multi(keys) -> dict: the keys found, read at one instant."},
    {"state_keys", FASTCALL(state_keys), METH_FASTCALL | METH_KEYWORDS,
     "state_keys(prefix=None) -> list: every key (starting with prefix), in no order."},
    {"state_info", state_info, METH_NOARGS,
     "state_info() -> dict: capacity, used bytes, entries, largest_free, recoveries."},
    {"_log_info", log_info, METH_O, nullptr},
    {"_log_error", log_error, METH_O, nullptr},
    {nullptr, nullptr, 0, nullptr}};

int exec_module(PyObject* module) {
  auto& state = state_of(module);
  PyRef pickle = PyRef::steal(PyImport_ImportModule("pickle"));
  if (!pickle) return -1;
  state.dumps = PyObject_GetAttrString(pickle.get(), "dumps");
  state.loads = PyObject_GetAttrString(pickle.get(), "loads");
  state.state_full = PyErr_NewExceptionWithDoc(
      "hornbeam.StateFull",
      "The shared state has no room for the value (the store is unchanged). Attributes: "
      "needed, used, capacity, entries (bytes and counts; None on Redis, which says only that it "
      "is "
      "out of memory); shared_state.size sets the capacity of the shared memory.",
      PyExc_Exception, nullptr);
  state.state_unavailable = PyErr_NewExceptionWithDoc(
      "hornbeam.StateUnavailable",
      "The shared state's Redis did not answer within shared_state.timeout (down, unreachable "
      "or too slow): the call may or may not have taken effect. The worker reconnects by "
      "itself.",
      PyExc_Exception, nullptr);
  state.bad_request_body = PyErr_NewExceptionWithDoc(
      "hornbeam.BadRequestBody",
      "The request's body is malformed (a bad chunk, a forbidden trailer): the client's error. "
      "The server answers 400 whatever the app does; an OSError, so that `except OSError` code "
      "written for a client that disconnects keeps working.",
      PyExc_OSError, nullptr);
  if (!state.dumps || !state.loads || !state.state_full || !state.state_unavailable ||
      !state.bad_request_body) {
    return -1;
  }
  if (PyModule_AddObjectRef(module, "StateFull", state.state_full) != 0 ||
      PyModule_AddObjectRef(module, "StateUnavailable", state.state_unavailable) != 0 ||
      PyModule_AddObjectRef(module, "BadRequestBody", state.bad_request_body) != 0) {
    return -1;
  }
  if (add_pubsub(module) != 0) return -1;
  PyRef names = PyRef::steal(Py_BuildValue(
      "[ssssssssssssssss]", "state_get", "state_set", "state_delete", "state_incr", "state_decr",
      "state_get_multi", "state_keys", "state_add", "state_info", "StateFull", "StateUnavailable",
      "BadRequestBody", "publish", "subscribe", "Subscription", "forward_to_websocket"));
  return PyModule_AddObjectRef(module, "__all__", names.get());
}

int traverse_module(PyObject* module, visitproc visit, void* arg) {
  auto* state = static_cast<ModuleState*>(PyModule_GetState(module));
  if (state) {
    Py_VISIT(state->state_full);
    Py_VISIT(state->state_unavailable);
    Py_VISIT(state->bad_request_body);
    Py_VISIT(state->dumps);
    Py_VISIT(state->loads);
  }
  return 0;
}

int clear_module(PyObject* module) {
  auto* state = static_cast<ModuleState*>(PyModule_GetState(module));
  if (state) {
    Py_CLEAR(state->state_full);
    Py_CLEAR(state->state_unavailable);
    Py_CLEAR(state->bad_request_body);
    Py_CLEAR(state->dumps);
    Py_CLEAR(state->loads);
  }
  return 0;
}

void free_module(void* module) { clear_module(static_cast<PyObject*>(module)); }

PyModuleDef_Slot slots[] = {{Py_mod_exec, reinterpret_cast<void*>(exec_module)},
#ifdef Py_mod_multiple_interpreters
                            {Py_mod_multiple_interpreters, Py_MOD_PER_INTERPRETER_GIL_SUPPORTED},
#endif
                            {0, nullptr}};

PyModuleDef module_def = {PyModuleDef_HEAD_INIT,
                          "hornbeam",
                          "Hornbeam's shared state: one store for every worker and context on "
                          "the host (see docs/shared-state.md).",
                          sizeof(ModuleState),
                          functions,
                          slots,
                          traverse_module,
                          clear_module,
                          free_module};

PyObject* init_hornbeam() { return PyModuleDef_Init(&module_def); }

// hornbeam_erlang: the same objects as hornbeam (one StateFull class for both names).
int exec_alias(PyObject* alias) {
  PyRef original = PyRef::steal(PyImport_ImportModule("hornbeam"));
  if (!original) return -1;
  PyRef names = PyRef::steal(PyObject_GetAttrString(original.get(), "__all__"));
  if (!names) return -1;
  for (Py_ssize_t i = 0; i < PyList_GET_SIZE(names.get()); ++i) {
    PyObject* name = PyList_GET_ITEM(names.get(), i);
    PyRef value = PyRef::steal(PyObject_GetAttr(original.get(), name));
    if (!value || PyObject_SetAttr(alias, name, value.get()) != 0) return -1;
  }
  return PyObject_SetAttrString(alias, "__all__", names.get());
}

PyModuleDef_Slot alias_slots[] = {
    {Py_mod_exec, reinterpret_cast<void*>(exec_alias)},
#ifdef Py_mod_multiple_interpreters
    {Py_mod_multiple_interpreters, Py_MOD_PER_INTERPRETER_GIL_SUPPORTED},
#endif
    {0, nullptr}};

PyModuleDef alias_def = {PyModuleDef_HEAD_INIT,
                         "hornbeam_erlang",
                         "The hornbeam module under the Erlang Hornbeam's name.",
                         0,
                         nullptr,
                         alias_slots,
                         nullptr,
                         nullptr,
                         nullptr};

PyObject* init_alias() { return PyModuleDef_Init(&alias_def); }

}  // namespace

std::nullptr_t raise_bad_request_body(const char* message) {
  PyRef module = PyRef::steal(PyImport_ImportModule("hornbeam"));
  PyRef type =
      module ? PyRef::steal(PyObject_GetAttrString(module.get(), "BadRequestBody")) : PyRef();
  if (!type) PyErr_Clear();
  PyErr_SetString(type ? type.get() : PyExc_OSError, message);
  return nullptr;
}

void register_state_module(StateBackend& backend) {
  the_backend = &backend;
  if (PyImport_AppendInittab("hornbeam", init_hornbeam) != 0 ||
      PyImport_AppendInittab("hornbeam_erlang", init_alias) != 0) {
    throw std::runtime_error("cannot register the hornbeam module");
  }
}

}  // namespace hornbeam::python
