"""Dashboard pages (server-rendered): sign-in, live stations, alerts, orders and trays,
the shift report, the system page and the API docs for managers."""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from edge.store.snapshots import annotated_jpeg
from edge.store.users import Users
from edge.web.auth import SESSION_COOKIE, SESSION_HOURS, Session
from edge.web.charts import bar_chart
from edge.web.queries import day_range
from edge.web.security import (current_session, login_redirect_target, page_session, require_csrf,
                               require_manager)

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
router = APIRouter()
NOTE_MAX = 500  # characters of a "counted wrong" note


def render(request: Request, name: str, session: Session | None, **ctx) -> HTMLResponse:
    signer = request.app.state.signer
    return TEMPLATES.TemplateResponse(request, name, {
        "session": session, "csrf": signer.csrf(session) if session else "", "site": request.app.state.site,
        "cameras": request.app.state.camera_names(), **ctx})


# -- sign-in -------------------------------------------------------------------------------
@router.get("/login", response_class=HTMLResponse, include_in_schema=False)
def login_page(request: Request, next: str = "/") -> HTMLResponse:
    return render(request, "login.html", None, next=login_redirect_target(next), error=None)


@router.post("/login", include_in_schema=False)
def login(request: Request, name: str = Form(..., max_length=64), password: str = Form(..., max_length=256),
          next: str = Form("/")) -> Response:
    app = request.app.state
    client = request.client.host if request.client else "?"
    wait = app.limiter.blocked_for(client)
    if wait > 0:
        resp = render(request, "login.html", None, next=next,
                      error=f"Too many failed sign-ins: try again in {int(wait) + 1} s.")
        resp.status_code = 429
        return resp
    role = Users(app.reader.conn).check(name, password)
    if role is None:
        app.limiter.failed(client)
        resp = render(request, "login.html", None, next=next, error="Wrong name or password.")
        resp.status_code = 401
        return resp
    app.limiter.succeeded(client)
    resp = RedirectResponse(login_redirect_target(next), status_code=303)
    resp.set_cookie(SESSION_COOKIE, app.signer.issue(name, role), max_age=int(SESSION_HOURS * 3600),
                    httponly=True, samesite="strict", secure=request.url.scheme == "https")
    return resp


@router.post("/logout", include_in_schema=False)
async def logout(request: Request, session: Session = Depends(page_session)) -> Response:
    await require_csrf(request, session)
    resp = RedirectResponse("/login", status_code=303)
    resp.delete_cookie(SESSION_COOKIE)
    return resp


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
def alerts(request: Request, state: str = "open", camera: str | None = None, since: str | None = None,
           until: str | None = None, session: Session = Depends(page_session)) -> HTMLResponse:
    if state not in ("open", "acknowledged", "resolved", "all"):
        raise HTTPException(422, f"state={state!r}: expected open, acknowledged, resolved or all")
    rows = request.app.state.reader.alerts(state, camera or None, since or None, until or None)
    return render(request, "alerts.html", session, alerts=rows, state=state, camera=camera or "",
                  since=since or "", until=until or "")


@router.post("/alerts/{alert_id}/ack", include_in_schema=False)
async def acknowledge(request: Request, alert_id: int, session: Session = Depends(page_session)) -> Response:
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
    return RedirectResponse(str(form.get("back") or "/alerts"), status_code=303)


# -- orders and trays ---------------------------------------------------------------------
@router.get("/orders", response_class=HTMLResponse, include_in_schema=False)
def orders(request: Request, session: Session = Depends(page_session)) -> HTMLResponse:
    r = request.app.state.reader
    return render(request, "orders.html", session, orders=r.pending_orders(), closed=r.closed_orders(),
                  trays=r.trays(limit=20))


@router.get("/trays", response_class=HTMLResponse, include_in_schema=False)
def trays(request: Request, q: str = "", camera: str = "", session: Session = Depends(page_session)) -> HTMLResponse:
    q = q.strip().lstrip("#")
    rows = request.app.state.reader.trays(order_id=q or None, camera=camera or None)
    return render(request, "trays.html", session, trays=rows, q=q, camera=camera)


@router.get("/trays/{tray_id}", response_class=HTMLResponse, include_in_schema=False)
def tray(request: Request, tray_id: int, session: Session = Depends(page_session)) -> HTMLResponse:
    t = request.app.state.reader.tray(tray_id)
    if t is None:
        raise HTTPException(404, f"tray {tray_id}: not found")
    return render(request, "tray.html", session, tray=t)


@router.post("/trays/{tray_id}/flag", include_in_schema=False)
async def flag_tray(request: Request, tray_id: int, session: Session = Depends(page_session)) -> Response:
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
def snapshot(request: Request, tray_id: int, session: Session = Depends(page_session)) -> Response:
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
        raise HTTPException(422, f"day={day!r}: expected YYYY-MM-DD") from None
    return request.app.state.reader.report(since, until)


@router.get("/report", response_class=HTMLResponse, include_in_schema=False)
def report(request: Request, day: str = "", session: Session = Depends(page_session)) -> HTMLResponse:
    rep = _report(request, day)
    hourly = bar_chart([(h["hour"][11:16], h["trays"], h["mismatch"]) for h in rep["per_hour"]],
                       ("trays", "mismatches"))
    cams = bar_chart([(c["camera"], c["trays"], c["mismatch"]) for c in rep["per_camera"]], ("trays", "mismatches"))
    missed = bar_chart([(k, n, 0) for k, n in rep["most_missed"]], ("missed", ""))
    return render(request, "report.html", session, rep=rep, day=day, hourly=hourly, cams=cams, missed=missed)


@router.get("/report.csv", include_in_schema=False)
def report_csv(request: Request, day: str = "", session: Session = Depends(page_session)) -> Response:
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
    return render(request, "system.html", session, info=request.app.state.system())


@router.get("/docs", response_class=HTMLResponse, include_in_schema=False)
def docs(request: Request, session: Session = Depends(page_session)) -> HTMLResponse:
    require_manager(session)
    return render(request, "docs.html", session, spec=request.app.openapi())


def signed_in(request: Request) -> bool:
    return current_session(request) is not None
