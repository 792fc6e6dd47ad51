"""Start-up check of a loaded 2D model against its :class:`~pose3d_ros.models.registry.ModelConfig`.

A model whose outputs do not match its configuration (another heatmap channel count, another landmark count, an
input of another size) used to load, start and then fail on every frame. :func:`check_model_outputs` runs one
inference on a zero image of the configured input size when the pipeline starts and compares what comes back with
what the family's decoder will read, so such a model is refused at start-up with a
:class:`~pose3d_ros.models.registry.ModelConfigError` that names the model file, the output and both shapes. It
costs one inference (10-20 ms on CPU), which also warms the backend up.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..core.skeleton import get_layout
from .registry import ModelConfig, ModelConfigError, check_outputs

__all__ = ["check_model_config", "check_model_outputs", "probe_input"]

#: BlazePose: 33 body landmarks + the two alignment points (33, 34) that place the next frame's crop.
_BLAZEPOSE_MIN_LANDMARKS = 35
#: OpenPose decoder: 18 keypoint maps (+ optional background) and 2 x 19 PAF channels.
_OPENPOSE_PARTS, _OPENPOSE_PAFS = 18, 38
#: MoveNet MultiPose row per person: 17 x (y, x, score) + box (4) + score.
_MOVENET_ROW = 17 * 3 + 5


def _describe(config: ModelConfig) -> str:
    return f"model {config.name!r} ({config.path})"


def check_model_config(config: ModelConfig) -> None:
    """Static checks: the configured channel counts fit the family's decoder and the keypoint layout.

    Raises
    ------
    ModelConfigError
        ``heatmap_channels`` / ``paf_channels`` that the decoder cannot read, or an unknown ``layout``.
    """
    what = _describe(config)
    if config.family == "movenet":
        return  # the detector's layout is fixed (COCO-17); its output row is checked on the probe
    try:
        joints = len(get_layout(config.layout).names)
    except KeyError as exc:
        raise ModelConfigError(f"{what}: {exc.args[0] if exc.args else exc}") from None
    channels = int(config.heatmap_channels)
    if config.family == "openpose":
        if channels < _OPENPOSE_PARTS or int(config.paf_channels) != _OPENPOSE_PAFS:
            raise ModelConfigError(
                f"{what}: the OpenPose decoder reads >= {_OPENPOSE_PARTS} heatmap channels and {_OPENPOSE_PAFS} PAF "
                f"channels; the config has heatmap_channels={channels}, paf_channels={config.paf_channels}")
    elif config.family == "blazepose" and channels < max(joints, _BLAZEPOSE_MIN_LANDMARKS):
        raise ModelConfigError(
            f"{what}: heatmap_channels={channels}, but BlazePose decoding needs one landmark per channel, >= "
            f"{max(joints, _BLAZEPOSE_MIN_LANDMARKS)} ({joints} of layout {config.layout!r} + the 2 alignment points)")


def probe_input(config: ModelConfig, backend) -> tuple[dict[str, np.ndarray], tuple[int, int]]:
    """A zero input of the configured size (the model's own size where its input is static) and its ``(H, W)``.

    Raises
    ------
    ModelConfigError
        The model has no input named ``config.input_name``, its input is not 4-D, or (BlazePose) its static input
        size differs from ``config.input_size``.
    """
    what = _describe(config)
    specs = {spec.name: spec for spec in backend.inputs}
    if config.input_name not in specs:
        raise ModelConfigError(f"{what} has no input {config.input_name!r}; it has {sorted(specs)}")
    spec = specs[config.input_name]
    if len(spec.shape) != 4:
        raise ModelConfigError(f"{what}: input {spec.name!r} is {spec.shape}, expected 4-D ({config.input_format})")
    h_axis, w_axis = (2, 3) if config.input_format == "NCHW" else (1, 2)
    h, w = config.input_size
    static = spec.shape[h_axis], spec.shape[w_axis]
    if None not in static and tuple(static) != (h, w):
        if config.family == "blazepose":
            raise ModelConfigError(f"{what}: input {spec.name!r} is {static[0]}x{static[1]} (H x W) but the config's "
                                   f"input_size is {h}x{w}")
        h, w = int(static[0]), int(static[1])
    shape = [1, 3, h, w] if config.input_format == "NCHW" else [1, h, w, 3]
    return {spec.name: np.zeros(shape, dtype=spec.dtype)}, (h, w)


def _output(config: ModelConfig, out: Mapping[str, np.ndarray], name: str) -> np.ndarray:
    if name not in out:
        raise ModelConfigError(f"{_describe(config)} has no output {name!r}; it has {sorted(out)} "
                               "(fix the model config)")
    arr = np.asarray(out[name])
    if arr.size and np.issubdtype(arr.dtype, np.floating) and not np.all(np.isfinite(arr)):
        raise ModelConfigError(f"{_describe(config)}: output {name!r} holds NaN or inf on a zero image "
                               "(corrupt weights?)")
    return arr


def _check_blazepose(config: ModelConfig, out: Mapping[str, np.ndarray], input_hw: tuple[int, int]) -> None:
    what, names = _describe(config), config.output_names
    heat = _output(config, out, names["heatmaps"])
    cells = (input_hw[0] // config.stride, input_hw[1] // config.stride)
    expected = (1, *cells, int(config.heatmap_channels))
    if heat.shape != expected:
        raise ModelConfigError(f"{what}: output {names['heatmaps']!r} has shape {heat.shape}; the config expects "
                               f"{expected} (heatmap_channels={config.heatmap_channels}, stride {config.stride} on "
                               f"a {input_hw[0]}x{input_hw[1]} input)")
    n = int(config.heatmap_channels)
    for role, per in (("landmarks", 5), ("world_landmarks", 3)):
        arr = _output(config, out, names[role])
        if arr.size != n * per:
            raise ModelConfigError(f"{what}: output {names[role]!r} has {arr.size} values (shape {arr.shape}); "
                                   f"{n} landmarks x {per} expected from heatmap_channels={n}")
    flag = _output(config, out, names["pose_flag"])
    if flag.size != 1:
        raise ModelConfigError(f"{what}: output {names['pose_flag']!r} has shape {flag.shape}, expected one value")


def _check_movenet(config: ModelConfig, out: Mapping[str, np.ndarray]) -> None:
    name = dict(config.outputs).get("people", "people")
    people = _output(config, out, name)
    if people.ndim != 3 or people.shape[0] != 1 or people.shape[2] != _MOVENET_ROW:
        raise ModelConfigError(f"{_describe(config)}: output {name!r} has shape {people.shape}; a MoveNet "
                               f"MultiPose detector returns (1, N, {_MOVENET_ROW})")


def check_model_outputs(config: ModelConfig, backend) -> None:
    """Run one inference on a zero image and refuse a model whose outputs do not match ``config``.

    Parameters
    ----------
    config : ModelConfig
    backend : InferenceBackend
        The loaded model (``inputs`` specs and ``run``).

    Raises
    ------
    ModelConfigError
        Naming the model file and what differs: a missing input / output, a heatmap channel count or map size
        other than the config's (OpenPose: :func:`~pose3d_ros.models.registry.check_outputs`), a landmark count
        that does not match the heatmaps (BlazePose), a MoveNet row that is not 56 values, NaN outputs, or an
        inference that fails on the configured input.
    """
    check_model_config(config)
    feed, input_hw = probe_input(config, backend)
    try:
        out = backend.run(feed)
    except Exception as exc:  # noqa: BLE001 - any backend failure here means the model does not fit its config
        shape = next(iter(feed.values())).shape
        raise ModelConfigError(f"{_describe(config)}: a test inference on a zero input {shape} failed: "
                               f"{type(exc).__name__}: {exc}") from None
    if config.family == "openpose":
        for name in (config.heatmaps_output, config.pafs_output):
            _output(config, out, name)
        try:
            check_outputs(config, out, input_hw)
        except ModelConfigError as exc:
            raise ModelConfigError(f"{exc} [{config.path}]") from None
    elif config.family == "blazepose":
        _check_blazepose(config, out, input_hw)
    else:
        _check_movenet(config, out)
