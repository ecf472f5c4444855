"""``traycheck synth``: render recorded shifts, scenarios, training sets and shifts of still photos."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from detectors.synth.dataset import write_dataset
from detectors.synth.generate import KINDS, random_scenario, scenario_yaml
from detectors.synth.scenario import load_scenario, parse_scenario
from detectors.synth.shift import ShiftRenderer, render_shift
from detectors.synth.stills import run_stills
from edge.core import console, progress_bar
from edge.errors import InvalidInput

synth_app = typer.Typer(no_args_is_help=True, help="Render recorded shifts and training sets.")


@synth_app.command("shift")
def synth_shift(scenario: Path = typer.Argument(..., help="scenario YAML (contract section 1)"),
                out: Path = typer.Option(..., "-o", "--out", help="folder to write the recorded shift to")) -> None:
    """Render a recorded shift folder (video.mp4, pos.jsonl, truth.jsonl, scenario.yaml); the same file
    gives byte-identical files on every run."""
    loaded = load_scenario(scenario)
    n = ShiftRenderer(loaded).n_frames
    with progress_bar(f"Rendering {loaded.scenario.name}", n) as advance:
        render_shift(loaded, out, advance)
    console.print(f"wrote {out} ({len(loaded.scenario.trays)} trays, {n} frames)")


@synth_app.command("scenario")
def synth_scenario(kind: str = typer.Option("lunch-rush", help="lunch-rush, dim-evening, blurry-breakfast, "
                                                                "rush-hard or camera-trouble"),
                   seed: int = typer.Option(..., "--seed", help="random seed (the same seed writes the same "
                                                                "file)"),
                   out: Path = typer.Option(..., "-o", "--out", help="scenario YAML to write"),
                   name: Optional[str] = typer.Option(None, help="scenario name (default: KIND-SEED)")) -> None:
    """Write a random scenario file of a given kind (orders, mistakes, fixes, tickets, camera)."""
    if kind not in KINDS:
        raise InvalidInput(f"--kind {kind!r}: unknown (known: {', '.join(KINDS)})")
    text = scenario_yaml(random_scenario(kind, seed, name))
    parse_scenario(text, source=str(out))  # the generator must only write valid scenarios
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    console.print(f"wrote {out}")


@synth_app.command("dataset")
def synth_dataset(n: int = typer.Option(..., "-n", min=1, help="number of images"),
                  seed: int = typer.Option(..., "--seed", help="random seed (image i of a seed never changes)"),
                  out: Path = typer.Option(..., "-o", "--out", help="output folder"),
                  val_fraction: float = typer.Option(0.1, "--val-fraction", min=0.0, max=1.0,
                                                     help="share of images in the val split")) -> None:
    """Write a YOLO-format training set of N random trays (images, labels, data.yaml)."""
    with progress_bar("Rendering trays", n) as advance:
        data = write_dataset(out, n, seed, val_fraction, advance)
    console.print(f"wrote {data}")


@synth_app.command("stills")
def synth_stills(dataset: Path = typer.Argument(..., help="ultralytics dataset folder (data.yaml, images/, labels/)"),
                 out: Path = typer.Option(..., "-o", "--out", help="folder to write the recorded shift to"),
                 menu: Optional[Path] = typer.Option(None, help="menu YAML (default: one SKU per class)"),
                 mistakes: float = typer.Option(0.2, min=0.0, max=1.0, help="share of trays with an altered order"),
                 split: str = typer.Option("val", help="dataset split to take the photos from"),
                 seed: int = typer.Option(0, help="random seed of the mistakes"),
                 fps: int = typer.Option(15, min=1, max=60, help="frames per second of the shift's video"),
                 rest: float = typer.Option(3.0, min=2.0, max=600.0, help="seconds each tray rests"),
                 size: Optional[str] = typer.Option(None, help="frame WxH (default: 640 wide, the photos' "
                                                               "most common aspect)")) -> None:
    """Turn labelled photos into a recorded shift (one tray per photo) that replay and eval score."""
    run_stills(dataset, out, menu, mistakes, split, seed, fps, rest, size)
