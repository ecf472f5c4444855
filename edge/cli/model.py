"""``traycheck model``: compare model families on labelled photos, install one into service, roll back."""
from __future__ import annotations

from pathlib import Path

import typer

from detectors.evaluation.compare import compare_models
from detectors.evaluation.report_html import write_report
from detectors.evaluation.table import print_comparison
from edge.app.config import load_config
from edge.app.model_store import install, rollback
from edge.cli.options import config_option
from edge.core import console, progress_bar
from orders.menu import load_menu

model_app = typer.Typer(no_args_is_help=True,
                        help="Models: compare two on labelled photos; install one into the appliance; roll back.")


@model_app.command("install")
def model_install(src: Path = typer.Argument(..., help="a model family: NAME.onnx / NAME.int8.onnx / NAME.json, "
                                                       "DIR/NAME, or a folder holding one family"),
                  config: Path = config_option(),
                  force: bool = typer.Option(False, "--force", help="install a model whose own figures count "
                                             "fewer validation photos right than detector.min_count_accuracy")
                  ) -> None:
    """Check a model family (both ONNX files load, classes cover the menu, it counts at least
    detector.min_count_accuracy of its validation photos right), copy it into the model directory
    and make it the active model; the service switches on SIGHUP."""
    cfg = load_config(config)
    console.print(install(src, cfg, load_menu(cfg.menu), force), highlight=False, soft_wrap=True)


@model_app.command("rollback")
def model_rollback(config: Path = config_option()) -> None:
    """Point the active model back at the previous one; the service switches on SIGHUP."""
    cfg = load_config(config)
    console.print(rollback(cfg, load_menu(cfg.menu)), highlight=False, soft_wrap=True)


@model_app.command("compare")
def model_compare(model_a: str = typer.Argument(..., metavar="A", help="bundled model name (traycheck-v8n, "
                                                                      "traycheck-v8n.int8) or a .onnx/.pt file"),
                  model_b: str = typer.Argument(..., metavar="B", help="the other model, named the same ways"),
                  data: Path = typer.Option(..., "--data", help="dataset folder (data.yaml) or a folder of photos "
                                                                "with YOLO .txt labels"),
                  split: str = typer.Option("val", "--split", help="which split of a data.yaml to score"),
                  conf: float = typer.Option(0.25, "--conf", help="operating threshold for P/R, counts, confusion"),
                  threads: int = typer.Option(2, "--threads", min=1, help="detector threads (both models)"),
                  report: Path | None = typer.Option(None, "--report", help="write DIR/index.html and the "
                                                                            "wrong-count photos here"),
                  json_out: bool = typer.Option(False, "--json", help="print one JSON object only")) -> None:
    """Score two models on the same labelled photos: per-class AP, precision/recall, count accuracy,
    confusion, speed."""
    import json
    import sys

    cmp = compare_models(model_a, model_b, data, split, conf, threads, progress=progress_bar)
    if report is not None:
        page = write_report(cmp, report)
    if json_out:
        sys.stdout.write(json.dumps(cmp.result) + "\n")
    else:
        from rich.console import Console

        print_comparison(cmp.result, Console(width=max(console.width, 160)))
    if report is not None:
        console.print(f"report: {page}", highlight=False, soft_wrap=True)
