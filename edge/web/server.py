"""Run the FastAPI app with uvicorn in a background thread (the pipeline owns the main thread)."""
from __future__ import annotations

import threading
import time

import uvicorn
from fastapi import FastAPI

from edge.core import UserError


def parse_listen(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise UserError(f"--http {value!r}: expected HOST:PORT, e.g. 127.0.0.1:8080")
    return host, int(port)


class WebServer:
    """``trusted_proxies``: the reverse proxies whose ``X-Forwarded-For`` names the client (addresses or CIDR
    ranges); from anyone else the header is ignored (uvicorn would trust it from loopback by default, and the
    login limit would count a spoofed address). No ``Server`` header."""

    def __init__(self, app: FastAPI, host: str, port: int, trusted_proxies: list[str] | None = None):
        trusted = list(trusted_proxies or [])
        self.server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning",
                                                    access_log=False, lifespan="off", server_header=False,
                                                    proxy_headers=bool(trusted), forwarded_allow_ips=trusted or None))
        self.thread = threading.Thread(target=self.server.run, name="http", daemon=True)

    def start(self, timeout: float = 10.0) -> None:
        self.thread.start()
        end = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > end:
                raise UserError("the HTTP server could not start (is the address in use?)")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=5)
