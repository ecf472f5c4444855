"""``traycheck train``, ``export`` and ``detect``: a model before it reaches an appliance (training and
export need the train extra). Registered on the root command by ``edge.cli.main``."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from detectors.model_info import MODELS_DIR
from detectors.synth.dataset import write_dataset
from edge.cli.train_settings import TrainOptions
from edge.core import console, progress_bar
from edge.errors import InvalidInput
from edge.replay.detect import detect_video

# train's options, one alias each so that the command's signature stays a list
_Out = Annotated[Path, typer.Option("-o", "--out", help="work folder (RUN) for data and runs")]
_Data = Annotated[Optional[Path], typer.Option(help="fine-tune on this dataset (from 'data import') instead of "
                                                    "rendered trays; writes RUN/best.pt")]
_From = Annotated[Optional[str], typer.Option(
    "--from", help="with --data: start from this checkpoint (an ultralytics .pt or a tensors-only state dict, "
                   "e.g. COCO weights; matching tensors transfer by name and shape) or a bundled model name "
                   "(default: the bundled model)")]
_Unlabelled = Annotated[Optional[list[Path]], typer.Option(
    help="with --data: a folder of unlabelled photos (repeatable): a teacher pseudo-labels them for a student, "
         "within --hours")]
_Synthetic = Annotated[int, typer.Option(min=0, help="with --data: mix in N rendered trays (classes the renderer "
                                                     "knows, by name)")]
_CopyPaste = Annotated[Optional[int], typer.Option("--copy-paste", min=0, help="with --data: extra copy-paste "
                                                   "images (default: as many as training photos; 0: none)")]
_Images = Annotated[int, typer.Option(min=8, help="training images to render")]
_ValImages = Annotated[int, typer.Option(min=4, help="validation images (a different seed)")]
_Epochs = Annotated[Optional[int], typer.Option(min=1, help="default 40 (rendered) / 60 (--data)")]
_Hours = Annotated[Optional[float], typer.Option(min=0.01, help="CPU time budget in hours; the schedule is "
                                                                "fitted into it")]
_Imgsz = Annotated[Optional[int], typer.Option(min=64, help="training image size (default 320 rendered, "
                                                            "384 --data)")]
_Batch = Annotated[int, typer.Option(min=1, help="images per training batch")]
_Seed = Annotated[int, typer.Option(help="random seed of the rendered sets and of training (validation: "
                                         "seed + 100000)")]
_ModelYaml = Annotated[Optional[Path], typer.Option("--model-yaml", help="model YAML (default: bundled)")]
_Weights = Annotated[Optional[Path], typer.Option(help="fine-tune these .pt weights instead of the YAML")]
_Lr0 = Annotated[Optional[float], typer.Option(help="initial learning rate (AdamW); default: automatic")]
_Mosaic = Annotated[float, typer.Option(min=0.0, max=1.0, help="mosaic augmentation probability")]


def train(out: _Out = Path("runs/train"), data: _Data = None, from_model: _From = None,
          unlabelled: _Unlabelled = None, synthetic: _Synthetic = 0, copy_paste: _CopyPaste = None,
          images: _Images = 1500, val_images: _ValImages = 150, epochs: _Epochs = None, hours: _Hours = None,
          imgsz: _Imgsz = None, batch: _Batch = 16, seed: _Seed = 0, model_yaml: _ModelYaml = None,
          weights: _Weights = None, lr0: _Lr0 = None, mosaic: _Mosaic = 1.0) -> None:
    """Train the detector with ultralytics (needs the train extra): on a site's own photos (--data),
    or on rendered trays."""
    opts = TrainOptions(data, from_model, list(unlabelled or []), synthetic, copy_paste, images, val_images,
                        epochs, hours, imgsz, batch, seed, model_yaml, weights, lr0, mosaic)
    if data is not None:
        from detectors.finetune import finetune

        best = finetune(opts.finetune(), out)
        console.print(f"best weights: {best}\nnext: traycheck export {best} --name NAME --out-dir DIR --data {data}")
        return
    from detectors.train import train as run_train

    best = run_train(opts.rendered(), out, _render_trays)
    console.print(f"best weights: {best}\nnext: traycheck export {best}")


def _render_trays(folder: Path, n: int, seed: int, val_fraction: float) -> Path:
    """The rendered training set of a run, with a progress bar."""
    with progress_bar(f"Rendering {n} trays (seed {seed})", n) as advance:
        return write_dataset(folder, n, seed, val_fraction, advance)


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


def detect(source: Path = typer.Argument(..., help="a recorded shift folder or a video file"),
           model: Optional[str] = typer.Option(None, help="model name or .onnx/.pt file (default: bundled)"),
           int8: bool = typer.Option(False, "--int8", help="use the INT8 model"),
           out: Optional[Path] = typer.Option(None, "-o", "--out", help="annotated output video (.mp4)"),
           threads: int = typer.Option(2, min=1, help="ONNX Runtime threads of the detector")) -> None:
    """Run the detector over a video; annotated video and a per-tray summary against truth.jsonl."""
    detect_video(source, model, "int8" if int8 else "fp32", out, threads)
