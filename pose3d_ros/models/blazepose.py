"""BlazePose landmark model (MediaPipe, ONNX): rotation-aligned person crops -> 33 landmarks + belief maps.

The model is top-down: it sees one 256x256 crop per person, made by :mod:`pose3d_ros.core.roi` so that the person
is upright and centred (MediaPipe's ROI rule; an unaligned crop gives much worse 2D). Per crop it returns 39
landmarks (33 body points + 6 auxiliary ones, of which 33 and 34 are the next frame's alignment points), a
person-presence flag, 64x64 heatmaps per landmark (the CNN belief maps that the 3D-prior stages fuse) and metric
hip-centred "world" landmarks.

Decoding follows MediaPipe's ``pose_landmark_by_roi`` graph: sigmoid visibility and presence, refinement of each
landmark by the sigmoid-weighted mean of a 7x7 heatmap window when its peak is >= 0.5 (cell ``c`` is read as
``c / 64`` of the crop, as MediaPipe does), projection back through the crop's rotation, world landmarks rotated
by it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import cv2
import numpy as np

from ..core.roi import RotatedRect, crop_matrix, crop_to_image, image_to_crop, rect_from_alignment_points
from ..core.skeleton import get_layout
from .registry import DECODER_LAYOUTS, ModelConfig

__all__ = ["BlazePoseParams", "CropResult", "BlazePoseLandmarker", "BeliefMapTransform"]

#: Body landmarks (BlazePose-33); the model's landmarks 33 and 34 are the alignment points (centre, scale).
NUM_BODY = len(get_layout(DECODER_LAYOUTS["blazepose"]).names)
ALIGN_CENTER, ALIGN_SCALE = 33, 34


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -60.0, 60.0)))


@dataclasses.dataclass(frozen=True)
class BlazePoseParams:
    """Decoding settings (MediaPipe's values by default).

    Attributes
    ----------
    refine_kernel : int
        Heatmap window (cells, odd) for the landmark refinement; 0 turns it off.
    refine_min_confidence : float
        Refine a landmark only when its window's sigmoid peak reaches this.
    """

    refine_kernel: int = 7
    refine_min_confidence: float = 0.5

    def __post_init__(self) -> None:
        if int(self.refine_kernel) < 0 or (self.refine_kernel and self.refine_kernel % 2 == 0):
            raise ValueError(f"refine_kernel must be 0 or odd, got {self.refine_kernel}")
        if not 0.0 <= self.refine_min_confidence <= 1.0:
            raise ValueError(f"refine_min_confidence must be in [0, 1], got {self.refine_min_confidence}")


@dataclasses.dataclass(frozen=True)
class BeliefMapTransform:
    """Pixel <-> heatmap-cell maps of one person's crop (rotation included).

    A cell index ``c`` sits at crop pixel ``c * stride`` (the refinement's convention), so decoding a fused map
    and decoding the landmark agree.
    """

    rect: RotatedRect
    crop_size: int
    stride: float

    def map_to_image(self, cells: np.ndarray) -> np.ndarray:
        """Heatmap cells (..., 2) -> image pixels."""
        crop = np.asarray(cells, dtype=np.float64) * self.stride - 0.5
        return crop_to_image(crop, self.rect, self.crop_size)

    def image_to_map(self, pixels: np.ndarray) -> np.ndarray:
        """Image pixels (..., 2) -> heatmap cells."""
        return (image_to_crop(pixels, self.rect, self.crop_size) + 0.5) / self.stride


@dataclasses.dataclass
class CropResult:
    """The landmark model's output for one crop.

    Attributes
    ----------
    landmarks : (39, 2) float64
        Image pixels (pixel-centre convention).
    depth : (39,) float64
        MediaPipe's relative landmark depth, crop pixels (smaller = nearer).
    visibility, presence : (39,) float64
        Probabilities in [0, 1].
    flag : float
        Probability that a person fills the crop.
    world : (39, 3) float64
        Metric hip-centred landmarks (x right, y down, z away from the camera, rotated into the image's axes).
    heatmaps : (39, 64, 64) float32
        Sigmoid belief maps, in crop cells.
    transform : BeliefMapTransform
    rect : RotatedRect
    """

    landmarks: np.ndarray
    depth: np.ndarray
    visibility: np.ndarray
    presence: np.ndarray
    flag: float
    world: np.ndarray
    heatmaps: np.ndarray
    transform: BeliefMapTransform
    rect: RotatedRect

    def next_rect(self) -> RotatedRect | None:
        """The next frame's crop from this frame's alignment landmarks (None when they are unusable)."""
        try:
            return rect_from_alignment_points(self.landmarks[ALIGN_CENTER], self.landmarks[ALIGN_SCALE])
        except ValueError:
            return None


def refine_from_heatmaps(xy_crop: np.ndarray, heat_hwc: np.ndarray, crop_size: int, kernel: int,
                         min_conf: float) -> np.ndarray:
    """MediaPipe's RefineLandmarksFromHeatmap on crop coordinates.

    Parameters
    ----------
    xy_crop : (L, 2)
        Landmarks in continuous crop coordinates (0..crop_size).
    heat_hwc : (h, w, L)
        Sigmoid heatmaps.

    Returns
    -------
    (L, 2) refined continuous crop coordinates.
    """
    h, w, n = heat_hwc.shape
    out = np.array(xy_crop, dtype=np.float64)
    if kernel <= 0:
        return out
    half = (kernel - 1) // 2
    m = min(n, len(out))
    with np.errstate(invalid="ignore"):
        cols = np.trunc(out[:m, 0] / crop_size * w)
        rows = np.trunc(out[:m, 1] / crop_size * h)
        inside = np.isfinite(cols) & np.isfinite(rows) & (cols >= 0) & (cols < w) & (rows >= 0) & (rows < h)
    idx = np.nonzero(inside)[0]
    if len(idx) == 0:
        return out
    # Zero padding = MediaPipe's shrinking window at the edges (zeros add nothing to the sums or the max).
    padded = np.pad(heat_hwc[..., :m], ((half, half), (half, half), (0, 0)))
    offs = np.arange(kernel)
    r = rows[idx].astype(np.int64)[:, None] + offs  # padded row indices, (K, k)
    c = cols[idx].astype(np.int64)[:, None] + offs
    win = padded[r[:, :, None], c[:, None, :], idx[:, None, None]]  # (K, k, k)
    total = win.sum(axis=(1, 2))
    ok = (total > 0) & (win.max(axis=(1, 2)) >= min_conf)
    rr, cc = (r - half).astype(np.float64), (c - half).astype(np.float64)
    wr = (win.sum(axis=2) * rr).sum(axis=1)
    wc = (win.sum(axis=1) * cc).sum(axis=1)
    sel = idx[ok]
    out[sel, 0] = wc[ok] / total[ok] / w * crop_size
    out[sel, 1] = wr[ok] / total[ok] / h * crop_size
    return out


class BlazePoseLandmarker:
    """ONNX BlazePose landmark model: image + person regions -> :class:`CropResult` per region.

    Parameters
    ----------
    config : ModelConfig
        A ``blazepose``-family model (``models.json``).
    backend : InferenceBackend
    params : BlazePoseParams, optional
    """

    OUTPUTS = ("landmarks", "pose_flag", "heatmaps", "world_landmarks")

    def __init__(self, config: ModelConfig, backend, params: BlazePoseParams | None = None) -> None:
        self.config = config
        self.backend = backend
        self.params = params or BlazePoseParams()
        self.crop_size = int(config.input_size[0])
        names = config.output_names
        missing = [names[k] for k in self.OUTPUTS if names[k] not in backend.output_names]
        if missing:
            raise ValueError(f"model {config.name!r} lacks outputs {missing}; it has {backend.output_names}")
        if config.input_name not in backend.input_names:
            raise ValueError(f"model {config.name!r} has no input {config.input_name!r}; it has "
                             f"{backend.input_names}")

    def crop(self, image_rgb: np.ndarray, rect: RotatedRect) -> np.ndarray:
        """(1, S, S, 3) float32 network input for one region (outside the image = black, as in MediaPipe)."""
        m = crop_matrix(rect, self.crop_size)
        patch = cv2.warpAffine(image_rgb, m, (self.crop_size, self.crop_size), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
        if self.config.color == "BGR":
            patch = patch[..., ::-1]
        mean = np.asarray(self.config.mean, dtype=np.float32)
        return ((patch.astype(np.float32) - mean) * np.float32(self.config.scale))[None]

    def run(self, image_rgb: np.ndarray, rects: Sequence[RotatedRect]) -> list[CropResult]:
        """Landmarks for each region (in order)."""
        return [self._one(image_rgb, rect) for rect in rects]

    def _one(self, image_rgb: np.ndarray, rect: RotatedRect) -> CropResult:
        names = self.config.output_names
        out = self.backend.run({self.config.input_name: self.crop(image_rgb, rect)})
        raw = np.asarray(out[names["landmarks"]], dtype=np.float64).reshape(-1, 5)
        heat = _sigmoid(np.asarray(out[names["heatmaps"]], dtype=np.float32).reshape(
            out[names["heatmaps"]].shape[-3:]))
        if heat.shape[-1] != raw.shape[0]:
            raise ValueError(f"model {self.config.name!r}: {raw.shape[0]} landmarks but heatmaps {heat.shape}")
        size = self.crop_size
        xy = refine_from_heatmaps(raw[:, :2], heat, size, int(self.params.refine_kernel),
                                  float(self.params.refine_min_confidence))
        landmarks = crop_to_image(xy - 0.5, rect, size)
        world = np.asarray(out[names["world_landmarks"]], dtype=np.float64).reshape(-1, 3)
        c, s = np.cos(rect.rotation), np.sin(rect.rotation)
        world = np.stack([c * world[:, 0] - s * world[:, 1], s * world[:, 0] + c * world[:, 1], world[:, 2]], -1)
        flag = float(np.asarray(out[names["pose_flag"]]).reshape(-1)[0])
        if self.config.flag_is_logit:
            flag = float(_sigmoid(np.float64(flag)))
        stride = size / heat.shape[1]
        return CropResult(
            landmarks=landmarks, depth=raw[:, 2] * rect.size / size, visibility=_sigmoid(raw[:, 3]),
            presence=_sigmoid(raw[:, 4]), flag=flag, world=world,
            heatmaps=np.ascontiguousarray(heat.transpose(2, 0, 1)),
            transform=BeliefMapTransform(rect, size, stride), rect=rect,
        )
