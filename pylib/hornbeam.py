"""Hornbeam's shared state, process-local: for running and testing an app outside the server.

Inside hornbeam-worker, `import hornbeam` gets the server's built-in module instead (built-in
modules come before sys.path), whose store every worker and context on the host shares. This
one keeps the same API and rules in a dict of this process: values are kept as copies (a
pickle, or the value itself when it is exactly str, bytes, a 64-bit int, float, bool or None),
keys are str, counters are 64-bit. See docs/shared-state.md.
"""

import collections
import itertools
import logging
import os
import pickle
import select
import threading
from pathlib import Path

__all__ = [
    "state_get", "state_set", "state_delete", "state_incr", "state_decr", "state_get_multi",
    "state_keys", "state_add", "state_info", "StateFull", "StateUnavailable", "publish", "subscribe",
    "Subscription", "forward_to_websocket",
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
        entries = len(_store)
    return {"backend": "local", "capacity": 0, "used": 0, "entries": entries, "largest_free": 0,
            "recoveries": 0, "pubsub": _pubsub_stats()}


# Pub/sub within this process: the primitives hornbeam_pubsub.py runs over (in the server, the
# C half carries messages between workers).

_MAX_QUEUED = 1000
_subscriptions_lock = threading.Lock()
_subscriptions = {}  # handle -> _Mailbox
_by_topic = collections.defaultdict(set)  # topic -> handles
_handles = itertools.count(1)
_published = _delivered = 0


class _Mailbox:
    def __init__(self, topics):
        self.topics = topics
        self.queue = collections.deque()
        self.dropped = 0
        self.fd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        self.signalled = False
        self.lock = threading.Lock()


def _mailbox(handle):
    with _subscriptions_lock:
        mailbox = _subscriptions.get(handle)
    if mailbox is None:
        raise ValueError("the subscription is closed")
    return mailbox


def _ps_publish(topic, payload):
    global _published, _delivered
    if len(topic.encode("utf-8", "surrogatepass")) + len(payload) > 64 * 1024:
        raise ValueError("a pub/sub message (topic and payload) is 64 KiB at most")
    with _subscriptions_lock:
        mailboxes = [_subscriptions[handle] for handle in _by_topic.get(topic, ())]
        _published += 1
    reached = 0
    for mailbox in mailboxes:
        with mailbox.lock:
            if len(mailbox.queue) >= _MAX_QUEUED:
                mailbox.dropped += 1
                continue
            mailbox.queue.append((topic, payload))
            reached += 1
            if not mailbox.signalled:
                mailbox.signalled = True
                os.eventfd_write(mailbox.fd, 1)
    with _subscriptions_lock:
        _delivered += reached
    return reached


def _ps_subscribe(topics):
    handle = next(_handles)
    with _subscriptions_lock:
        _subscriptions[handle] = _Mailbox(topics)
        for topic in topics:
            _by_topic[topic].add(handle)
    return handle


def _ps_take(handle):
    mailbox = _mailbox(handle)
    with mailbox.lock:
        if mailbox.queue:
            return mailbox.queue.popleft()
        if mailbox.signalled:
            os.eventfd_read(mailbox.fd)
            mailbox.signalled = False
    return None


def _ps_wait(handle, timeout):
    ready, _, _ = select.select([_mailbox(handle).fd], [], [], None if timeout < 0 else timeout)
    return bool(ready)


def _ps_fileno(handle):
    return _mailbox(handle).fd


def _ps_dropped(handle):
    return _mailbox(handle).dropped


def _ps_close(handle):
    with _subscriptions_lock:
        mailbox = _subscriptions.pop(handle, None)
        if mailbox is None:
            raise ValueError("the subscription is closed")
        for topic in mailbox.topics:
            _by_topic[topic].discard(handle)
            if not _by_topic[topic]:
                del _by_topic[topic]
    os.close(mailbox.fd)


def _pubsub_stats():
    with _subscriptions_lock:
        return {"published": _published, "delivered": _delivered,
                "dropped": sum(mailbox.dropped for mailbox in _subscriptions.values()),
                "subscriptions": len(_subscriptions)}


_glue = Path(__file__).with_name("hornbeam_pubsub.py")
exec(compile(_glue.read_text(), str(_glue), "exec"), globals())  # noqa: S102 - our own source


def _log_info(text):
    logging.getLogger("hornbeam").info(text)
