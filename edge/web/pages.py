"""Dashboard pages (server-rendered): sign-in, live stations, alerts, orders and trays,
the shift report, the system page and the API docs for managers."""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from edge.store.sessions import Session
from edge.store.snapshots import annotated_jpeg
from edge.web.charts import bar_chart
from edge.web.queries import PAGE, bounded_time, day_range
from edge.web.security import current_session, local_path, page_session, require_csrf, require_manager

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
router = APIRouter()
NOTE_MAX = 500  # characters of a "counted wrong" note
# ids are SQLite integers: anything outside 1..2**63-1 is a 422, never an OverflowError (500)
RowId = Annotated[int, PathParam(ge=1, le=2**63 - 1)]
PageNo = Annotated[int, Query(ge=1, le=10_000)]
Text = Annotated[str, Query(max_length=100)]


def pager(request: Request, page: int, more: bool) -> dict:
    """Links to the newer and older page of a list (None at either end), keeping the other filters."""
    def url(n: int) -> str:
        params = {k: v for k, v in request.query_params.items() if k != "page"}
        params["page"] = str(n)
        return request.url.path + "?" + "&".join(f"{k}={quote(v)}" for k, v in params.items())
    return {"page": page, "newer": url(page - 1) if page > 1 else None, "older": url(page + 1) if more else None}


def render(request: Request, name: str, session: Session | None, **ctx) -> HTMLResponse:
    signer = request.app.state.signer
    return TEMPLATES.TemplateResponse(request, name, {
        "session": session, "csrf": signer.csrf(session) if session else "", "site": request.app.state.site,
        "cameras": request.app.state.camera_names(), **ctx})


@router.get("/", include_in_schema=False)
def home(session: Session = Depends(page_session)) -> Response:
    return RedirectResponse("/live", status_code=303)


# -- live stations -------------------------------------------------------------------------
@router.get("/live", response_class=HTMLResponse, include_in_schema=False)
def live(request: Request, sound: bool = False, session: Session = Depends(page_session)) -> HTMLResponse:
    hub = request.app.state.hub
    states = [hub.state(c) for c in request.app.state.camera_names()]
    storage = request.app.state.system().get("storage", "ok")
    return render(request, "live.html", session, states=states, sound=sound, storage=storage)


# -- alerts --------------------------------------------------------------------------------
@router.get("/alerts", response_class=HTMLResponse, include_in_schema=False)
def alerts(request: Request, state: str = "open", camera: Text = "", since: Text = "", until: Text = "",
           page: PageNo = 1, session: Session = Depends(page_session)) -> HTMLResponse:
    if state not in ("open", "acknowledged", "resolved", "all"):
        raise HTTPException(422, f"state={state!r}: expected open, acknowledged, resolved or all")
    try:
        lo, hi = bounded_time(since, "since"), bounded_time(until, "until")
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    rows = request.app.state.reader.alerts(state, camera or None, lo, hi, limit=PAGE + 1, offset=(page - 1) * PAGE)
    return render(request, "alerts.html", session, alerts=rows[:PAGE], state=state, camera=camera,
                  since=since, until=until, pages=pager(request, page, len(rows) > PAGE))


@router.post("/alerts/{alert_id}/ack", include_in_schema=False)
async def acknowledge(request: Request, alert_id: RowId, session: Session = Depends(page_session)) -> Response:
    await require_csrf(request, session)
    form = await request.form()
    behalf = str(form.get("on_behalf_of") or "").strip() or None
    if behalf and behalf != session.user:
        require_manager(session)  # only managers acknowledge for someone else
    # a locked, fsynced write: in the threadpool, never on the event loop (it would stall the live stream)
    alert = await run_in_threadpool(request.app.state.store.acknowledge, alert_id, session.user, behalf)
    if alert is None:
        raise HTTPException(409, f"alert {alert_id} is not open (already acknowledged or resolved)")
    request.app.state.on_change()
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse(alert)
    return RedirectResponse(local_path(str(form.get("back") or ""), "/alerts"), status_code=303)


# -- orders and trays ---------------------------------------------------------------------
@router.get("/orders", response_class=HTMLResponse, include_in_schema=False)
def orders(request: Request, page: PageNo = 1, sort: Literal["newest", "oldest"] = "newest",
           session: Session = Depends(page_session)) -> HTMLResponse:
    """Pending orders, newest first by default (``sort=oldest`` for the queue's order), a page at a time."""
    r = request.app.state.reader
    pending = r.pending_orders(limit=PAGE + 1, offset=(page - 1) * PAGE, newest=sort == "newest")
    return render(request, "orders.html", session, orders=pending[:PAGE], closed=r.closed_orders(),
                  trays=r.trays(limit=20), sort=sort, pages=pager(request, page, len(pending) > PAGE))


@router.get("/trays", response_class=HTMLResponse, include_in_schema=False)
def trays(request: Request, q: Text = "", camera: Text = "", page: PageNo = 1,
          session: Session = Depends(page_session)) -> HTMLResponse:
    q = q.strip().lstrip("#")
    rows = request.app.state.reader.trays(order_id=q or None, camera=camera or None, limit=PAGE + 1,
                                          offset=(page - 1) * PAGE)
    return render(request, "trays.html", session, trays=rows[:PAGE], q=q, camera=camera,
                  pages=pager(request, page, len(rows) > PAGE))


@router.get("/trays/{tray_id}", response_class=HTMLResponse, include_in_schema=False)
def tray(request: Request, tray_id: RowId, session: Session = Depends(page_session)) -> HTMLResponse:
    t = request.app.state.reader.tray(tray_id)
    if t is None:
        raise HTTPException(404, f"tray {tray_id}: not found")
    return render(request, "tray.html", session, tray=t)


@router.post("/trays/{tray_id}/flag", include_in_schema=False)
async def flag_tray(request: Request, tray_id: RowId, session: Session = Depends(page_session)) -> Response:
    """A manager marks a tray "counted wrong" (``action=flag``, optional ``note``) or clears it
    (``action=unflag``); flagged trays go first into ``traycheck data export`` for labelling."""
    await require_csrf(request, session)
    require_manager(session)
    form = await request.form()
    action = str(form.get("action") or "flag")
    if action not in ("flag", "unflag"):
        raise HTTPException(422, f"action={action!r}: expected flag or unflag")
    note = str(form.get("note") or "").strip()
    if len(note) > NOTE_MAX:
        raise HTTPException(422, f"note: at most {NOTE_MAX} characters (has {len(note)})")
    state = await run_in_threadpool(request.app.state.store.flag_tray, tray_id, session.user, action == "flag", note)
    if state is None:
        raise HTTPException(404, f"tray {tray_id}: not found")
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse(state)
    return RedirectResponse(f"/trays/{tray_id}", status_code=303)


@router.get("/snapshots/{tray_id}.jpg", include_in_schema=False)
def snapshot(request: Request, tray_id: RowId, session: Session = Depends(page_session)) -> Response:
    """The tray's zone crop with the detector's boxes drawn (stored clean, boxed here)."""
    rows = request.app.state.reader.rows("SELECT snapshot, boxes FROM trays WHERE id = ?", [tray_id])
    root = request.app.state.snapshot_root
    if not rows or not rows[0]["snapshot"] or root is None:
        raise HTTPException(404, "no snapshot for this tray")
    path = (root / rows[0]["snapshot"]).resolve()
    if root.resolve() not in path.parents or not path.is_file():
        raise HTTPException(404, "no snapshot for this tray")
    headers = {"Cache-Control": "private, max-age=86400"}
    if rows[0]["boxes"] is None:  # stored before schema 3: the boxes are drawn into the file
        return FileResponse(path, media_type="image/jpeg", headers=headers)
    jpeg = annotated_jpeg(path, json.loads(rows[0]["boxes"]))
    if jpeg is None:
        raise HTTPException(404, "no snapshot for this tray")
    return Response(jpeg, media_type="image/jpeg", headers=headers)


# -- shift report --------------------------------------------------------------------------
def _report(request: Request, day: str | None) -> dict:
    try:
        since, until = day_range(day or None)
    except ValueError:
        raise HTTPException(422, f"day={day!r}: expected a date YYYY-MM-DD between 2000 and 2099") from None
    return request.app.state.reader.report(since, until)


@router.get("/report", response_class=HTMLResponse, include_in_schema=False)
def report(request: Request, day: Text = "", session: Session = Depends(page_session)) -> HTMLResponse:
    rep = _report(request, day)
    hourly = bar_chart([(h["hour"][11:16], h["trays"], h["mismatch"]) for h in rep["per_hour"]],
                       ("trays", "mismatches"))
    cams = bar_chart([(c["camera"], c["trays"], c["mismatch"]) for c in rep["per_camera"]], ("trays", "mismatches"))
    missed = bar_chart([(k, n, 0) for k, n in rep["most_missed"]], ("missed", ""))
    return render(request, "report.html", session, rep=rep, day=day, hourly=hourly, cams=cams, missed=missed)


@router.get("/report.csv", include_in_schema=False)
def report_csv(request: Request, day: Text = "", session: Session = Depends(page_session)) -> Response:
    rep = _report(request, day)
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["hour_utc", "trays", "ok", "mismatch", "no_order"])
    for h in rep["per_hour"]:
        w.writerow([h["hour"], h["trays"], h["ok"], h["mismatch"], h["no_order"]])
    name = f"traycheck-report-{day or 'last-24h'}.csv"
    return Response(buf.getvalue(), media_type="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


# -- system and docs ---------------------------------------------------------------------
@router.get("/system", response_class=HTMLResponse, include_in_schema=False)
def system(request: Request, session: Session = Depends(page_session)) -> HTMLResponse:
    sessions = request.app.state.sessions.of(session.user)
    return render(request, "system.html", session, info=request.app.state.system(), sessions=sessions,
                  this_session=session.nonce)


@router.post("/system/cameras/{camera}/reference", include_in_schema=False)
async def refresh_reference(request: Request, camera: Annotated[str, PathParam(max_length=100)],
                            session: Session = Depends(page_session)) -> Response:
    """A manager has the camera learn its reference view again (the station was re-aimed or
    re-lit on purpose): the next idle seconds become the view the health checks compare with."""
    await require_csrf(request, session)
    require_manager(session)
    pipe = request.app.state.hub.pipelines.get(camera)
    if pipe is None:
        raise HTTPException(404, f"camera {camera!r}: not running here")
    pipe.health.relearn()
    await run_in_threadpool(request.app.state.store.audit, session.user, "refreshed the reference view", camera, {})
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse({"camera": camera, "reference": "learning"})
    return RedirectResponse("/system", status_code=303)


@router.get("/docs", response_class=HTMLResponse, include_in_schema=False)
def docs(request: Request, session: Session = Depends(page_session)) -> HTMLResponse:
    require_manager(session)
    return render(request, "docs.html", session, spec=request.app.openapi())


def signed_in(request: Request) -> bool:
    return current_session(request) is not None
