"""The service's camera workers as one group: started and stopped together, and looked up by
camera name for the dashboard (fps, reconnects, state), readiness, the watchdog and the orders
(an order received now is dated by its station's stream time)."""
from __future__ import annotations

from edge.app.camera_worker import CameraWorker
from edge.app.station_health import no_frames
from edge.pipeline.camera import CameraPipeline


class Cameras(list[CameraWorker[CameraPipeline]]):
    """A plain list of workers (metrics, health and a replay iterate and index it), plus lookups."""

    def named(self, camera: str) -> CameraWorker[CameraPipeline] | None:
        return next((w for w in self if w.name == camera), None)

    def fps(self, camera: str) -> float:
        w = self.named(camera)
        return w.fps() if w else 0.0

    def reconnects(self, camera: str) -> int:
        w = self.named(camera)
        return w.reconnects if w else 0

    def state(self, camera: str) -> dict | None:
        w = self.named(camera)
        return w.state() if w else None

    def stream_time(self, camera: str | None) -> float:
        """The stream time now at ``camera``'s station (at the first station when any may serve: None)."""
        w = next((w for w in self if camera in (None, w.name)), None)
        f = w.pipeline.last_frame if w else None
        return f.t if f else 0.0

    def readiness(self) -> dict:
        """Every camera's state, reason and since-when; ``ready`` while every one is ok (frames flowing)."""
        states = {w.name: w.state() for w in self}
        cams = {name: st["state"] == "ok" for name, st in states.items()}
        return {"ready": all(cams.values()), "cameras": cams, "camera_state": states,
                "camera_health": {w.name: w.pipeline.health.current for w in self}}

    def healthy(self, stall_s: float) -> bool:
        """No camera is stuck (see ``CameraWorker.stuck``): a camera waiting for its source is not."""
        return not any(w.stuck(stall_s) for w in self)

    def report_frames(self) -> None:
        """The capture layer's word on frames (none coming, and why), for each camera's health."""
        for w in self:
            w.pipeline.health.set_no_frames(*no_frames(w.state()))

    def start(self) -> None:
        for w in self:
            w.thread.start()

    def stop(self) -> None:
        """All told at once, so that their sources wind down side by side; then each one waited for."""
        for w in self:
            w.request_stop()
        for w in self:
            w.stop()
