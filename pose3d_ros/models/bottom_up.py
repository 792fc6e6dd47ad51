"""Bottom-up front end: OpenPose on the frame (or on the region around the people already seen) -> People2D.

The network input follows the frame's aspect ratio and a pixel budget (:func:`input_size_for_frame`), unless the
user fixed ``input_size``. With ROI tracking, frames between two full passes run the network only on the region
around last frame's people, at the same image scale as a full pass (a smaller input: faster, same accuracy).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .frontend import DEFAULT_INPUT_PIXELS, People2D, PersonMaps, input_size_for_frame
from .openpose import OpenPoseEstimator

__all__ = ["BottomUpParams", "BottomUpFrontEnd"]


@dataclasses.dataclass(frozen=True)
class BottomUpParams:
    """Attributes
    ----------
    input_size : (int, int) or None
        Fixed network input (H, W); None = from ``input_pixels`` and the frame's aspect ratio.
    input_pixels : int
        Pixel budget of a full-frame pass.
    roi_tracking : bool
        Between full passes, process only the region around the people of the previous frame.
    full_frame_interval : int
    roi_margin : float
        Region = the people's joint box grown by this fraction of its larger side on each side.
    max_people : int
    """

    input_size: tuple[int, int] | None = None
    input_pixels: int = DEFAULT_INPUT_PIXELS
    roi_tracking: bool = False
    full_frame_interval: int = 6
    roi_margin: float = 0.25
    max_people: int = 10


class BottomUpFrontEnd:
    """OpenPose estimator + input geometry + ROI policy.

    Parameters
    ----------
    estimator : OpenPoseEstimator
    params : BottomUpParams
    """

    def __init__(self, estimator: OpenPoseEstimator, params: BottomUpParams) -> None:
        self.estimator = estimator
        self.params = params
        self.layout = estimator.config.layout  # the decoder's layout, checked by ModelConfig
        self.reset()

    def reset(self) -> None:
        """Forget the tracked region."""
        self._roi: tuple[int, int, int, int] | None = None
        self._since_full = 0

    def full_input_size(self, h: int, w: int) -> tuple[int, int]:
        """Network input of a full-frame pass for an ``h`` x ``w`` frame."""
        if self.params.input_size is not None:
            return tuple(self.params.input_size)
        stride = self.estimator.config.stride
        return input_size_for_frame(h, w, self.params.input_pixels, multiple=max(stride, 32))

    def _next_roi(self, h: int, w: int):
        in_h, in_w = self.full_input_size(h, w)
        if not self.params.roi_tracking or self._roi is None \
                or self._since_full + 1 >= int(self.params.full_frame_interval):
            self._since_full = 0
            return None, (in_h, in_w)
        x0, y0, x1, y1 = self._roi
        scale = min(in_h / h, in_w / w)  # the full frame's image scale, so people look the same to the CNN
        grid = 32  # few distinct input shapes (ONNX Runtime plans per shape)
        size_h = min(in_h, max(grid, int(np.ceil((y1 - y0) * scale / grid)) * grid))
        size_w = min(in_w, max(grid, int(np.ceil((x1 - x0) * scale / grid)) * grid))
        if size_h * size_w >= 0.75 * in_h * in_w:
            self._since_full = 0
            return None, (in_h, in_w)
        self._since_full += 1
        return self._roi, (size_h, size_w)

    def update_roi(self, pixels: np.ndarray, conf: np.ndarray, h: int, w: int) -> None:
        """Region around the people kept by the pipeline (joints with confidence > 0), for the next frame."""
        seen = pixels[(conf > 0) & np.isfinite(pixels).all(axis=-1)]
        if len(seen) < 2:
            self._roi = None
            return
        lo, hi = seen.min(axis=0), seen.max(axis=0)
        margin = self.params.roi_margin * float(max(hi - lo)) + 8.0
        x0, y0 = int(max(0, lo[0] - margin)), int(max(0, lo[1] - margin))
        x1, y1 = int(min(w, hi[0] + margin + 1)), int(min(h, hi[1] + margin + 1))
        self._roi = (x0, y0, x1, y1) if x1 - x0 >= 16 and y1 - y0 >= 16 else None

    def __call__(self, image_rgb: np.ndarray, full_frame: bool = False) -> People2D:
        """People of one frame (``full_frame`` forces a full-frame pass)."""
        h, w = image_rgb.shape[:2]
        roi, size = self._next_roi(h, w)
        if full_frame:
            roi, size = None, self.full_input_size(h, w)
            self._since_full = 0
        heat, paf, box = self.estimator.infer_maps(image_rgb, roi, size)
        poses = self.estimator.decode(heat, paf, box)
        keep = slice(0, int(self.params.max_people))
        kp, cf, scores = poses.keypoints[keep], poses.conf[keep], poses.scores[keep]
        shared = PersonMaps(poses.heatmaps, poses.image_to_map, poses.map_to_image)
        return People2D(self.layout, kp, cf, np.clip(scores, 0.0, 1.0), [shared] * len(kp),
                        full_frame=roi is None)
