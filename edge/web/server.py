"""Run the FastAPI app with uvicorn in a background thread (the pipeline owns the main thread).

The connection limits (``edge.web.connections``) sit under uvicorn's protocol; the request
limits (``edge.web.limits``) in the app. See docs/security.md, "Connections and request bodies".
"""
from __future__ import annotations

import asyncio
import logging
import math
import resource
import socket
import threading
import time

import uvicorn
from fastapi import FastAPI

from edge.errors import InvalidInput
from edge.web.connections import ConnectionGuard, Limits, guarded_protocol
from edge.web.quiet_log import quieten

log = logging.getLogger("traycheck.web")
FD_HEADROOM = 384  # files the rest of the process may hold: databases (3 per connection in WAL), cameras, model


def parse_listen(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise InvalidInput(f"--http {value!r}: expected HOST:PORT, e.g. 127.0.0.1:8080")
    return host, int(port)


def raise_open_files_limit() -> int:
    """Lift the soft limit on open files to the hard one (a shell or a unit without ``LimitNOFILE`` leaves
    1 024); the soft limit in force is returned. A refusal is only logged: the cap then fits the old limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 16)
    if soft != resource.RLIM_INFINITY and soft < want:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
            soft = want
        except (ValueError, OSError) as exc:
            log.warning("cannot raise the open-files limit from %d to %d (%s)", soft, want, exc)
    return soft


def connection_cap(wanted: int, open_files: int) -> int:
    """``http.max_connections``, lowered (and said so) when the open-files limit leaves less room: the
    process must never run out of files, whatever the clients do."""
    room = max(16, open_files - FD_HEADROOM) if open_files != resource.RLIM_INFINITY else wanted
    if room < wanted:
        log.warning("http.max_connections %d lowered to %d: the process may open %d files (LimitNOFILE)",
                    wanted, room, open_files)
    return min(wanted, room)


class _Server(uvicorn.Server):
    """uvicorn's server with the guard's handler for event-loop errors (failed accepts: one line a streak)."""

    def __init__(self, config: uvicorn.Config, guard: ConnectionGuard):
        super().__init__(config)
        self.guard = guard

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        asyncio.get_running_loop().set_exception_handler(self.guard.on_loop_error)
        await super().serve(sockets)


class WebServer:
    """``trusted_proxies``: the reverse proxies whose ``X-Forwarded-For`` names the client (addresses or CIDR
    ranges); from anyone else the header is ignored (uvicorn would trust it from loopback by default, and the
    login limit would count a spoofed address). No ``Server`` header. ``max_connections``: the cap of
    ``edge.web.connections`` (``http.max_connections``); ``header_timeout`` / ``keep_alive``: its deadlines."""

    def __init__(self, app: FastAPI, host: str, port: int, trusted_proxies: list[str] | None = None,
                 max_connections: int = 512, header_timeout: float = 5.0, keep_alive: float = 5.0):
        trusted = list(trusted_proxies or [])
        cap = connection_cap(max_connections, raise_open_files_limit())
        self.guard = ConnectionGuard(Limits(cap, header_timeout, keep_alive))
        quieten("uvicorn.error", "asyncio")  # a warning per malformed request is a client's to trigger
        self.server = _Server(uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False,
                                             lifespan="off", server_header=False, http=guarded_protocol(self.guard),
                                             ws="none", timeout_keep_alive=math.ceil(keep_alive),
                                             proxy_headers=bool(trusted), forwarded_allow_ips=trusted or None),
                              self.guard)
        self.thread = threading.Thread(target=self.server.run, name="http", daemon=True)

    def start(self, timeout: float = 10.0) -> None:
        self.thread.start()
        end = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > end:
                raise InvalidInput("the HTTP server could not start (is the address in use?)")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=5)
