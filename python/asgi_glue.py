# The Python half of hornbeam's ASGI adapter, compiled into hornbeam-worker and run once per
# context. The hot path (scope, receive, send, and the coroutine each request's Task runs) is
# C++ (python/asgi_*.cpp, python/exchange_runner.cpp); what lives here is what reads best in
# Python: the lifespan protocol and its shared state, and the choice of event loop.

import asyncio
import pickle
import traceback
from collections.abc import Mapping, MutableMapping

import hornbeam


def new_event_loop(choice):
    """The context's loop: uvloop when asked for, or when `auto` and importable; and why
    `auto` did not get uvloop (None when it was not asked for or got it)."""
    if choice in ("auto", "uvloop"):
        try:
            import uvloop
        except ImportError as error:
            if choice == "uvloop":
                raise
            return asyncio.new_event_loop(), "asyncio", str(error)
        else:
            return uvloop.new_event_loop(), "uvloop", None
    return asyncio.new_event_loop(), "asyncio", None


_MISSING = object()


class SharedState(MutableMapping, dict):
    """The lifespan `state`, and every request's scope["state"]: a view on the shared store,
    so one state for all workers. A value that does not pickle (a connection pool) stays in
    this context, shadowing the shared key. While startup runs, a shared key that is already
    set keeps its value (first writer wins): a restarted worker or a new generation sees the
    values the running ones use.

    A dict subclass because the ASGI spec types the state as a dict and apps check
    `isinstance(state, dict)`; every dict method goes through the view (MutableMapping's
    methods come first in the order of bases). The dict's own storage stays empty: code that
    reads a dict through the C API directly (json.dumps of the state itself) sees no keys, so
    take a snapshot with dict(state) for that.

    An app mounted under a prefix has a state of its own: its keys live in the store under a
    namespace made of the prefix between NULs ("\\0/api\\0flag"), which the app at `/` (or a
    lone app) does not see; its own keys are the store's keys as they are."""

    def __init__(self, namespace=""):
        dict.__init__(self)
        self.local = {}
        self.starting = True
        self.namespace = namespace

    def _stored(self, key):
        return self.namespace + key

    def __getitem__(self, key):
        if key in self.local:
            return self.local[key]
        value = hornbeam.state_get(self._stored(key), _MISSING) if isinstance(key, str) else _MISSING
        if value is _MISSING:
            raise KeyError(key)
        return value

    def __setitem__(self, key, value):
        if isinstance(key, str):
            try:
                if self.starting:
                    hornbeam.state_add(self._stored(key), value)
                else:
                    hornbeam.state_set(self._stored(key), value)
                self.local.pop(key, None)
                return
            except (TypeError, AttributeError, pickle.PicklingError) as error:
                reason = f"{type(error).__name__}: {error}"
        else:
            reason = "its key is not a str"
        if key not in self.local:
            hornbeam._log_info(
                f"ASGI state {key!r} stays in this worker, unshared ({reason})")
        self.local[key] = value

    def __delitem__(self, key):
        if key in self.local:
            del self.local[key]
        elif not (isinstance(key, str) and hornbeam.state_delete(self._stored(key))):
            raise KeyError(key)

    def __contains__(self, key):
        if key in self.local:
            return True
        return isinstance(key, str) and hornbeam.state_get(self._stored(key), _MISSING) is not _MISSING

    def __iter__(self):
        if self.namespace:
            keys = [key[len(self.namespace):] for key in hornbeam.state_keys(self.namespace)]
        else:  # the other mounts' namespaces are not this state's keys
            keys = [key for key in hornbeam.state_keys() if not key.startswith("\0")]
        shared = [key for key in keys if key not in self.local]
        return iter([*self.local, *shared])

    def __len__(self):
        return sum(1 for _ in self)

    def __repr__(self):
        return f"SharedState({dict(self)!r})"

    # dict's own versions of these would read or write its (empty) storage.
    def copy(self):
        """A snapshot, as a plain dict."""
        return dict(self)

    def __or__(self, other):
        return {**self, **other} if isinstance(other, Mapping) else NotImplemented

    def __ror__(self, other):
        return {**other, **self} if isinstance(other, Mapping) else NotImplemented

    def __ior__(self, other):
        self.update(other)
        return self

    def __reversed__(self):
        return reversed(list(self))

    __hash__ = None


def path_without_root_path(app):
    """Whether `app` expects scope["path"] without its root_path. The ASGI spec's path holds
    the root_path, as current Starlette (0.35 and later) and Uvicorn take it; Starlette before
    0.35 (Debian 12 ships 0.26, under FastAPI 0.92) routes on `path` alone and would find no
    route under a prefix. Judged once per mount, at boot, by the app's classes."""
    app = getattr(app, "__wrapped__", app)  # the app inside the request hooks' wrapper
    modules = {cls.__module__.split(".")[0] for cls in type(app).__mro__}
    if not modules & {"starlette", "fastapi"}:
        return False
    try:
        import starlette
        version = tuple(int(part) for part in starlette.__version__.split(".")[:2])
    except (ImportError, AttributeError, ValueError):
        return False
    return version < (0, 35)


class Lifespan:
    """ASGI lifespan 2.0 for one context: startup before the context serves, shutdown after."""

    def __init__(self, app, loop, state):
        self.app = app
        self.loop = loop
        self.state = state
        self.messages = asyncio.Queue()
        self.startup = loop.create_future()
        self.shutdown = loop.create_future()
        self.task = None

    def run_startup(self):
        """("complete", None), ("failed", message), ("error", traceback) or
        ("returned", None) when the app returned without answering."""
        self.task = self.loop.create_task(self.main())
        self.messages.put_nowait({"type": "lifespan.startup"})
        return self.loop.run_until_complete(self.startup)

    def run_shutdown(self, timeout):
        """The same outcomes as startup, or ("timeout", None)."""
        if self.task is None or self.task.done():
            return ("returned", None)
        self.messages.put_nowait({"type": "lifespan.shutdown"})
        try:
            return self.loop.run_until_complete(asyncio.wait_for(asyncio.shield(self.shutdown), timeout))
        except asyncio.TimeoutError:
            return ("timeout", None)

    async def main(self):
        scope = {
            "type": "lifespan",
            "asgi": {"version": "3.0", "spec_version": "2.0"},
            "state": self.state,
        }
        outcome = ("returned", None)
        try:
            await self.app(scope, self.receive, self.send)
        except BaseException as error:  # noqa: B036
            outcome = ("error", "".join(traceback.format_exception(error)))
        for pending in (self.startup, self.shutdown):
            if not pending.done():
                pending.set_result(outcome)

    async def receive(self):
        return await self.messages.get()

    async def send(self, message):
        kind = message["type"]
        if kind in ("lifespan.startup.complete", "lifespan.startup.failed"):
            target = self.startup
        elif kind in ("lifespan.shutdown.complete", "lifespan.shutdown.failed"):
            target = self.shutdown
        else:
            raise RuntimeError(f"unexpected ASGI lifespan message {kind!r}")
        if target.done():
            raise RuntimeError(f"{kind!r} sent twice or out of order")
        if kind.endswith(".failed"):
            target.set_result(("failed", str(message.get("message", ""))))
        else:
            target.set_result(("complete", None))


def cancel_remaining(loop):
    """At the end of a context: cancel what still runs and let it unwind."""
    tasks = [task for task in asyncio.all_tasks(loop) if not task.done()]
    for task in tasks:
        task.cancel()
    if tasks:
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
    loop.run_until_complete(loop.shutdown_asyncgens())
