"""An app whose every own-GIL context imports datetime, all at the same moment, and pickles
the datetime types on import and for each request: what crashed a worker (heap corruption)
or mixed the types up (a date pickled with datetime's method) before the main interpreter
prepared the types that subinterpreters share."""

import datetime
import decimal
import fractions
import pickle

VALUES = [datetime.date(2026, 12, 6), datetime.datetime(2026, 12, 6, 7, 8, 9), datetime.time(7, 8),
          datetime.timedelta(days=1, seconds=2), datetime.timezone.utc, decimal.Decimal("1.5"),
          fractions.Fraction(1, 3)]


def round_trips():
    for _ in range(200):
        for value in VALUES:
            back = pickle.loads(pickle.dumps(value))
            if back != value or type(back) is not type(value):
                raise AssertionError(f"{value!r} came back as {back!r}")


round_trips()


def app(environ, start_response):
    round_trips()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"intact"]
