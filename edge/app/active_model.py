"""The model the service runs, and how a reload changes it: the model directory's active
model (``active.json``) or the config's ``detector.model``, identified by file and settings
so that an unchanged model is never loaded twice, and a refused one never replaces it."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from detectors.detections import ModelDetector
from detectors.model_info import family_name, figures_line, load_metadata, resolve_model
from edge.app.config import Config
from edge.app.model_family import probe
from edge.app.model_store import active_model, config_menu, load_model, model_dir, read_pointer, write_pointer
from edge.errors import TrayCheckError
from orders.menu import Menu

log = logging.getLogger("traycheck.service")


def model_key(cfg: Config) -> tuple[str, tuple, str | None]:
    """(model file, what identifies the file and its settings, installed name or None) for
    ``cfg``: the model directory's active model, else the config's ``detector.model``."""
    d = cfg.detector
    ref, name = active_model(cfg)
    path = resolve_model(ref, d.variant_for(ref))
    st = path.stat()
    options = repr(sorted(d.load_options().items()))  # type, threads, providers: a change loads anew
    return str(path), (str(path.resolve()), st.st_mtime_ns, st.st_size, options), name


def previous_model(cfg: Config) -> str | None:
    """What rollback goes back to from the active model (None: nothing installed before it)."""
    try:
        return (read_pointer(model_dir(cfg)) or {}).get("previous")
    except TrayCheckError:
        return None


@dataclass
class ActiveModel:
    detector: ModelDetector
    key: tuple
    name: str | None  # installed name; None: the config's detector.model
    previous: str | None

    @classmethod
    def load(cls, cfg: Config) -> "ActiveModel":
        path, key, name = model_key(cfg)
        d = cfg.detector
        det = load_model(path, d.variant, **d.load_options(), shared=True)  # one model, every camera (path: a file)
        probe(det, f"model file {path}")
        return cls(det, key, name, previous_model(cfg))

    @classmethod
    def given(cls, detector: ModelDetector, cfg: Config) -> "ActiveModel":
        """A model the caller loaded and checked already (a replay's --model)."""
        return cls(detector, ("given", id(detector)), None, previous_model(cfg))

    def describe(self) -> str:
        """For the system page: name, where it comes from, file, classes."""
        det = self.detector
        where = "installed" if self.name else "detector.model"
        return f"{family_name(det.path)} ({where}: {det.path}; {len(det.classes)} classes: {', '.join(det.classes)})"

    def figures(self) -> str:
        """For the system page: what the model's own metadata says it counts right."""
        return figures_line(load_metadata(Path(self.detector.path)))

    def successor(self, new: Config, config_path: Path | None) -> tuple["ActiveModel", Menu]:
        """The model and menu ``new`` asks for (this very model when its file and settings are
        unchanged); InvalidInput when the model does not load or the menu names a class it lacks."""
        _, key, name = model_key(new)
        nxt = self if key == self.key else ActiveModel.load(new)
        menu = config_menu(new, nxt.detector, config_path)
        if nxt is self:
            return ActiveModel(self.detector, key, name, self.previous), menu
        return nxt, menu

    def point_back(self, new: Config, reason: str) -> None:
        """If the pointer names a model other than the running one (the one just refused, or an
        unreadable pointer), make it name the running one, so it says what is really active."""
        folder = model_dir(new)
        try:
            try:
                ptr = read_pointer(folder) or {}
            except TrayCheckError:
                ptr = {"name": "(unreadable pointer)"}
            if ptr.get("name") == self.name:
                return
            write_pointer(folder, self.name, self.previous, refused=ptr.get("name"), refused_because=reason)
            log.error("active model pointer %s set back to the running model %s", folder / "active.json",
                      self.name or "detector.model")
        except (OSError, TrayCheckError) as exc:
            log.error("could not set the active model pointer back: %s", exc)
