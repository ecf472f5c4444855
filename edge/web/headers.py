"""Security headers on every response, and who may read ``/metrics``.

A pure ASGI middleware (not ``BaseHTTPMiddleware``) so that the live event stream
is passed through untouched. The CSP allows no inline script or style: every
script is a static file, data reaches it through ``data-*`` attributes.
"""
from __future__ import annotations

import hmac
import ipaddress

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]


class SecurityHeaders:
    """Adds ``HEADERS`` to every HTTP response and drops any ``Server`` header."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {h for h, _ in HEADERS}
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names | {b"server"}]
                message["headers"] = kept + HEADERS
            await send(message)

        await self.app(scope, receive, send_with_headers)


def parse_networks(values: list[str]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """Addresses or CIDR ranges (``10.0.0.5``, ``10.0.0.0/24``, ``::1``); ValueError names a bad one."""
    nets = []
    for v in values:
        try:
            nets.append(ipaddress.ip_network(v, strict=False))
        except ValueError:
            raise ValueError(f"{v!r} is not an IP address or CIDR range") from None
    return nets


def address_allowed(host: str | None, nets: list) -> bool:
    try:
        addr = ipaddress.ip_address(host or "")
    except ValueError:
        return False
    return any(addr in n for n in nets)


def bearer_ok(authorization: str | None, token: str) -> bool:
    """Whether ``Authorization`` carries ``token``; an empty token (or an empty answer) never matches, so
    a token file left empty can never mean "no authentication"."""
    scheme, _, given = (authorization or "").partition(" ")
    given = given.strip()
    if not token or not given:
        return False
    return scheme.lower() == "bearer" and hmac.compare_digest(given.encode(), token.encode())
