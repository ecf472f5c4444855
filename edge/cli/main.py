"""The ``traycheck`` command line (contract section 5): a thin layer over the library.

Every user error surfaces as one line on stderr and exit status 2; the
commands themselves live in the modules they name.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape

from detectors.model_info import MODELS_DIR, int8_choice
from detectors.synth.dataset import write_dataset
from edge.app.config import load_config
from edge.app.config_files import file_problems
from edge.app.doctor import run_doctor
from edge.app.logs import setup_logging
from edge.app.model_store import check_config_model
from edge.app.orders_import import import_orders
from edge.app.run import run_service
from edge.bench.run import camera_counts, print_table, run_bench
from edge.cli.camera import camera_app
from edge.cli.data import data_app
from edge.cli.model import model_app
from edge.cli.synth import synth_app
from edge.cli.users import users_app
from edge.core import console, progress_bar
from edge.errors import InvalidInput, TrayCheckError
from edge.replay.detect import detect_video
from edge.replay.eval_report import EvalRequest, evaluate, print_report
from edge.replay.runner import run_replay

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="TrayCheck: check serving trays against the POS order before the food leaves.")
@app.command()
def train(out: Path = typer.Option(Path("runs/train"), "-o", "--out", help="work folder (RUN) for data and runs"),
          data: Optional[Path] = typer.Option(None, "--data", help="fine-tune on this dataset (from 'data import') "
                                                                  "instead of rendered trays; writes RUN/best.pt"),
          from_model: Optional[str] = typer.Option(None, "--from", help="with --data: start from this checkpoint "
                                                   "(an ultralytics .pt or a tensors-only state dict, e.g. COCO "
                                                   "weights; matching tensors transfer by name and shape) or a "
                                                   "bundled model name (default: the bundled model)"),
          unlabelled: Optional[list[Path]] = typer.Option(None, "--unlabelled", help="with --data: a folder of "
                                                          "unlabelled photos (repeatable): a teacher pseudo-labels "
                                                          "them for a student, within --hours"),
          synthetic: int = typer.Option(0, min=0, help="with --data: mix in N rendered trays (classes the "
                                                        "renderer knows, by name)"),
          copy_paste: Optional[int] = typer.Option(None, "--copy-paste", min=0,
                                                   help="with --data: extra copy-paste images (default: as many "
                                                        "as training photos; 0: none)"),
          images: int = typer.Option(1500, min=8, help="training images to render"),
          val_images: int = typer.Option(150, min=4, help="validation images (a different seed)"),
          epochs: Optional[int] = typer.Option(None, min=1, help="default 40 (rendered) / 60 (--data)"),
          hours: Optional[float] = typer.Option(None, min=0.01, help="CPU time budget in hours; the schedule "
                                                                     "is fitted into it"),
          imgsz: Optional[int] = typer.Option(None, min=64, help="training image size (default 320 rendered, "
                                                                  "384 --data)"),
          batch: int = typer.Option(16, min=1),
          seed: int = typer.Option(0),
          model_yaml: Optional[Path] = typer.Option(None, "--model-yaml", help="model YAML (default: bundled)"),
          weights: Optional[Path] = typer.Option(None, help="fine-tune these .pt weights instead of the YAML"),
          lr0: Optional[float] = typer.Option(None, help="initial learning rate (AdamW); default: automatic"),
          mosaic: float = typer.Option(1.0, min=0.0, max=1.0, help="mosaic augmentation probability")) -> None:
    """Train the detector with ultralytics (needs the train extra): on a site's own photos (--data),
    or on rendered trays."""
    if data is None and (from_model or unlabelled):
        raise InvalidInput("--from and --unlabelled need --data DATASET (they fine-tune on a site's own photos)")
    if data is not None:
        from detectors.finetune import FinetuneSettings, finetune

        best = finetune(FinetuneSettings(data=str(data), from_model=from_model, hours=hours, epochs=epochs or 60,
                                         imgsz=imgsz or 384, batch=batch, seed=seed, copy_paste=copy_paste,
                                         synthetic=synthetic,
                                         unlabelled=[str(u) for u in unlabelled or []]), out)
        console.print(f"best weights: {best}\nnext: traycheck export {best} --name NAME --out-dir DIR --data {data}")
        return
    from detectors.train import DEFAULT_MODEL_YAML, TrainSettings
    from detectors.train import train as run_train

    s = TrainSettings(model_yaml=str(model_yaml or DEFAULT_MODEL_YAML), imgsz=imgsz or 320, images=images,
                      val_images=val_images, epochs=epochs or 40, hours=hours, batch=batch, seed=seed,
                      init_weights=str(weights) if weights else None, lr0=lr0, mosaic=mosaic)

    def make_data(d: Path, n: int, sd: int, vf: float) -> Path:
        with progress_bar(f"Rendering {n} trays (seed {sd})", n) as advance:
            return write_dataset(d, n, sd, vf, advance)

    best = run_train(s, out, make_data)
    console.print(f"best weights: {best}\nnext: traycheck export {best}")


@app.command()
def export(weights: Path = typer.Argument(..., help="trained .pt weights"),
           name: str = typer.Option("traycheck-v8n", help="model name (files <name>.onnx, .int8.onnx, .json)"),
           out_dir: Optional[Path] = typer.Option(None, "--out-dir", help="default: detectors/models"),
           calib: int = typer.Option(200, min=8, help="rendered frames to calibrate INT8 on"),
           val_images: int = typer.Option(300, min=10, help="validation images (fresh seed) to score both files"),
           val_seed: int = typer.Option(777_777, help="seed of the validation set; never used in training"),
           settings: Optional[Path] = typer.Option(None, help="settings.json of the training run (default: the "
                                                              "one beside the weights)"),
           data: Optional[Path] = typer.Option(None, "--data", help="a site's dataset: calibrate INT8 on its "
                                                                    "photos, score both on its val split")) -> None:
    """Export ONNX fp32 and static INT8, score both with ultralytics val, write the metadata JSON."""
    from detectors.export import export_all
    if data is not None and out_dir is None:
        raise InvalidInput("--data needs --out-dir DIR: a site's model family does not go into the bundled models")
    meta = export_all(weights, name, out_dir or MODELS_DIR, calib, val_images, val_seed, settings, data)
    console.print_json(json.dumps(meta["metrics"]))


@app.command()
def detect(source: Path = typer.Argument(..., help="a recorded shift folder or a video file"),
           model: Optional[str] = typer.Option(None, help="model name or .onnx/.pt file (default: bundled)"),
           int8: bool = typer.Option(False, "--int8", help="use the INT8 model"),
           out: Optional[Path] = typer.Option(None, "-o", "--out", help="annotated output video (.mp4)"),
           threads: int = typer.Option(2, min=1)) -> None:
    """Run the detector over a video; annotated video and a per-tray summary against truth.jsonl."""
    detect_video(source, model, "int8" if int8 else "fp32", out, threads)


config_app = typer.Typer(no_args_is_help=True, help="The appliance configuration file.")
app.add_typer(config_app, name="config")
app.add_typer(users_app, name="users")
app.add_typer(synth_app, name="synth")
app.add_typer(data_app, name="data")
app.add_typer(model_app, name="model")
app.add_typer(camera_app, name="camera")


@config_app.command("check")
def config_check(file: Path = typer.Argument(..., help="config YAML")) -> None:
    """Validate a config file and the files it names (one line per problem) without starting anything."""
    cfg = load_config(file)
    problems = file_problems(cfg)  # every file it names exists and is readable; the data dir is writable
    if problems:
        raise InvalidInput("\n".join(f"config {file}: {p}" for p in problems))
    model = check_config_model(cfg, file)  # the active model loads and its classes cover the menu
    console.print(f"{file}: ok ({len(cfg.cameras)} cameras, site {cfg.site}, {model})")


@app.command()
def run(config: Path = typer.Option(..., "--config", help="config YAML (see deploy/config.example.yaml)")) -> None:
    """The appliance: cameras, pipeline, storage, MQTT and the HTTP API, until SIGTERM."""
    cfg = load_config(config)
    setup_logging(cfg.log_level)
    run_service(cfg, config)


@app.command()
def doctor(config: Path = typer.Option(..., "--config", help="config YAML"),
           camera_timeout: float = typer.Option(15.0, "--camera-timeout", min=1.0,
                                                help="seconds each camera has to deliver frames")) -> None:
    """Check cameras, model, broker, database, disk and clock; non-zero exit when something is wrong."""
    if not run_doctor(load_config(config), camera_timeout):
        raise typer.Exit(1)


orders_app = typer.Typer(no_args_is_help=True, help="POS orders in the local database.")
app.add_typer(orders_app, name="orders")


@orders_app.command("import")
def orders_import(file: Path = typer.Argument(..., help="JSON lines: one order per line, or pos.jsonl events"),
                  data_dir: Path = typer.Option(..., "--data-dir", help="the appliance's data directory"),
                  camera: Optional[str] = typer.Option(None, help="route the orders to this camera")) -> None:
    """Load orders in bulk (idempotent by order id). The whole file is checked before anything is stored."""
    added, unchanged, closed = import_orders(file, data_dir, camera)
    console.print(f"{added} orders stored, {unchanged} unchanged, {len(closed)} refused (already closed)")
    for exc in closed[:10]:
        console.print(f"  {exc}")


def _speed(value: str) -> float | None:
    if value == "max":
        return None
    try:
        speed = float(value)
    except ValueError:
        raise InvalidInput(f"--speed {value!r}: expected 'max' or a number (1 = real time)") from None
    if speed <= 0:
        raise InvalidInput(f"--speed {value!r}: must be > 0")
    return speed


@app.command()
def replay(source: Path = typer.Argument(..., help="recorded shift folder or scenario .yaml"),
           speed: str = typer.Option("1", help="'max' (as fast as possible) or N times real time"),
           verdicts: Optional[Path] = typer.Option(None, help="write verdict records (JSON lines) here"),
           model: Optional[str] = typer.Option(None, help="model name or .onnx file (default: bundled)"),
           int8: bool = typer.Option(False, "--int8", help="use the INT8 model"),
           threads: int = typer.Option(2, min=1),
           data_dir: Optional[Path] = typer.Option(None, "--data-dir", help="store trays, verdicts, alerts here"),
           mqtt: Optional[str] = typer.Option(None, help="mqtt://[USER:PASS@]HOST:PORT (needs --data-dir)"),
           site: str = typer.Option("site", help="site name in MQTT topics"),
           camera: str = typer.Option("expo-1", help="camera name in verdicts and topics"),
           http: Optional[str] = typer.Option(None, help="serve the HTTP API on HOST:PORT during the replay"),
           video: Optional[Path] = typer.Option(None, help="write an annotated video (boxes, verdict banner) "
                                                           "here"),
           menu: Optional[Path] = typer.Option(None, help="menu YAML to use instead of the shift's "
                                                          "(its classes must be the model's)"),
           health: Optional[Path] = typer.Option(None, help="write camera health changes (JSON lines) here")
           ) -> None:
    """Run the verification pipeline on a recorded shift; its POS events are replayed at their times."""
    if (mqtt or http) and data_dir is None:
        raise InvalidInput("--mqtt and --http need --data-dir (everything is stored before it is sent or shown)")
    result = run_replay(source, _speed(speed), verdicts, model, "int8" if int8 else "fp32", threads,
                        data_dir=data_dir, mqtt_url=mqtt, site=site, camera=camera, http=http, video_out=video,
                        menu_file=menu, health_log=health)
    kinds: dict[str, int] = {}
    for r in result.verdicts:
        kinds[r["verdict"]] = kinds.get(r["verdict"], 0) + 1
    console.print(f"{result.frames} frames in {result.seconds:.1f} s ({result.frames / result.seconds:.1f} fps, "
                  f"detector on {result.detected_frames}); verdicts: "
                  + (", ".join(f"{k} {v}" for k, v in sorted(kinds.items())) or "none")
                  + (f"; {result.unchecked} trays left unchecked" if result.unchecked else ""))
    alarms = [f"{name} {c['state']} at {ch['t']:.1f} s" for ch, prev in zip(result.health[1:], result.health)
              for name, c in ch["checks"].items() if c["state"] != "ok" and prev["checks"][name]["state"] == "ok"]
    console.print("camera health: " + ("; ".join(alarms) if alarms else "no alarm"), highlight=False, soft_wrap=True)


@app.command("eval")
def eval_cmd(path: Optional[Path] = typer.Argument(None, help="a recorded shift folder, or a folder of shifts "
                                                              "(optional with --fresh)"),
             verdicts: Optional[Path] = typer.Option(None, help="verdict records to score (default: replay now)"),
             json_out: bool = typer.Option(False, "--json", help="print the JSON object only"),
             model: Optional[str] = typer.Option(None), int8: bool = typer.Option(False, "--int8"),
             threads: int = typer.Option(2, min=1),
             menu: Optional[Path] = typer.Option(None, help="menu YAML for the replay instead of each "
                                                            "shift's"),
             fresh: int = typer.Option(0, "--fresh", min=0, help="also render and score N new scenarios per kind "
                                                                 "from random seeds (printed)"),
             kinds: str = typer.Option("rush-hard", "--kinds", help="with --fresh: comma-separated scenario kinds"),
             seed: Optional[int] = typer.Option(None, "--seed", help="with --fresh: the master seed (reproduces a "
                                                                     "printed run)"),
             repeats: int = typer.Option(0, "--repeats", min=0, help="score each shift over K other draws of its "
                                                                    "camera noise and report the spread"),
             keep: Optional[Path] = typer.Option(None, "--keep", help="keep the shifts rendered by --fresh or "
                                                                      "--repeats in this folder"),
             jobs: int = typer.Option(1, "--jobs", min=1, help="render and score this many shifts at once "
                                                               "(processes)"),
             cameras: int = typer.Option(0, "--cameras", min=0, max=64,
                                         help="replay the shifts on N cameras at once in real time, sharing one "
                                              "model as `run` does (camera i: shift i mod the count; the model "
                                              "file the service would run)")) -> None:
    """Score verdicts against the truth: accuracy with order ids checked, mismatch recall, false alerts,
    latency; on recorded shifts, fresh scenarios (--fresh), several noise draws (--repeats) or N cameras
    at once (--cameras)."""
    variant = "int8" if int8 or (cameras and int8_choice(model)[0]) else "fp32"
    req = EvalRequest(path, verdicts, model, variant, threads, json_out, menu, fresh,
                      [k.strip() for k in kinds.split(",") if k.strip()], seed, repeats, keep, jobs, cameras)
    report = evaluate(req)
    if json_out:
        sys.stdout.write(json.dumps(report) + "\n")
    else:
        print_report(report)


@app.command()
def bench(json_out: bool = typer.Option(False, "--json", help="print the JSON object of the contract"),
          fixture: Optional[Path] = typer.Option(None, help="recorded shift to take frames from"),
          frames: int = typer.Option(150, min=10, help="frames per backend"),
          threads: int = typer.Option(2, min=1),
          model: Optional[str] = typer.Option(None, help="bundled model name"),
          detectors_only: bool = typer.Option(False, "--detectors-only",
                                              help="skip the pipeline, idle and cameras rows"),
          cameras: str = typer.Option("1,2,4,8", help="comma-separated N: a cameras-N row each, N cameras "
                                                       "replaying busy fixtures in real time in one process (0: none)"),
          cameras_seconds: float = typer.Option(30.0, min=5.0, help="how long each cameras-N row runs"),
          shared_seconds: float = typer.Option(12.0, min=1.0, help="how long the shared-detector row runs"),
          ultralytics: bool = typer.Option(True, "--ultralytics/--no-ultralytics",
                                           help="time ultralytics predict too (loads torch: ~0.9 GB more memory)"),
          also: list[str] = typer.Option([], "--also", help="another model family DIR/NAME (e.g. a site's): its "
                                                            "fp32 and INT8 timed in the same rounds (repeat)")) -> None:
    """Speed: ONNX fp32, ONNX INT8 and ultralytics predict on the same frames; the pipeline's overhead;
    an idle camera; the shared detector with 1 and 2 callers; N cameras in real time in one process."""
    result = run_bench(fixture, frames, threads, model, quiet=json_out, pipeline=not detectors_only,
                       cameras=[] if detectors_only else camera_counts(cameras), cameras_seconds=cameras_seconds,
                       also=also, shared_seconds=shared_seconds, ultralytics=ultralytics)
    if json_out:
        sys.stdout.write(json.dumps(result) + "\n")
    else:
        print_table(result)


def main() -> None:
    try:
        app()  # standalone: usage errors print click's message and exit 2
    except TrayCheckError as exc:
        for line in str(exc).splitlines() or [""]:  # several problems: one line each
            console.print(f"[red]error:[/red] {escape(line)}", highlight=False, soft_wrap=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
