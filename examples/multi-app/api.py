"""The API, a FastAPI app mounted at `/api`: its routes are written without the prefix, and
the URLs it makes (its docs at /api/docs included) carry it."""

from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect

app = FastAPI(title="multi-app API")


@app.get("/items/{item_id}")
async def item(item_id: int, request: Request):
    return {"item_id": item_id, "url": str(request.url_for("item", item_id=item_id))}


@app.websocket("/ws")
async def echo(websocket: WebSocket):
    await websocket.accept()
    try:
        while True:
            await websocket.send_text(f"api echo: {await websocket.receive_text()}")
    except WebSocketDisconnect:
        pass
