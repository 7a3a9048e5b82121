#include "python/pubsub_module.hpp"

#include "pubsub/bus.hpp"
#include "python/gil.hpp"
#include "python/py_ref.hpp"
#include "redis/connection.hpp"

#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>

namespace hornbeam::python {

extern const char* const pubsub_glue_source;  // pylib/hornbeam_pubsub.py, compiled in (CMake)

namespace {

pubsub::Bus* the_bus = nullptr;

// Python holds subscriptions by number: a handle that was closed is an error, never a
// dangling pointer.
std::mutex handles_mutex;
std::map<long long, std::shared_ptr<pubsub::Subscription>> handles;
long long next_handle = 1;

std::shared_ptr<pubsub::Subscription> find(PyObject* handle) {
  const long long number = PyLong_AsLongLong(handle);
  if (number == -1 && PyErr_Occurred()) return nullptr;
  std::lock_guard lock(handles_mutex);
  const auto found = handles.find(number);
  if (found == handles.end()) {
    PyErr_SetString(PyExc_ValueError, "the subscription is closed");
    return nullptr;
  }
  return found->second;
}

bool bus_ready() {
  if (the_bus) return true;
  PyErr_SetString(PyExc_RuntimeError, "hornbeam's pub/sub is not available");
  return false;
}

// Runs `call` without the GIL, turning the bus's exceptions into Python's.
template <class Call>
bool without_gil(PyObject* module, Call&& call) {
  try {
    GilRelease released;
    call();
    return true;
  } catch (const std::length_error& e) {
    PyErr_SetString(PyExc_ValueError, e.what());
  } catch (const redis::Unavailable& e) {
    PyRef type = PyRef::steal(PyObject_GetAttrString(module, "StateUnavailable"));
    PyErr_Format(type ? type.get() : PyExc_RuntimeError, "pub/sub is unavailable: %s", e.what());
  } catch (const std::exception& e) {
    PyErr_SetString(PyExc_RuntimeError, e.what());
  }
  return false;
}

PyObject* publish(PyObject* module, PyObject* const* args, Py_ssize_t count) {
  if (count != 2 || !PyUnicode_Check(args[0]) || !PyBytes_Check(args[1])) {
    PyErr_SetString(PyExc_TypeError, "_ps_publish(topic: str, payload: bytes)");
    return nullptr;
  }
  if (!bus_ready()) return nullptr;
  Py_ssize_t size = 0;
  const char* topic = PyUnicode_AsUTF8AndSize(args[0], &size);
  if (!topic) return nullptr;
  const std::string_view topic_text(topic, static_cast<std::size_t>(size));
  const std::string_view payload(PyBytes_AS_STRING(args[1]),
                                 static_cast<std::size_t>(PyBytes_GET_SIZE(args[1])));
  std::int64_t reached = 0;
  if (!without_gil(module, [&] { reached = the_bus->publish(topic_text, payload); }))
    return nullptr;
  return PyLong_FromLongLong(reached);
}

PyObject* subscribe(PyObject* module, PyObject* list) {
  if (!bus_ready()) return nullptr;
  PyRef items = PyRef::steal(PySequence_Fast(list, "_ps_subscribe(topics: list)"));
  if (!items) return nullptr;
  std::vector<std::string> topics;
  for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(items.get()); ++i) {
    Py_ssize_t size = 0;
    const char* topic = PyUnicode_AsUTF8AndSize(PySequence_Fast_GET_ITEM(items.get(), i), &size);
    if (!topic) return nullptr;
    topics.emplace_back(topic, static_cast<std::size_t>(size));
  }
  std::shared_ptr<pubsub::Subscription> subscription;
  if (!without_gil(module, [&] { subscription = the_bus->subscribe(std::move(topics)); }))
    return nullptr;
  std::lock_guard lock(handles_mutex);
  const long long handle = next_handle++;
  handles.emplace(handle, std::move(subscription));
  return PyLong_FromLongLong(handle);
}

PyObject* take(PyObject*, PyObject* handle) {
  auto subscription = find(handle);
  if (!subscription) return nullptr;
  auto message = subscription->take();
  if (!message) Py_RETURN_NONE;
  PyRef topic = PyRef::steal(PyUnicode_DecodeUTF8(
      message->topic.data(), static_cast<Py_ssize_t>(message->topic.size()), "surrogateescape"));
  PyRef payload = PyRef::steal(PyBytes_FromStringAndSize(
      message->payload.data(), static_cast<Py_ssize_t>(message->payload.size())));
  if (!topic || !payload) return nullptr;
  return PyTuple_Pack(2, topic.get(), payload.get());
}

PyObject* wait(PyObject* module, PyObject* const* args, Py_ssize_t count) {
  if (count != 2) {
    PyErr_SetString(PyExc_TypeError, "_ps_wait(handle, timeout_seconds)");
    return nullptr;
  }
  auto subscription = find(args[0]);
  if (!subscription) return nullptr;
  const double seconds = PyFloat_AsDouble(args[1]);
  if (seconds == -1.0 && PyErr_Occurred()) return nullptr;
  const int timeout_ms = seconds < 0 ? -1 : static_cast<int>(seconds * 1000);
  bool ready = false;
  if (!without_gil(module, [&] { ready = subscription->wait(timeout_ms); })) return nullptr;
  return PyBool_FromLong(ready);
}

PyObject* fileno(PyObject*, PyObject* handle) {
  auto subscription = find(handle);
  return subscription ? PyLong_FromLong(subscription->fd()) : nullptr;
}

PyObject* dropped(PyObject*, PyObject* handle) {
  auto subscription = find(handle);
  return subscription ? PyLong_FromUnsignedLongLong(subscription->dropped()) : nullptr;
}

PyObject* close(PyObject* module, PyObject* handle) {
  auto subscription = find(handle);
  if (!subscription) return nullptr;
  {
    std::lock_guard lock(handles_mutex);
    handles.erase(PyLong_AsLongLong(handle));
  }
  if (!without_gil(module, [&] { the_bus->unsubscribe(subscription); })) return nullptr;
  Py_RETURN_NONE;
}

#define FASTCALL(function) reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(function))

PyMethodDef functions[] = {{"_ps_publish", FASTCALL(publish), METH_FASTCALL, nullptr},
                           {"_ps_subscribe", subscribe, METH_O, nullptr},
                           {"_ps_take", take, METH_O, nullptr},
                           {"_ps_wait", FASTCALL(wait), METH_FASTCALL, nullptr},
                           {"_ps_fileno", fileno, METH_O, nullptr},
                           {"_ps_dropped", dropped, METH_O, nullptr},
                           {"_ps_close", close, METH_O, nullptr},
                           {nullptr, nullptr, 0, nullptr}};

}  // namespace

void set_pubsub_bus(pubsub::Bus& bus) { the_bus = &bus; }

PyObject* pubsub_stats() {
  if (!the_bus) return PyDict_New();
  const auto stats = the_bus->stats();
  return Py_BuildValue("{s:K,s:K,s:K,s:n}", "published",
                       static_cast<unsigned long long>(stats.published), "delivered",
                       static_cast<unsigned long long>(stats.delivered), "dropped",
                       static_cast<unsigned long long>(stats.dropped), "subscriptions",
                       static_cast<Py_ssize_t>(stats.subscriptions));
}

int add_pubsub(PyObject* module) {
  if (PyModule_AddFunctions(module, functions) != 0) return -1;
  PyObject* namespace_ = PyModule_GetDict(module);  // borrowed
  PyRef code = PyRef::steal(
      Py_CompileString(pubsub_glue_source, "hornbeam/hornbeam_pubsub.py", Py_file_input));
  if (!code) return -1;
  PyRef result = PyRef::steal(PyEval_EvalCode(code.get(), namespace_, namespace_));
  return result ? 0 : -1;
}

}  // namespace hornbeam::python
