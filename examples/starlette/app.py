"""A Starlette app served by hornbeam (ASGI): routes, a form, a streamed response, a file
sent with the pathsend extension, a websocket echo, and lifespan state."""

import contextlib
import os

from starlette.applications import Starlette
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, StreamingResponse
from starlette.routing import Route, WebSocketRoute

HERE = os.path.dirname(os.path.abspath(__file__))


async def index(request):
    return PlainTextResponse("Hello from Starlette on hornbeam!\n")


async def user(request):
    return JSONResponse({"user": request.path_params["name"], "visits": request.state.visits})


async def form(request):
    data = await request.form()
    return PlainTextResponse(f"Hello, {data.get('name', '')}! ({len(data)} fields)\n")


async def stream(request):
    async def numbers():
        for number in range(int(request.query_params.get("count", "3"))):
            yield f"{number}\n"

    return StreamingResponse(numbers(), media_type="text/plain")


async def logo(request):
    return FileResponse(os.path.join(HERE, "static", "logo.txt"), media_type="text/plain")


async def echo(websocket):
    await websocket.accept()
    async for message in websocket.iter_text():
        await websocket.send_text(f"echo: {message}")


@contextlib.asynccontextmanager
async def lifespan(app):
    yield {"visits": 0}


app = Starlette(
    routes=[
        Route("/", index),
        Route("/users/{name}", user),
        Route("/form", form, methods=["POST"]),
        Route("/stream", stream),
        Route("/logo", logo),
        WebSocketRoute("/ws/echo", echo),
    ],
    lifespan=lifespan,
)
