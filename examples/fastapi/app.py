"""A FastAPI app served by hornbeam (ASGI): JSON bodies, path parameters, a background task,
a streamed response, a websocket chat room and a lifespan that fills the shared state."""

import asyncio
import contextlib
import time

import hornbeam  # the server's shared state (outside it: PYTHONPATH=pylib, process-local)

from fastapi import BackgroundTasks, FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import StreamingResponse
from pydantic import BaseModel


class Chat:
    """Everyone connected to /ws/chat in this worker context."""

    def __init__(self):
        self.members = set()

    def __reduce__(self):
        # Live connections cannot be shared: refusing to pickle keeps the room in its worker
        # (the lifespan state shares only what pickles).
        raise TypeError("a chat room holds live connections")

    async def broadcast(self, text):
        for member in list(self.members):
            with contextlib.suppress(Exception):
                await member.send_text(text)


@contextlib.asynccontextmanager
async def lifespan(app):
    # Runs in every worker before it accepts; what it yields goes into scope["state"], which
    # all workers share: the first worker's started_at stays (first writer wins at startup),
    # and each worker keeps its own chat room (it does not pickle).
    yield {"started_at": time.time(), "chat": Chat()}


app = FastAPI(title="hornbeam example")
# FastAPI 0.92 (Debian 12) takes the lifespan on its router (newer ones also take lifespan=).
app.router.lifespan_context = lifespan


class Item(BaseModel):
    name: str
    price: float
    tags: list[str] = []


@app.get("/")
async def index():
    return {"message": "Hello from FastAPI on hornbeam!"}


@app.get("/items/{item_id}")
async def read_item(item_id: int, q: str | None = None):
    return {"item_id": item_id, "q": q}


@app.post("/items")
async def create_item(item: Item):
    return {"created": item.dict(), "total": round(item.price * 1.2, 2)}


@app.post("/jobs")
async def start_job(name: str, request: Request, background: BackgroundTasks):
    async def record():
        # One key per job: a write of its own, atomic, seen by every worker.
        hornbeam.state_set(f"jobs:{name}", "done")

    # The response goes out first; the task runs after it, on the same loop.
    background.add_task(record)
    return {"queued": name}


@app.get("/jobs")
async def list_jobs(request: Request):
    return {"done": sorted(key.removeprefix("jobs:") for key in hornbeam.state_keys("jobs:"))}


@app.get("/uptime")
async def uptime(request: Request):
    return {"uptime": time.time() - request.state.started_at}


@app.get("/stream")
async def stream(count: int = 3, delay: float = 0.0):
    async def events():
        for number in range(count):
            yield f"data: event {number}\n\n"
            await asyncio.sleep(delay)

    return StreamingResponse(events(), media_type="text/event-stream")


@app.websocket("/ws/chat")
async def chat(websocket: WebSocket, name: str = "anonymous"):
    room = websocket.scope["state"]["chat"]
    await websocket.accept()
    room.members.add(websocket)
    await room.broadcast(f"{name} joined")
    try:
        while True:
            await room.broadcast(f"{name}: {await websocket.receive_text()}")
    except WebSocketDisconnect:
        room.members.discard(websocket)
        await room.broadcast(f"{name} left")
