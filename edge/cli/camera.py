"""``traycheck camera``: a camera's reference view for the health checks."""
from __future__ import annotations

from pathlib import Path

import typer

from edge.app.config import load_config
from edge.app.station_health import calibrate
from edge.cli.options import config_option
from edge.core import console
from edge.errors import InvalidInput
from edge.pipeline.reference_view import reference_path

camera_app = typer.Typer(no_args_is_help=True, help="Cameras: the reference view the health checks compare with.")


@camera_app.command("calibrate")
def camera_calibrate(camera: str = typer.Argument(..., help="the camera's name in the config"),
                     config: Path = config_option(),
                     seconds: float = typer.Option(3.0, min=0.5, max=60.0,
                                                   help="seconds of the empty station to capture")) -> None:
    """Capture the empty station now from the camera's source as its reference view (the check zone
    must be empty). A running service reads it at its next start; the system page's 'Refresh
    reference' re-learns it while running."""
    cfg = load_config(config)
    cam = next((c for c in cfg.cameras if c.name == camera), None)
    if cam is None:
        raise InvalidInput(f"camera {camera!r}: not in {config} (cameras: {', '.join(c.name for c in cfg.cameras)})")
    ref = calibrate(cam.source, Path(cfg.data_dir), camera, seconds)
    console.print(f"camera {camera}: reference view stored in {reference_path(Path(cfg.data_dir), camera)} "
                  f"(brightness {ref.brightness:.0f}, sharpness {ref.sharpness:.0f}, {len(ref.points)} keypoints)",
                  highlight=False, soft_wrap=True)
