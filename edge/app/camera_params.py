"""Per-camera overrides of the pipeline and tray thresholds (``cameras[i].pipeline``, ``cameras[i].tray``).

The config models are built from the fields of ``PipelineParams`` and ``TrayParams`` themselves, so a
threshold added there can be overridden at once and a key that is not one of them is refused with its
path (``cameras.0.pipeline.xyz: Extra inputs are not permitted``). Unset keys keep the defaults.
"""
from __future__ import annotations

import dataclasses
import typing
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, create_model

from edge.pipeline.params import PipelineParams
from edge.pipeline.tray import TrayParams

# shares of a frame, a zone or a score: between 0 and 1
_FRACTIONS = {"min_confidence", "merged_overlap", "cross_class_iou", "presence_on", "presence_off",
              "still_motion", "touch_motion"}
# counts that divide or size a window: 0 would stop the pipeline
_AT_LEAST_ONE = {"settled_stride", "ticket_stride", "fifo_window", "rest_frames", "vote_frames", "quick_frames",
                 "change_frames", "touch_frames", "leave_frames"}


def _overrides_model(params: type, name: str) -> type[BaseModel]:
    """A strict pydantic model with every number field of the ``params`` dataclass, optional."""
    hints = typing.get_type_hints(params)
    fields: dict[str, Any] = {}
    for f in dataclasses.fields(params):
        kind = next((k for k in typing.get_args(hints[f.name]) if k is not type(None)), hints[f.name])
        if kind not in (int, float):
            continue  # (the nested ``tray`` params have their own key)
        ge, le = (1 if f.name in _AT_LEAST_ONE else 0), (1 if f.name in _FRACTIONS else None)
        fields[f.name] = (kind | None, Field(None, ge=ge, le=le))
    return create_model(name, __config__=ConfigDict(extra="forbid", frozen=True, strict=False), **fields)


PipelineOverrides = _overrides_model(PipelineParams, "PipelineOverrides")
TrayOverrides = _overrides_model(TrayParams, "TrayOverrides")


def camera_params(pipeline: BaseModel, tray: BaseModel) -> PipelineParams:
    """The defaults with a camera's overrides (the ``PipelineOverrides``/``TrayOverrides`` it was given) applied."""
    tray_params = dataclasses.replace(TrayParams(), **tray.model_dump(exclude_none=True))
    return dataclasses.replace(PipelineParams(), **pipeline.model_dump(exclude_none=True), tray=tray_params)
