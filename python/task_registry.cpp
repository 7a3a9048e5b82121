#include "python/task_registry.hpp"

#include "python/py_ref.hpp"

namespace hornbeam::python {
namespace {

// What WeakSet.__init__ made and never rebinds (its methods change these objects in place),
// so they are looked up once: (data, _pending_removals, _iterating, _commit_removals, remover).
enum Slot : Py_ssize_t { data_slot, pending_slot, iterating_slot, commit_slot, remover_slot };

// WeakSet's _remove: a dead task's weak reference leaves the set, or waits in
// _pending_removals while someone iterates over the set.
PyObject* remove_dead(PyObject* parts, PyObject* reference) {
  PyObject* pending = PyTuple_GET_ITEM(parts, pending_slot);
  PyObject* iterating = PyTuple_GET_ITEM(parts, iterating_slot);
  const bool failed = PySet_GET_SIZE(iterating) > 0
                          ? PyList_Append(pending, reference) < 0
                          : PySet_Discard(PyTuple_GET_ITEM(parts, data_slot), reference) < 0;
  if (failed) return nullptr;
  Py_RETURN_NONE;
}

// WeakSet.add.
PyObject* add(PyObject* parts, PyObject* task) {
  if (PyList_GET_SIZE(PyTuple_GET_ITEM(parts, pending_slot)) > 0) {
    PyRef committed = PyRef::steal(PyObject_CallNoArgs(PyTuple_GET_ITEM(parts, commit_slot)));
    if (!committed) return nullptr;
  }
  PyRef reference = PyRef::steal(PyWeakref_NewRef(task, PyTuple_GET_ITEM(parts, remover_slot)));
  if (!reference || PySet_Add(PyTuple_GET_ITEM(parts, data_slot), reference.get()) < 0)
    return nullptr;
  Py_RETURN_NONE;
}

PyMethodDef remove_def = {"_hornbeam_remove", remove_dead, METH_O, nullptr};
PyMethodDef add_def = {"add", add, METH_O, nullptr};

PyRef attribute(PyObject* object, const char* name) {
  return PyRef::steal(PyObject_GetAttrString(object, name));
}

}  // namespace

bool speed_up_task_registry() {
  PyRef tasks = PyRef::steal(PyImport_ImportModule("asyncio.tasks"));
  PyRef weakref = PyRef::steal(PyImport_ImportModule("weakref"));
  if (!tasks || !weakref) return false;
  PyRef weak_set = attribute(weakref.get(), "WeakSet");
  if (!weak_set) return false;
  PyRef registry;
  for (const char* name : {"_scheduled_tasks", "_all_tasks"}) {
    registry = attribute(tasks.get(), name);
    if (registry) break;
    PyErr_Clear();
  }
  if (!registry || Py_TYPE(registry.get()) != reinterpret_cast<PyTypeObject*>(weak_set.get()))
    return true;  // another Python's registry: left as it is
  PyRef own = PyRef::steal(PyObject_GenericGetDict(registry.get(), nullptr));
  if (!own) return false;
  if (PyDict_GetItemString(own.get(), "add")) return true;  // done for this interpreter

  PyRef data = attribute(registry.get(), "data");
  PyRef pending = attribute(registry.get(), "_pending_removals");
  PyRef iterating = attribute(registry.get(), "_iterating");
  PyRef commit = attribute(registry.get(), "_commit_removals");
  if (!data || !pending || !iterating || !commit) return false;
  if (!PySet_Check(data.get()) || !PyList_Check(pending.get()) || !PySet_Check(iterating.get()))
    return true;  // not the WeakSet this was written against: left as it is
  PyRef remove_parts = PyRef::steal(PyTuple_Pack(3, data.get(), pending.get(), iterating.get()));
  if (!remove_parts) return false;
  PyRef remover = PyRef::steal(PyCFunction_New(&remove_def, remove_parts.get()));
  if (!remover) return false;
  PyRef add_parts = PyRef::steal(
      PyTuple_Pack(5, data.get(), pending.get(), iterating.get(), commit.get(), remover.get()));
  if (!add_parts) return false;
  PyRef fast_add = PyRef::steal(PyCFunction_New(&add_def, add_parts.get()));
  return fast_add && PyObject_SetAttrString(registry.get(), "add", fast_add.get()) == 0;
}

}  // namespace hornbeam::python
