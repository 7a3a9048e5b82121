"""A CPU-bound WSGI app for the own-GIL benchmark (bench/owngil.py): every request builds a
catalogue of 80 products in Python and renders it as a ~10 KB JSON document, holding the GIL
all the while, as template rendering or serialization in a real app does."""

import json


def catalogue(seed):
    return {
        "page": seed,
        "products": [
            {
                "id": seed * 100 + i,
                "name": f"Product {i} of page {seed}",
                "price": round((i * 7.31 + seed) % 500, 2),
                "tags": [f"tag{(i + k) % 13}" for k in range(4)],
                "stock": {"warehouse": i % 5, "count": (i * 37 + seed) % 1000},
            }
            for i in range(80)
        ],
    }


def application(environ, start_response):
    body = json.dumps(catalogue(len(environ.get("QUERY_STRING", "")))).encode()
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(body)))])
    return [body]


def hello(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "13")])
    return [b"Hello, World!"]
