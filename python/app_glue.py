"""How the worker turns what `module:callable` names into the app it serves (compiled into the
worker: python/CMakeLists.txt). Run in every interpreter that loads an app."""

import ast
import inspect
import sys
import threading


class SpecError(Exception):
    """The app spec or the app is wrong in a way its message says whole (no traceback)."""


# Apps made by factories, by spec, for this interpreter: every context of a thread-mode worker
# serves the one app the factory made, as Gunicorn's threads do. The registry outlives this
# module (a fresh module per load), so it lives in sys, set once under the GIL.
_registry = sys.__dict__.setdefault("_hornbeam_apps_made", ({}, threading.Lock()))


def made_by_factory(factory, call, spec):
    """`module:create_app(...)`, as Gunicorn reads it: the arguments are Python literals."""
    try:
        expression = ast.parse("factory" + call, mode="eval").body
    except SyntaxError:
        expression = None
    if not (isinstance(expression, ast.Call) and isinstance(expression.func, ast.Name)):
        raise SpecError(f"`{call}` is not a call's arguments")
    try:
        args = [ast.literal_eval(arg) for arg in expression.args]
        kwargs = {kw.arg: ast.literal_eval(kw.value) for kw in expression.keywords}
    except (ValueError, TypeError, SyntaxError, RecursionError):
        raise SpecError("the factory's arguments must be Python literals "
                        "(strings, numbers, True, None, lists...)") from None
    if any(name is None for name in kwargs):
        raise SpecError("`**` is not a literal argument")
    if not callable(factory):
        raise SpecError("what it names is not callable, so not a factory")
    made, lock = _registry
    with lock:  # a factory that releases the GIL still runs once
        if spec not in made:
            try:
                signature = inspect.signature(factory)
            except Exception:  # no signature to check (a builtin): the call will say
                signature = None
            if signature is not None:
                try:
                    signature.bind(*args, **kwargs)
                except TypeError as error:
                    raise SpecError(f"the factory cannot take these arguments: {error}") from None
            app = factory(*args, **kwargs)
            if app is None:
                raise SpecError("the factory returned None, not an app")
            made[spec] = app
        return made[spec]


def _takes(app, count):
    """Whether `app` can be called with `count` positional arguments; None when its signature
    cannot be read (a builtin, an extension type)."""
    try:
        signature = inspect.signature(app)
    except Exception:  # no signature to read (a builtin), or an object that fails to say
        return None
    try:
        signature.bind(*[None] * count)
    except TypeError:
        return False
    return True


def _is_coroutine_function(app):
    """An `async def`, or an instance whose `__call__` is one (a class's `__call__` is its
    instances')."""
    if inspect.isclass(app):
        return False
    try:
        return inspect.iscoroutinefunction(app) or inspect.iscoroutinefunction(
            getattr(app, "__call__", None))
    except Exception:  # a proxy object that fails to say: served as configured
        return False


def wsgi_problem(app, spec):
    """Why `app` cannot be a WSGI app, or None. Only what is certain: a call that could never
    work, so that every request would be a 500."""
    if _is_coroutine_function(app):
        return (f"app `{spec}` is an ASGI app (an `async def`): serve it with "
                "`worker_class: asgi` (`-k asgi`), or mount it with `@asgi`")
    if _takes(app, 2) is False:
        hint = ""
        if _takes(app, 3) or _takes(app, 1):
            hint = (f" (it takes {'scope, receive and send' if _takes(app, 3) else 'one argument'}"
                    ", as an ASGI app does: serve it with `worker_class: asgi`)")
        return (f"app `{spec}` cannot be called with environ and start_response, "
                f"as WSGI calls it{hint}")
    return None


def as_asgi3(app, spec):
    """`app` as an ASGI 3 callable, and why it cannot be one (or None).

    An ASGI 2 app ("double callable": a class, or a function, called with the scope alone,
    whose result is then awaited with receive and send) gets an adapter, as Uvicorn's and
    Hypercorn's `auto` interface gives it. asgiref's markers decide first."""
    if getattr(app, "_asgi_single_callable", False) or _is_coroutine_function(app):
        return app, None
    if inspect.isclass(app) and hasattr(app, "__await__"):
        return app, None  # its instance, made with scope, receive and send, is awaited
    double = getattr(app, "_asgi_double_callable", False)
    if double or (_takes(app, 3) is False and _takes(app, 1)):
        return _asgi2_adapter(app), None
    if _takes(app, 3) is False and _takes(app, 2):
        return app, (f"app `{spec}` takes environ and start_response, as a WSGI app does: "
                     "serve it with `worker_class: wsgi`")
    return app, None


def _asgi2_adapter(app):
    async def asgi2_app(scope, receive, send):
        instance = app(scope)
        return await instance(receive, send)

    asgi2_app.__wrapped__ = app
    return asgi2_app
