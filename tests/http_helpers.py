"""Raw HTTP/1.1 over real sockets for the connection and body-limit tests: a request head, the
answer read back, whether the server closed the socket, a signed-in session cookie."""
from __future__ import annotations

import json
import resource
import socket

import httpx

TOKEN = "pos-token"
GUARD_S = 20  # a socket that gets no answer in this long: the server is waiting for something
FIFTY_MB = 50 * 1024 * 1024
ORDER = json.dumps({"id": "o-1", "items": [{"sku": "WRAP"}]}).encode()


def raise_own_nofile() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def connect(host: str, port: int) -> socket.socket:
    s = socket.create_connection((host, port), timeout=GUARD_S)
    return s


def head(method: str, path: str, **headers: str) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: box"] + [f"{k.replace('_', '-')}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def response(s: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One HTTP response read off the socket (status, lower-case headers, body)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        assert chunk, f"closed without an answer: {data!r}"
        data += chunk
    top, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = top.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    while len(body) < int(headers.get("content-length", "0")):
        chunk = s.recv(65536)
        assert chunk, "closed in the middle of the answer"
        body += chunk
    return int(status_line.split()[1]), headers, body


def closed_by_server(s: socket.socket) -> bool:
    """Whether the server closes this socket (without answering) before GUARD_S."""
    try:
        return s.recv(1) == b""
    except ConnectionResetError:
        return True
    except (TimeoutError, socket.timeout):
        return False


def signed_in_cookie(host: str, port: int) -> tuple[str, str]:
    import re

    c = httpx.Client(base_url=f"http://{host}:{port}", follow_redirects=False)
    assert c.post("/login", data={"name": "max", "password": "manager-pw", "next": "/alerts"}).status_code == 303
    csrf = re.search(r'name="csrf" value="([^"]+)"', c.get("/alerts").text).group(1)
    return c.cookies["traycheck_session"], csrf
