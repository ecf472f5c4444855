"""SIGHUP for a running service: the new config and the model and menu it points to, checked
before anything switches, and what of the config a reload applies (the rest waits for a restart).
A refusal keeps everything running as it is: never a restart loop on a bad edit."""
from __future__ import annotations

import logging
from pathlib import Path

from detectors.model_info import family_name
from edge.app.active_model import ActiveModel
from edge.app.config import Config, load_config
from edge.errors import TrayCheckError
from orders.menu import Menu

log = logging.getLogger("traycheck.service")  # (the service's log: a reload is the service's doing)


def reload_target(config_path: Path, running: ActiveModel) -> tuple[Config, ActiveModel, Menu] | None:
    """The config at ``config_path``, the model its pointer names and its menu; None (logged) when the
    config fails validation, the model does not load or the menu names a class the model lacks (a
    refused pointer is set back to the running model)."""
    try:
        new = load_config(config_path)
    except TrayCheckError as exc:
        log.error("reload refused, keeping the running config: %s", exc)
        return None
    try:
        model, menu = running.successor(new, config_path)
    except TrayCheckError as exc:
        log.error("reload refused, keeping the running config and model %s: %s",
                  family_name(running.detector.path), exc)
        running.point_back(new, str(exc))
        return None
    return new, model, menu


def reloaded_config(running: Config, new: Config) -> Config:
    """The running config with what a reload applies (menu, retention, log level, detector); camera,
    MQTT and HTTP changes are only logged: they take effect at the next restart."""
    if [c.model_dump() for c in new.cameras] != [c.model_dump() for c in running.cameras] \
            or new.mqtt != running.mqtt or new.http != running.http:
        log.warning("reload: camera, MQTT and HTTP changes take effect at the next restart")
    return running.model_copy(update={"menu": new.menu, "retention": new.retention,
                                      "log_level": new.log_level, "detector": new.detector})
