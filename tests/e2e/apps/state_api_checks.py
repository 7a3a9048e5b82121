"""The shared state's API, exercised the same way inside the server (the built-in module) and
outside it (pylib/hornbeam.py): both must give the results in test_shared_state.py."""

import asyncio
import datetime
import fractions
import time


def outcome(call):
    try:
        return ["ok", call()]
    except Exception as error:  # noqa: BLE001 - the type is the result
        return ["raised", type(error).__name__]


def run(hb):
    results = {}
    for key in hb.state_keys("api:"):
        hb.state_delete(key)
    values = {
        "str": "héllo ✓", "bytes": b"\x00\xff", "int": -(2**63), "big_int": 2**100, "float": 1.5,
        "true": True, "none": None, "list": [1, "two", [3.0]], "dict": {"a": {"b": (1, 2)}},
        "date": datetime.date(2026, 11, 29), "fraction": fractions.Fraction(1, 3),
        "surrogate": "\udc80",
    }
    for name, value in values.items():
        hb.state_set(f"api:{name}", value)
        back = hb.state_get(f"api:{name}")
        results[f"roundtrip {name}"] = back == value and type(back) is type(value)
    results["missing is the default"] = hb.state_get("api:missing", "dflt")
    results["missing is None"] = hb.state_get("api:missing")
    results["default by keyword"] = hb.state_get("api:missing", default=7)
    stored = [1, 2]
    hb.state_set("api:copy", stored)
    stored.append(3)
    results["values are copies"] = hb.state_get("api:copy")
    results["incr starts at 0"] = hb.state_incr("api:n")
    results["incr by 5"] = hb.state_incr("api:n", 5)
    results["decr by 2"] = hb.state_decr("api:n", 2)
    results["decr default"] = hb.state_decr("api:n")
    results["decr missing"] = hb.state_decr("api:m", delta=3)
    results["incr a str"] = outcome(lambda: hb.state_incr("api:str"))
    results["incr past int64"] = outcome(lambda: hb.state_incr("api:int", -1))
    results["incr by a float"] = outcome(lambda: hb.state_incr("api:n", 1.5))
    results["int after failed incr"] = hb.state_get("api:int") == -(2**63)
    results["non-str key"] = outcome(lambda: hb.state_set(1, "x"))
    results["unpicklable"] = outcome(lambda: hb.state_set("api:lock", __import__("threading").Lock()))
    hb.state_set("api:changes", 5)
    hb.state_set("api:changes", "five")
    results["str over an int"] = [hb.state_get("api:changes"), outcome(lambda: hb.state_incr("api:changes"))]
    hb.state_set("api:changes", 6)
    results["int over a str"] = [hb.state_get("api:changes"), hb.state_incr("api:changes")]
    results["add an int"] = [hb.state_add("api:added-int", 7), hb.state_add("api:added-int", 8),
                             hb.state_add("api:str", 9), hb.state_get("api:added-int")]
    results["add new"] = hb.state_add("api:added", "first")
    results["add existing"] = hb.state_add("api:added", "second")
    results["added value"] = hb.state_get("api:added")
    results["delete"] = hb.state_delete("api:added")
    results["delete again"] = hb.state_delete("api:added")
    results["multi"] = hb.state_get_multi(["api:n", "api:nope", "api:str"])
    results["keys by prefix"] = sorted(hb.state_keys("api:n"))
    results["all keys include"] = "api:bytes" in hb.state_keys()
    results["StateFull is an Exception"] = issubclass(hb.StateFull, Exception)
    results["StateUnavailable is an Exception"] = issubclass(hb.StateUnavailable, Exception)
    results["same functions as hornbeam_erlang"] = all(
        getattr(__import__("hornbeam_erlang"), name) is getattr(hb, name) for name in hb.__all__)
    results.update(pubsub_checks(hb))
    return results


def pubsub_checks(hb):
    """Pub/sub with one worker's subscriptions (the counts are then the same on every
    transport: Redis counts subscribed workers, the others subscriptions)."""
    results = {}
    with hb.subscribe("api:t1", "api:t2") as subscription:
        results["publish reaches"] = [hb.publish("api:t1", "héllo"), hb.publish("api:t2", b"\x00raw"),
                                      hb.publish("api:t1", {"a": (1, 2)}), hb.publish("api:nobody", "x")]
        results["messages"] = [repr(subscription.get(5)) for _ in range(3)]  # repr: bytes in JSON
        results["nothing more"] = subscription.get(0.05)
        results["iterates with timeout"] = next(iter(hb.subscribe("api:quiet", timeout=0.01)))

        async def first_async():
            hb.publish("api:t2", [1, "two"])
            async for pair in subscription:
                return pair
        results["async for"] = repr(asyncio.run(first_async()))
        for _ in range(1005):
            hb.publish("api:t1", "flood")
        deadline = time.monotonic() + 10
        while subscription.dropped < 5 and time.monotonic() < deadline:
            time.sleep(0.01)
        results["a full subscription drops"] = subscription.dropped
        kept = 0
        while subscription.get_nowait() is not None:
            kept += 1
        results["kept"] = kept
    results["closed by with"] = subscription.closed
    results["after close"] = hb.publish("api:t1", "x")
    results["too big"] = outcome(lambda: hb.publish("api:t1", "x" * (64 * 1024)))
    results["non-str topic"] = outcome(lambda: hb.publish(1, "x"))
    results["no topic"] = outcome(lambda: hb.subscribe())
    results["pubsub in state_info"] = sorted(hb.state_info()["pubsub"])
    return results
