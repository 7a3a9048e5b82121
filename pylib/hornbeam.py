"""Hornbeam's shared state, process-local: for running and testing an app outside the server.

Inside hornbeam-worker, `import hornbeam` gets the server's built-in module instead (built-in
modules come before sys.path), whose store every worker and context on the host shares. This
one keeps the same API and rules in a dict of this process: values are kept as copies (a
pickle, or the value itself when it is exactly str, bytes, a 64-bit int, float, bool or None),
keys are str, counters are 64-bit. See docs/shared-state.md.
"""

import logging
import pickle
import threading

__all__ = [
    "state_get", "state_set", "state_delete", "state_incr", "state_decr", "state_get_multi",
    "state_keys", "state_add", "state_info", "StateFull", "StateUnavailable",
]


class StateFull(Exception):
    """The shared state has no room for the value (the store is unchanged). Attributes:
    needed, used, capacity, entries (bytes and counts; None on Redis, which says only that it is
    out of memory); shared_state.size sets the capacity of the shared memory."""


class StateUnavailable(Exception):
    """The shared state's Redis did not answer within shared_state.timeout (down, unreachable
    or too slow): the call may or may not have taken effect. Never raised by this process-local
    store; here so that code catching it runs outside the server too."""


_INT64 = (-(1 << 63), (1 << 63) - 1)
_NATIVE = (str, bytes, float, bool, type(None))
_lock = threading.Lock()
_store = {}  # key -> (native, value); non-native values are pickles


def _check_key(key):
    if not isinstance(key, str):
        raise TypeError(f"shared state keys are str, not {type(key).__name__}")


def _encode(value):
    kind = type(value)
    if kind in _NATIVE or (kind is int and _INT64[0] <= value <= _INT64[1]):
        return (True, value)
    return (False, pickle.dumps(value, -1))


def _decode(stored):
    native, value = stored
    return value if native else pickle.loads(value)


def state_get(key, default=None):
    """The value stored under key, or default."""
    _check_key(key)
    with _lock:
        stored = _store.get(key)
    return default if stored is None else _decode(stored)


def state_set(key, value):
    """Stores value (anything that pickles)."""
    _check_key(key)
    encoded = _encode(value)
    with _lock:
        _store[key] = encoded


def state_add(key, value):
    """Stores value only if key is missing (first writer wins); True when it did."""
    _check_key(key)
    encoded = _encode(value)
    with _lock:
        if key in _store:
            return False
        _store[key] = encoded
        return True


def state_delete(key):
    """Removes key; False when it was missing."""
    _check_key(key)
    with _lock:
        return _store.pop(key, None) is not None


def _add(function, key, delta):
    _check_key(key)
    if not isinstance(delta, int):
        raise TypeError(f"{function}() delta must be an int, not {type(delta).__name__}")
    with _lock:
        native, current = _store.get(key, (True, 0))
        if not native or type(current) is not int:
            raise TypeError(f"the value of {key!r} is not an integer")
        result = current + delta
        if not _INT64[0] <= result <= _INT64[1]:
            raise OverflowError(f"incrementing {key!r} would leave the 64-bit range of shared counters")
        _store[key] = (True, result)
        return result


def state_incr(key, delta=1):
    """Adds delta atomically (a missing key starts at 0); the new value."""
    return _add("state_incr", key, delta)


def state_decr(key, delta=1):
    """Subtracts delta atomically (a missing key starts at 0); the new value."""
    if not isinstance(delta, int):
        raise TypeError(f"state_decr() delta must be an int, not {type(delta).__name__}")
    return _add("state_decr", key, -delta)


def state_get_multi(keys):
    """A dict of the keys found, read at one instant."""
    keys = list(keys)
    for key in keys:
        _check_key(key)
    with _lock:
        found = [(key, _store[key]) for key in keys if key in _store]
    return {key: _decode(stored) for key, stored in found}


def state_keys(prefix=None):
    """Every key (starting with prefix), in no particular order."""
    if prefix is not None:
        _check_key(prefix)
    with _lock:
        return [key for key in _store if prefix is None or key.startswith(prefix)]


def state_info():
    """Figures of the store; this process-local one has no fixed capacity."""
    with _lock:
        return {"backend": "local", "capacity": 0, "used": 0, "entries": len(_store), "largest_free": 0,
                "recoveries": 0}


def _log_info(text):
    logging.getLogger("hornbeam").info(text)
