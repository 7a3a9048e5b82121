"""A FastAPI app for the mount tests: a JSON route that shows the scope's paths and the URLs
the framework makes from them, and a WebSocket echo."""

from fastapi import FastAPI, Request, WebSocket

app = FastAPI()


@app.get("/items/{item_id}")
async def item(item_id: int, request: Request):
    return {"item_id": item_id, "root_path": request.scope["root_path"], "path": request.scope["path"],
            "url": str(request.url), "url_for": str(request.url_for("item", item_id=item_id))}


@app.websocket("/ws")
async def echo(websocket: WebSocket):
    await websocket.accept()
    text = await websocket.receive_text()
    await websocket.send_text(f"api echo: {text} at {websocket.scope['root_path']}")
    await websocket.close()
