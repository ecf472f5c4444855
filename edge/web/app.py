"""FastAPI application: POS intake (token-protected) and health.

Every payload is validated before anything is stored: a rejected request
changes nothing and answers 422 with a message that names the field.
"""
from __future__ import annotations

import html
import logging
import sqlite3
from collections.abc import Callable, Container
from typing import Any

from fastapi import Depends, FastAPI, Header, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import Field

from edge.store.signin_failures import SigninFailures
from edge.store.store import OrderClosed, Store
from edge.web.dashboard import mount_dashboard
from edge.web.headers import SecurityHeaders, address_allowed, bearer_ok, parse_networks
from edge.web.limits import RequestGate
from edge.web.login_limits import FailedSignins, LoginLimiter, SigninCollector, Throttle
from orders.models import Order, check_printable

log = logging.getLogger("traycheck.api")
STORAGE_RETRY_S = 5  # Retry-After of a 503 for a storage error (the POS API's too)


class OrderIn(Order):
    """An order from the POS; ``camera`` routes it to one station (default: any station may serve it)."""

    camera: str | None = Field(None, max_length=64)


def _field(loc: tuple) -> str:
    parts = [str(p) for p in loc if p not in ("body",)]
    return ".".join(parts) or "body"


def storage_unavailable(what: str, exc: Exception) -> HTTPException:
    """503 for a write the database refused (a full or read-only disk): the POS must retry, it was not
    stored. Never a 200 for something that is not on disk."""
    log.error("%s not stored (storage: %s); answered 503", what, exc)
    return HTTPException(503, f"storage unavailable ({exc}): {what} was not stored, send it again later",
                         headers={"Retry-After": "5"})


def create_app(store: Store, api_token: str, menu: Container[str],
               on_order: Callable[[Order, str | None], None] | None = None,
               on_cancel: Callable[[str], object] | None = None,
               registry=None, ready: Callable[[], dict] | None = None, dashboard=None,
               cameras: list[str] | None = None, metrics_allow: list[str] | tuple[str, ...] = ("127.0.0.1", "::1"),
               max_body: int = 1024 * 1024) -> FastAPI:
    """The box's HTTP app; with ``dashboard`` (an ``edge.web.dashboard.Dashboard``) also the staff pages.
    ``cameras``: the stations an order may name (an order for any other is refused, 422).
    ``metrics_allow``: scraper addresses (or CIDR ranges) that read ``/metrics`` without the API token.
    ``max_body``: the request body limit (``http.max_body_bytes``; ``edge.web.limits``)."""
    app = FastAPI(title="TrayCheck", version="0.1", docs_url=None, redoc_url=None)
    app.add_middleware(RequestGate, token=api_token, max_body=max_body)  # token / session before the body
    app.add_middleware(SecurityHeaders)  # added last: the outermost, so the gate's 401 and 413 get them too
    scrapers = parse_networks(list(metrics_allow))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"field": _field(tuple(e["loc"])), "message": e["msg"]} for e in exc.errors()]
        first = errors[0] if errors else {"field": "body", "message": "invalid"}
        return JSONResponse(status_code=422, content={"detail": f"{first['field']}: {first['message']}",
                                                      "errors": errors})

    def require_token(authorization: str | None = Header(None)) -> None:
        if not bearer_ok(authorization, api_token):
            raise HTTPException(401, "missing or wrong API token (Authorization: Bearer <token>)",
                                headers={"WWW-Authenticate": "Bearer"})

    _storage_errors(app)
    _health_routes(app, ready, registry, scrapers, api_token)
    _pos_routes(app, store, menu, require_token, on_order, on_cancel, cameras)
    if dashboard is not None:
        mount_dashboard(app, dashboard)
        _signin_limits(app, store, registry)
    return app


def _signin_limits(app: FastAPI, store: Store, registry: Any) -> None:
    """The login limit kept in the database (a restart does not reset it) and the record of failed sign-ins
    (audit rows, log lines, ``traycheck_signin_failed_total`` on ``registry``): see ``edge.web.login_limits``."""
    app.state.limiter = LoginLimiter(SigninFailures(store.path))
    app.state.failed_signins = FailedSignins(store.audit)
    if registry is not None:
        registry.register(SigninCollector(app.state.failed_signins))


def _storage_errors(app: FastAPI) -> None:
    """A storage error anywhere on the web side (a full or read-only disk, a locked database) is a 503 with
    ``Retry-After``, never a 500 with a traceback: a handler for these classes runs inside the middleware,
    so the answer carries the security headers too. Logged at most 3 lines at once, then one a minute."""
    throttle = Throttle(burst=3, every_s=60.0)

    async def storage_error(request: Request, exc: Exception) -> Response:
        held = throttle.take()
        if held is not None:
            log.error("%s %s: storage error (%s: %s); answered 503%s", request.method, request.url.path,
                      type(exc).__name__, exc, f"; {held} more since the last line" if held else "")
        # SQLite's message names no path; an OSError's file name stays in the log
        why = str(exc) if isinstance(exc, sqlite3.Error) else (getattr(exc, "strerror", None) or type(exc).__name__)
        detail = f"storage unavailable ({why}): try again later"
        headers = {"Retry-After": str(STORAGE_RETRY_S)}
        if "text/html" in request.headers.get("accept", ""):
            return HTMLResponse(f"<!doctype html><title>Storage unavailable</title><p>{html.escape(detail)}</p>",
                                status_code=503, headers=headers)
        return JSONResponse({"detail": detail}, status_code=503, headers=headers)

    app.add_exception_handler(sqlite3.Error, storage_error)
    app.add_exception_handler(OSError, storage_error)


def not_ready(state: dict) -> list[str]:
    """The kinds of subsystem that keep the box from being ready (``cameras``, ``storage``): what anyone may
    know; which camera, its address or user, the model path and the storage error are details."""
    kinds = []
    if not all(dict(state.get("cameras") or {}).values()):
        kinds.append("cameras")
    if state.get("storage", "ok") != "ok":
        kinds.append("storage")
    return kinds


def _health_routes(app: FastAPI, ready: Callable[[], dict] | None, registry: Any, scrapers: list,
                   api_token: str) -> None:
    """/healthz (the process answers), /readyz (cameras and storage work), /metrics (Prometheus).
    The details of /readyz and all of /metrics are for the API token or an address in ``scrapers``."""
    def trusted(request: Request, authorization: str | None) -> bool:
        """The caller may read details: it sends the API token, or comes from an allowed scraper address."""
        return (address_allowed(request.client.host if request.client else None, scrapers)
                or bearer_ok(authorization, api_token))

    @app.get("/healthz")
    def healthz() -> dict:
        return {"status": "ok"}

    @app.get("/readyz")
    def readyz(request: Request, authorization: str | None = Header(None)) -> JSONResponse:
        """200 ready / 503 not. Anyone gets ``ready`` and ``not_ready`` (the kinds of subsystem); the token or
        an allowed address gets the whole state (camera states and reasons, health, model, storage)."""
        state = ready() if ready else {"ready": True}
        code = 200 if state["ready"] else 503
        if trusted(request, authorization):
            return JSONResponse(state, status_code=code)
        return JSONResponse({"ready": bool(state["ready"]), "not_ready": not_ready(state)}, status_code=code)

    if registry is not None:
        @app.get("/metrics")
        def metrics(request: Request, authorization: str | None = Header(None)) -> Response:
            """Prometheus metrics: for the API token (``bearer_token_file`` in Prometheus) or an allowed scraper."""
            if not trusted(request, authorization):
                raise HTTPException(401, "metrics: send the API token (Authorization: Bearer <token>) "
                                         "or scrape from an address in http.metrics_allow",
                                    headers={"WWW-Authenticate": "Bearer"})
            return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


def _pos_routes(app: FastAPI, store: Store, menu: Container[str], require_token: Callable[..., None],
                on_order: Callable[[Order, str | None], None] | None, on_cancel: Callable[[str], object] | None,
                cameras: list[str] | None) -> None:
    """The POS API: orders in (stored before they are routed), cancellations."""
    @app.post("/api/orders", dependencies=[Depends(require_token)], status_code=200, response_model=None)
    def post_order(order: OrderIn) -> dict | JSONResponse:
        _check_order(order, menu, cameras)
        plain = Order(id=order.id, items=order.items)
        try:
            changed = store.put_order(plain, order.camera, source="api")
        except OrderClosed as exc:
            return JSONResponse(status_code=409, content={"detail": str(exc), "id": order.id, "state": exc.state})
        except (sqlite3.Error, OSError) as exc:
            raise storage_unavailable(f"order {order.id!r}", exc) from None
        if changed and on_order:
            on_order(plain, order.camera)
        return {"id": order.id, "stored": changed}

    @app.delete("/api/orders/{order_id}", dependencies=[Depends(require_token)])
    def cancel_order(order_id: str) -> dict:
        _check_order_id(order_id)
        try:
            cancelled = store.cancel_order(order_id)
        except (sqlite3.Error, OSError) as exc:
            raise storage_unavailable(f"the cancellation of order {order_id!r}", exc) from None
        if cancelled and on_cancel:
            on_cancel(order_id)
        if not cancelled and store.order(order_id) is None:
            raise HTTPException(404, f"order {order_id!r} not found")
        return {"id": order_id, "cancelled": cancelled}


def _check_order(order: OrderIn, menu: Container[str], cameras: list[str] | None) -> None:
    """What the body's model cannot know: every SKU on the menu of the moment, a camera this box has (422)."""
    unknown = [f"items.{i}.sku" for i, line in enumerate(order.items) if line.sku not in menu]
    if unknown:
        field = unknown[0]
        sku = order.items[int(field.split(".")[1])].sku
        raise HTTPException(422, f"{field}: unknown SKU {sku!r} (not on the menu)")
    if order.camera is not None and cameras is not None and order.camera not in cameras:
        raise HTTPException(422, f"camera: unknown camera {order.camera!r} (this box has: {', '.join(cameras)})")


def _check_order_id(order_id: str) -> None:
    """An order id in a path is checked as one in a body is (printable, at most 64 characters; 422)."""
    try:
        check_printable(order_id)
    except ValueError as exc:
        raise HTTPException(422, f"order_id: {exc}") from None
    if len(order_id) > 64:
        raise HTTPException(422, "order_id: at most 64 characters")
