"""The ``detector:`` section, Frigate-style: ``{type: onnx|ultralytics, model: ..., threads: ...}``.

A pydantic union discriminated on ``type``: each backend has its own keys (``int8`` and
``providers`` are ONNX Runtime's) and a key of another backend is refused by name. A section
without ``type`` gets the one the model file's suffix picks (``detectors.loader.backend_for``),
so configs written before ``type`` existed load unchanged. The backends themselves are registered
in ``detectors.loader.BACKENDS``; a test keeps the two lists equal.
"""
from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from detectors.loader import backend_for, missing
from detectors.model_info import int8_choice


class _DetectorBase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str | None = None  # bundled name, family path or model file; default: the bundled model
    model_dir: str | None = None  # installed models + active.json (beats ``model``); default: <data_dir>/models
    threads: int = Field(2, ge=1, le=64)
    # `model install` refuses a family that counts fewer of its own validation photos right than this
    # (metrics.counting in its metadata), unless --force: such a model would fail orders
    min_count_accuracy: float = Field(0.80, ge=0.0, le=1.0)

    @field_validator("type", check_fields=False)  # (each subclass declares its own Literal ``type``)
    @classmethod
    def _installed(cls, v: str) -> str:
        why = missing(v)
        if why is not None:
            raise ValueError(why)
        return v

    @property
    def variant(self) -> str:
        """Which file of ``model`` (a bundled model or family: ``resolve_model``)."""
        return self.variant_for(self.model)

    def variant_for(self, ref: str | None) -> str:
        """Which file of the model family ``ref`` (the installed active model, or ``model``) runs."""
        raise NotImplementedError

    def load_options(self) -> dict[str, Any]:
        """Keyword arguments for ``load_detector`` besides the model and its variant."""
        return {"backend": self.type, "threads": self.threads}  # type: ignore[attr-defined]  # (subclasses: Literal)


class OnnxDetectorConfig(_DetectorBase):
    """ONNX Runtime on the model's ``.onnx`` file (the appliance's default)."""

    type: Literal["onnx"] = "onnx"
    # run the family's INT8 file (``NAME.int8.onnx``); auto: where its metadata shows INT8 mAP50
    # within 0.01 of fp32 (``detectors.model_info.int8_choice``; the bundled model does)
    int8: bool | Literal["auto"] = "auto"
    providers: list[str] | None = None  # ONNX Runtime execution providers; default: CPU

    @field_validator("int8", mode="before")
    @classmethod
    def _int8(cls, v: object) -> object:
        if v is None:
            return "auto"
        if isinstance(v, bool) or v == "auto":
            return v
        raise ValueError("true, false or auto")

    def variant_for(self, ref: str | None) -> str:
        use = int8_choice(ref)[0] if self.int8 == "auto" else self.int8
        return "int8" if use else "fp32"

    def variant_why(self, ref: str | None) -> str:
        """For ``doctor``: which file runs and why."""
        if self.int8 != "auto":
            return f"{'INT8' if self.int8 else 'fp32'}: detector.int8 is {str(self.int8).lower()} in the config"
        return int8_choice(ref)[1] + " (detector.int8: auto)"

    def load_options(self) -> dict[str, Any]:
        return {**super().load_options(), "providers": self.providers}


class UltralyticsDetectorConfig(_DetectorBase):
    """Ultralytics' own predict on ``.pt`` weights (needs the train extra): a reference, not for the line."""

    type: Literal["ultralytics"]

    def variant_for(self, ref: str | None) -> str:
        return "pt"


def _default_type(data: object) -> object:
    """A section without ``type``: the one its model's file suffix picks (onnx by default)."""
    if isinstance(data, dict) and "type" not in data:
        return {"type": backend_for(data.get("model")), **data}
    return data


DetectorConfig = Annotated[OnnxDetectorConfig | UltralyticsDetectorConfig,
                           Field(discriminator="type"), BeforeValidator(_default_type)]
