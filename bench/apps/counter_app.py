"""The shared-state benchmark's apps (bench/shared_state.py): a page-hit counter kept in
hornbeam's shared state (`app`, on whichever backend the worker has) or in Redis through
redis-py (`redis_app`), and `micro`, which times the state calls themselves from Python."""

import os
import time

HEADERS = [("Content-Type", "text/plain")]


def app(environ, start_response):
    import hornbeam

    hits = hornbeam.state_incr("hits")
    start_response("200 OK", HEADERS)
    return [b"hit %d" % hits]


_redis = None


def redis_app(environ, start_response):
    global _redis
    if _redis is None:
        import redis

        _redis = redis.Redis.from_url(os.environ["BENCH_REDIS_URL"])
    hits = _redis.incr("hits")
    start_response("200 OK", HEADERS)
    return [b"hit %d" % hits]


def _time_per_call(function, count):
    start = time.perf_counter_ns()
    for _ in range(count):
        function()
    return (time.perf_counter_ns() - start) / count


def micro(environ, start_response):
    """ns per call of get/set/incr with small values, for ?backend=hornbeam|redis|local."""
    backend = environ.get("QUERY_STRING", "backend=hornbeam").split("=")[1]
    if backend == "redis":
        import redis

        client = redis.Redis.from_url(os.environ["BENCH_REDIS_URL"])
        get, put, incr = client.get, client.set, client.incr
    else:
        if backend == "local":  # pylib's process-local module: the floor of a Python call
            import importlib.util

            spec = importlib.util.spec_from_file_location("hornbeam_local", os.environ["BENCH_PYLIB"])
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
        else:
            import hornbeam as module
        get, put, incr = module.state_get, module.state_set, module.state_incr
    # Calls that make a network round trip each are fewer.
    on_the_network = backend == "redis" or (backend == "hornbeam" and module.state_info()["backend"] != "shm")
    count = 20_000 if on_the_network else 200_000
    put("bench:key", "a small value of 32 bytes........")
    results = {
        "get": _time_per_call(lambda: get("bench:key"), count),
        "set": _time_per_call(lambda: put("bench:key", "a small value of 32 bytes........"), count),
        "incr": _time_per_call(lambda: incr("bench:counter"), count),
    }
    body = " ".join(f"{name}={ns:.0f}" for name, ns in results.items()).encode()
    start_response("200 OK", HEADERS)
    return [body]
