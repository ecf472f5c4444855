"""What the camera tests share: a frame sink that records what reached it, a wait on a
condition with a deadline, and the RTSP server process (tests/rtsp_server.py)."""
from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path

from edge.sources.frame import Frame

HERE = Path(__file__).resolve().parent
SYSTEM_PYTHON = "/usr/bin/python3"


class FrameLog:
    """Stands where the pipeline stands in a CameraWorker: keeps (arrival time, stream time)
    of every frame, and can be made to hang (a stuck pipeline) until released."""

    def __init__(self) -> None:
        self.seen: list[tuple[float, float]] = []
        self.last_frame: Frame | None = None
        self.hang = threading.Event()
        self.release = threading.Event()

    def process(self, frame: Frame) -> None:
        if self.hang.is_set():
            self.release.wait(60)
        self.seen.append((time.monotonic(), frame.t))
        self.last_frame = frame

    def since(self, t0: float) -> list[float]:
        """Stream times of the frames that arrived after monotonic time ``t0``."""
        return [t for at, t in list(self.seen) if at > t0]


def wait_for(cond, timeout: float, what: str, every: float = 0.05):
    """Poll ``cond()`` until it is truthy (its value) or fail with ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} (waited {timeout:.0f} s)")
        time.sleep(every)


def gst_rtsp_missing() -> str | None:
    """Why the GStreamer RTSP server cannot run here, or None when it can."""
    probe = ("import gi; gi.require_version('Gst', '1.0'); gi.require_version('GstRtspServer', '1.0'); "
             "from gi.repository import Gst, GstRtspServer; Gst.init(None); "
             "assert all(Gst.ElementFactory.find(e) for e in ('rtph264pay', 'qtdemux', 'h264parse'))")
    try:
        r = subprocess.run([SYSTEM_PYTHON, "-c", probe], capture_output=True, text=True, timeout=60)
    except FileNotFoundError:
        return f"{SYSTEM_PYTHON} not found"
    if r.returncode:
        return ("GStreamer RTSP server missing (apt: gir1.2-gst-rtsp-server-1.0 python3-gst-1.0 "
                "gstreamer1.0-plugins-good gstreamer1.0-plugins-bad): " + r.stderr.strip().splitlines()[-1])
    return None


class RtspServer:
    """tests/rtsp_server.py serving ``video`` on rtsp://127.0.0.1:PORT/cam, in its own process."""

    def __init__(self, video: Path, port: int):
        self.video, self.port = video, port
        self.url = f"rtsp://127.0.0.1:{port}/cam"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen([SYSTEM_PYTHON, str(HERE / "rtsp_server.py"), str(self.video), str(self.port)],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()  # "ready" once it listens (EOF if it died)
        if line.strip() != "ready":
            self.proc.wait(10)
            raise RuntimeError(f"RTSP server did not start: {self.proc.stderr.read().strip()}")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
