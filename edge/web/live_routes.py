"""Live endpoints of the dashboard: verdict events (server-sent events), the zone
picture of each camera, and the state of the tray on each station."""
from __future__ import annotations

import asyncio
import json

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import Response, StreamingResponse

from edge.store.sessions import Session
from edge.web.security import api_session

router = APIRouter(prefix="/api")
KEEPALIVE_S = 15.0  # a comment line this often when no verdict comes


@router.get("/events", include_in_schema=False)
async def events(request: Request, session: Session = Depends(api_session)) -> StreamingResponse:
    hub = request.app.state.hub
    aq = hub.subscribe(asyncio.get_running_loop())

    async def stream():
        try:
            yield "retry: 1000\n\n"
            while not await request.is_disconnected():
                try:
                    event = await asyncio.wait_for(aq.get(), timeout=KEEPALIVE_S)
                except asyncio.TimeoutError:
                    yield ": keep-alive\n\n"  # keeps proxies and the browser from timing out
                    continue
                yield f"event: verdict\ndata: {json.dumps(event)}\n\n"
        finally:
            hub.unsubscribe(aq)

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


@router.get("/live/{camera}", include_in_schema=False)
def live_state(request: Request, camera: str, session: Session = Depends(api_session)) -> dict:
    state = request.app.state.hub.state(camera)
    if not state["known"]:
        raise HTTPException(404, f"camera {camera!r}: not running here")
    return state


@router.get("/frame/{camera}.jpg", include_in_schema=False)
def frame(request: Request, camera: str, session: Session = Depends(api_session)) -> Response:
    jpeg = request.app.state.hub.frame_jpeg(camera)
    if jpeg is None:
        raise HTTPException(404, f"camera {camera!r}: no picture yet")
    return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "no-store"})
