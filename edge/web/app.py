"""FastAPI application: POS intake (token-protected) and health.

Every payload is validated before anything is stored: a rejected request
changes nothing and answers 422 with a message that names the field.
"""
from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Container
from typing import Any

from fastapi import Depends, FastAPI, Header, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import Field

from edge.store.store import OrderClosed, Store
from edge.web.dashboard import mount_dashboard
from edge.web.headers import SecurityHeaders, address_allowed, bearer_ok, parse_networks
from edge.web.limits import RequestGate
from orders.models import Order, check_printable

log = logging.getLogger("traycheck.api")


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
               on_cancel: Callable[[str], None] | None = None,
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

    _health_routes(app, ready, registry, scrapers, api_token)
    _pos_routes(app, store, menu, require_token, on_order, on_cancel, cameras)
    if dashboard is not None:
        mount_dashboard(app, dashboard)
    return app


def _health_routes(app: FastAPI, ready: Callable[[], dict] | None, registry: Any, scrapers: list,
                   api_token: str) -> None:
    """/healthz (the process answers), /readyz (cameras and storage work), /metrics (Prometheus)."""
    @app.get("/healthz")
    def healthz() -> dict:
        return {"status": "ok"}

    @app.get("/readyz")
    def readyz() -> JSONResponse:
        state = ready() if ready else {"ready": True}
        return JSONResponse(state, status_code=200 if state["ready"] else 503)

    if registry is not None:
        @app.get("/metrics")
        def metrics(request: Request, authorization: str | None = Header(None)) -> Response:
            """Prometheus metrics: for the API token (``bearer_token_file`` in Prometheus) or an allowed scraper."""
            if not (address_allowed(request.client.host if request.client else None, scrapers)
                    or bearer_ok(authorization, api_token)):
                raise HTTPException(401, "metrics: send the API token (Authorization: Bearer <token>) "
                                         "or scrape from an address in http.metrics_allow",
                                    headers={"WWW-Authenticate": "Bearer"})
            return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


def _pos_routes(app: FastAPI, store: Store, menu: Container[str], require_token: Callable[..., None],
                on_order: Callable[[Order, str | None], None] | None, on_cancel: Callable[[str], None] | None,
                cameras: list[str] | None) -> None:
    """The POS API: orders in (stored before they are routed), cancellations."""
    @app.post("/api/orders", dependencies=[Depends(require_token)], status_code=200, response_model=None)
    def post_order(order: OrderIn) -> dict | JSONResponse:
        unknown = [f"items.{i}.sku" for i, line in enumerate(order.items) if line.sku not in menu]
        if unknown:
            field = unknown[0]
            sku = order.items[int(field.split(".")[1])].sku
            raise HTTPException(422, f"{field}: unknown SKU {sku!r} (not on the menu)")
        if order.camera is not None and cameras is not None and order.camera not in cameras:
            raise HTTPException(422, f"camera: unknown camera {order.camera!r} (this box has: {', '.join(cameras)})")
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
        try:
            check_printable(order_id)
        except ValueError as exc:
            raise HTTPException(422, f"order_id: {exc}") from None
        if len(order_id) > 64:
            raise HTTPException(422, "order_id: at most 64 characters")
        try:
            cancelled = store.cancel_order(order_id)
        except (sqlite3.Error, OSError) as exc:
            raise storage_unavailable(f"the cancellation of order {order_id!r}", exc) from None
        if cancelled and on_cancel:
            on_cancel(order_id)
        if not cancelled and store.order(order_id) is None:
            raise HTTPException(404, f"order {order_id!r} not found")
        return {"id": order_id, "cancelled": cancelled}
