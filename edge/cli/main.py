"""The ``traycheck`` command line (contract section 5): a thin layer over the library.

Every user error surfaces as one line on stderr and exit status 2; the
commands themselves live in the modules they name.
"""
from __future__ import annotations

import json
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape

from detectors.model_info import int8_choice
from edge.app.config import load_config
from edge.app.config_files import file_problems
from edge.app.doctor import run_doctor
from edge.app.logs import setup_logging
from edge.app.model_store import check_config_model
from edge.app.run import run_service
from edge.bench.run import camera_counts, print_table, run_bench
from edge.cli.camera import camera_app
from edge.cli.data import data_app
from edge.cli.model import model_app
from edge.cli.options import DEFAULT_CONFIG, config_option
from edge.cli.pos_orders import orders_app
from edge.cli.synth import synth_app
from edge.cli.training import detect, export, train
from edge.cli.users import users_app
from edge.core import console
from edge.errors import InvalidInput, TrayCheckError
from edge.replay.eval_report import EvalRequest, evaluate, print_report
from edge.replay.runner import run_replay

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="TrayCheck: check serving trays against the POS order before the food leaves.")


def _print_version(wanted: bool) -> None:
    """``--version``: the installed package's version (what a support call asks for first)."""
    if wanted:
        try:
            typer.echo(f"traycheck {version('traycheck')}")
        except PackageNotFoundError:
            typer.echo("traycheck (version unknown: the package is not installed; pip install -e .)")
        raise typer.Exit()


@app.callback()
def _root(show_version: bool = typer.Option(False, "--version", is_eager=True, callback=_print_version,
                                            help="print the version and exit")) -> None:
    """Options of ``traycheck`` itself (``--version``); its help text is the Typer's above."""


app.command()(train)
app.command()(export)
app.command()(detect)

config_app = typer.Typer(no_args_is_help=True, help="The appliance configuration file.")
app.add_typer(config_app, name="config")
app.add_typer(users_app, name="users")
app.add_typer(synth_app, name="synth")
app.add_typer(data_app, name="data")
app.add_typer(model_app, name="model")
app.add_typer(camera_app, name="camera")
app.add_typer(orders_app, name="orders")


@config_app.command("check")
def config_check(file: Optional[Path] = typer.Argument(None, metavar="FILE",
                                                       help="the config YAML, as --config (kept for scripts)"),
                 config: Path = config_option()) -> None:
    """Validate a config file and the files it names (one line per problem) without starting anything."""
    if file is not None and config not in (DEFAULT_CONFIG, file):
        raise InvalidInput(f"config check: give the config once, as FILE or --config (got {file} and {config})")
    file = file or config
    cfg = load_config(file)
    problems = file_problems(cfg)  # every file it names exists and is readable; the data dir is writable
    if problems:
        raise InvalidInput("\n".join(f"config {file}: {p}" for p in problems))
    model = check_config_model(cfg, file)  # the active model loads and its classes cover the menu
    console.print(f"{file}: ok ({len(cfg.cameras)} cameras, site {cfg.site}, {model})")


@app.command()
def run(config: Path = config_option()) -> None:
    """The appliance: cameras, pipeline, storage, MQTT and the HTTP API, until SIGTERM."""
    cfg = load_config(config)
    setup_logging(cfg.log_level)
    run_service(cfg, config)


@app.command()
def doctor(config: Path = config_option(),
           camera_timeout: float = typer.Option(15.0, "--camera-timeout", min=1.0,
                                                help="seconds each camera has to deliver frames")) -> None:
    """Check cameras, model, broker, database, disk and clock; non-zero exit when something is wrong."""
    if not run_doctor(load_config(config), camera_timeout):
        raise typer.Exit(1)


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
           threads: int = typer.Option(2, min=1, help="ONNX Runtime threads of the detector"),
           data_dir: Optional[Path] = typer.Option(None, "--data-dir", help="rehearse the appliance without a "
                                                   "config: store trays, verdicts, alerts here"),
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
             model: Optional[str] = typer.Option(None, help="model name or .onnx file (default: bundled)"),
             int8: bool = typer.Option(False, "--int8", help="use the INT8 model"),
             threads: int = typer.Option(2, min=1, help="ONNX Runtime threads of the detector (per process)"),
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
          threads: int = typer.Option(2, min=1, help="ONNX Runtime threads of each detector"),
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
