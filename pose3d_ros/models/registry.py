"""2D pose model configurations: which ONNX file, how to feed it, how to read its outputs.

The shipped models are described in ``pose3d_ros/resources/models/models.json`` (written by
``scripts/convert_models.py``, with a sha256 per file). A user can drop in another ONNX model by giving a
:class:`ModelConfig` (or a dict / YAML section with the same keys) that names its input, normalisation, output
tensors and keypoint layout; :func:`check_outputs` turns a model whose outputs do not match its configuration into
a :class:`ModelConfigError` that says what differs.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.resources
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..core.skeleton import get_layout

__all__ = [
    "ModelConfig",
    "ModelConfigError",
    "ModelChecksumError",
    "models_dir",
    "load_manifest",
    "list_models",
    "default_model_name",
    "get_model_config",
    "resolve_model",
    "verify_checksum",
    "check_outputs",
]

#: Output decoders this package implements (``ModelConfig.family``) and the keypoint layout each one decodes: the
#: PAF limb table (OpenPose), the landmark order (BlazePose) and the output row (MoveNet) are fixed by the layout.
DECODER_LAYOUTS = {"openpose": "openpose18", "blazepose": "blazepose33", "movenet": "coco17"}
FAMILIES = tuple(DECODER_LAYOUTS)


class ModelConfigError(ValueError):
    """A model configuration is invalid, or a model does not match its configuration."""


class ModelChecksumError(RuntimeError):
    """A model file is missing, unreadable, or its sha256 differs from the manifest."""


#: keys of a models.json entry that describe the model (where it comes from, facts the decoders derive themselves:
#: MoveNet's fixed 6-person output, OpenPose's output stride) but do not configure how it runs
PROVENANCE_KEYS = frozenset({"bytes", "description", "license", "source", "max_people", "output_stride"})
#: keys of a models.json entry's ``input`` section (``native_size``, ``dtype``, ``dynamic_size`` are descriptive)
INPUT_KEYS = frozenset({"name", "default_size", "color", "mean", "scale", "stride", "format", "native_size", "dtype",
                        "dynamic_size"})

@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """How to run and decode one 2D pose model.

    Attributes
    ----------
    name : str
        Identifier (key in ``models.json`` or user-chosen).
    path : Path
        ONNX file.
    family : str
        Output decoder; ``"openpose"`` = keypoint heatmaps + part affinity fields (bottom-up multi-person);
        ``"blazepose"`` = MediaPipe BlazePose landmarks + heatmaps from one aligned person crop (top-down);
        ``"movenet"`` = MoveNet MultiPose: up to 6 people (COCO-17 keypoints + box + score) from the whole frame
        (a person detector, :mod:`pose3d_ros.models.movenet`; its input is int32).
    layout : str, optional
        Keypoint layout of the decoded joints and heatmap channels (a :func:`pose3d_ros.core.skeleton.get_layout`
        name); the front ends publish it as ``People2D.layout``. It must be the one the family's decoder reads
        (:data:`DECODER_LAYOUTS`); omitted, it is that one.
    input_name : str
        Image input tensor (float32, ``input_format`` layout).
    input_format : {"NCHW", "NHWC"}
    input_size : (int, int)
        Network input ``(H, W)`` used by default; the image is resized keeping its aspect and padded.
    color : {"BGR", "RGB"}
        Channel order the network expects.
    mean, scale : (3,) floats, float
        Normalisation ``(pixel - mean) * scale`` per channel, in the network's channel order.
    heatmaps_output, pafs_output : str
        Output tensor names: (N, C_h, H/stride, W/stride) keypoint maps and (N, C_p, ...) PAFs.
    heatmap_channels, paf_channels : int
        Expected channel counts (``heatmap_channels`` may include one background channel).
    stride : int
        Input pixels per output cell.
    sha256 : str or None
        Expected checksum of ``path`` (None = not verified, for user models).
    outputs : dict of str to str
        Role -> output tensor name for the roles beyond heatmaps/PAFs (BlazePose: ``landmarks``, ``pose_flag``,
        ``heatmaps``, ``world_landmarks``).
    flag_is_logit : bool
        The person-presence output needs a sigmoid (BlazePose).
    """

    name: str
    path: Path
    family: str = "openpose"
    layout: str | None = None
    input_name: str = "image"
    input_format: str = "NCHW"
    input_size: tuple[int, int] = (192, 256)
    color: str = "BGR"
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    scale: float = 1.0
    heatmaps_output: str = "heatmaps"
    pafs_output: str = "pafs"
    heatmap_channels: int = 19
    paf_channels: int = 38
    stride: int = 8
    sha256: str | None = None
    outputs: dict = dataclasses.field(default_factory=dict, compare=False, hash=False)
    flag_is_logit: bool = False

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ModelConfigError(f"model {self.name!r}: family must be one of {FAMILIES}, got {self.family!r}")
        try:
            layout = get_layout(self.layout or DECODER_LAYOUTS[self.family]).name
        except KeyError as exc:
            raise ModelConfigError(f"model {self.name!r}: {exc.args[0]}") from None
        if layout != DECODER_LAYOUTS[self.family]:
            raise ModelConfigError(f"model {self.name!r}: the {self.family} decoder reads layout "
                                   f"{DECODER_LAYOUTS[self.family]!r}, the config says {self.layout!r}")
        object.__setattr__(self, "layout", layout)
        if self.input_format not in ("NCHW", "NHWC"):
            raise ModelConfigError(f"model {self.name!r}: input format must be NCHW or NHWC, got {self.input_format!r}")
        if self.color not in ("BGR", "RGB"):
            raise ModelConfigError(f"model {self.name!r}: color must be 'BGR' or 'RGB', got {self.color!r}")
        size = tuple(int(v) for v in self.input_size)
        if len(size) != 2 or min(size) < self.stride or any(v % self.stride for v in size):
            raise ModelConfigError(
                f"model {self.name!r}: input_size must be (H, W), multiples of stride {self.stride}, "
                f"got {self.input_size}"
            )
        object.__setattr__(self, "input_size", size)
        if len(self.mean) != 3 or not np.isfinite(self.mean).all() or not np.isfinite(self.scale) or self.scale == 0:
            raise ModelConfigError(f"model {self.name!r}: bad normalisation mean={self.mean} scale={self.scale}")
        object.__setattr__(self, "path", Path(self.path))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], base_dir: Path | None = None) -> ModelConfig:
        """Build from a dict (a ``models.json`` entry or a user YAML section); relative paths use ``base_dir``."""
        data = dict(data)
        known = {f.name for f in dataclasses.fields(cls)}
        if "input" in data:  # models.json nesting
            inp = data.pop("input")
            if not isinstance(inp, Mapping) or set(inp) - INPUT_KEYS:
                extra = sorted(set(inp) - INPUT_KEYS) if isinstance(inp, Mapping) else inp
                raise ModelConfigError(f"model {data.get('name')!r}: unknown input settings {extra}; known: "
                                       f"{sorted(INPUT_KEYS)}")
            data.setdefault("input_name", inp.get("name", "image"))
            data.setdefault("input_size", tuple(inp.get("default_size", (192, 256))))
            data.setdefault("color", inp.get("color", "BGR"))
            data.setdefault("mean", tuple(inp.get("mean", (0.0, 0.0, 0.0))))
            data.setdefault("scale", inp.get("scale", 1.0))
            data.setdefault("stride", inp.get("stride", 8))
            data.setdefault("input_format", inp.get("format", "NCHW"))
        if isinstance(data.get("outputs"), Mapping):
            outs = dict(data["outputs"])
            data["outputs"] = outs
            data.setdefault("heatmaps_output", outs.get("heatmaps", "heatmaps"))
            data.setdefault("pafs_output", outs.get("pafs", "pafs"))
        if "file" in data and "path" not in data:
            data["path"] = data.pop("file")
        if "path" not in data or "name" not in data:
            raise ModelConfigError(f"a model config needs 'name' and 'path' (or 'file'), got keys {sorted(data)}")
        path = Path(data["path"]).expanduser()
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        data["path"] = path
        data["mean"] = tuple(float(v) for v in data.get("mean", (0.0, 0.0, 0.0)))
        data["input_size"] = tuple(int(v) for v in data.get("input_size", (192, 256)))
        unknown = sorted(set(data) - known - PROVENANCE_KEYS)
        if unknown:  # one rule for configuration everywhere: a misspelt key is an error, not silently dropped
            raise ModelConfigError(f"model {data['name']!r}: unknown settings {unknown}; known: {sorted(known)}")
        return cls(**{k: v for k, v in data.items() if k in known})

    @property
    def output_names(self) -> dict[str, str]:
        """Role -> output tensor name (``heatmaps``, ``pafs`` and the :attr:`outputs` roles)."""
        return {"heatmaps": self.heatmaps_output, "pafs": self.pafs_output, **dict(self.outputs)}

    @property
    def top_down(self) -> bool:
        """The model sees one person crop at a time and needs person regions (a detector or a tracker)."""
        return self.family == "blazepose"

    def with_input_size(self, height: int, width: int) -> ModelConfig:
        """Copy with another network input size (must be multiples of the stride)."""
        return dataclasses.replace(self, input_size=(int(height), int(width)))


def models_dir() -> Path:
    """``pose3d_ros/resources/models`` (the shipped ONNX files and ``models.json``)."""
    return Path(str(importlib.resources.files("pose3d_ros").joinpath("resources", "models")))


def load_manifest(path: Path | None = None) -> dict[str, Any]:
    """Read ``models.json``; raises :class:`ModelChecksumError` when it is missing or not JSON."""
    path = models_dir() / "models.json" if path is None else Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelChecksumError(f"cannot read model manifest {path}: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("models"), dict):
        raise ModelChecksumError(f"model manifest {path} has no 'models' mapping")
    return data


def list_models() -> list[str]:
    """Names of the shipped models."""
    return sorted(load_manifest()["models"])


def default_model_name() -> str:
    """Name of the default shipped model (``models.json`` ``default``)."""
    return str(load_manifest()["default"])


def get_model_config(name: str | None = None) -> ModelConfig:
    """Configuration of a shipped model (``None`` = the default)."""
    manifest = load_manifest()
    name = manifest["default"] if name is None else name
    if name not in manifest["models"]:
        raise ModelConfigError(f"unknown model {name!r}; shipped models: {sorted(manifest['models'])}")
    return ModelConfig.from_dict({"name": name, **manifest["models"][name]}, base_dir=models_dir())


def resolve_model(spec: str | Mapping[str, Any] | ModelConfig | None) -> ModelConfig:
    """A :class:`ModelConfig` from a shipped name, a user dict, a config, or ``None`` (default model)."""
    if spec is None or isinstance(spec, str):
        return get_model_config(spec)
    if isinstance(spec, ModelConfig):
        return spec
    if isinstance(spec, Mapping):
        return ModelConfig.from_dict(spec)
    raise ModelConfigError(f"model must be a name, a dict or a ModelConfig, got {type(spec).__name__}")


def verify_checksum(config: ModelConfig) -> Path:
    """Check that ``config.path`` exists and matches ``config.sha256`` (when given); return the path.

    Raises
    ------
    ModelChecksumError
        Missing / unreadable file, or a checksum mismatch (a truncated or corrupted download or checkout).
    """
    path = config.path
    if not path.is_file():
        raise ModelChecksumError(
            f"model file {path} for {config.name!r} is missing "
            "(reinstall the package or rerun scripts/convert_models.py)"
        )
    if config.sha256 is None:
        return path
    digest = hashlib.sha256()
    try:
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    except OSError as exc:
        raise ModelChecksumError(f"cannot read model file {path}: {exc}") from exc
    if digest.hexdigest() != config.sha256:
        raise ModelChecksumError(
            f"model file {path} is corrupt: sha256 {digest.hexdigest()} != expected {config.sha256} "
            "(git-lfs pointer or truncated file? reinstall the package or rerun scripts/convert_models.py)"
        )
    return path


def check_outputs(config: ModelConfig, outputs: Mapping[str, np.ndarray], input_hw: tuple[int, int]) -> None:
    """Raise :class:`ModelConfigError` when a model's outputs do not match ``config``.

    Parameters
    ----------
    config : ModelConfig
    outputs : mapping of str to ndarray
        What the backend returned for one input of size ``input_hw``.
    input_hw : (int, int)
        Network input height and width.
    """
    expected_hw = (input_hw[0] // config.stride, input_hw[1] // config.stride)
    for key, channels in ((config.heatmaps_output, config.heatmap_channels), (config.pafs_output, config.paf_channels)):
        if key not in outputs:
            raise ModelConfigError(
                f"model {config.name!r} has no output {key!r}; it has {sorted(outputs)} (fix the model config)"
            )
        arr = outputs[key]
        if arr.ndim != 4 or arr.shape[1] != channels:
            raise ModelConfigError(
                f"model {config.name!r} output {key!r} has shape {arr.shape}; the config expects (N, {channels}, H, W)"
            )
        if tuple(arr.shape[2:]) != expected_hw:
            raise ModelConfigError(
                f"model {config.name!r} output {key!r} is {arr.shape[2:]} for input {input_hw}; stride "
                f"{config.stride} expects {expected_hw}"
            )
