"""OpenPose-style bottom-up multi-person 2D pose: preprocessing, heatmap peaks, part-affinity-field grouping.

The decoding follows tf-pose's ``pafprocess`` (Apache-2.0; itself after CMU OpenPose): non-maximum suppression
on smoothed keypoint heatmaps, a line integral of the part affinity field between every candidate pair of a limb
(``STEP_PAF`` samples), greedy one-to-one limb matching by score, then greedy assembly of limbs into people. The
peak search and the line integrals are vectorised in numpy; only the (small) assembly loops run in Python, so the
cost grows with the number of *peaks*, not with a per-person network pass.

Coordinates: network output cell ``(i, j)`` at stride ``s`` covers input pixel centre ``(j*s + (s-1)/2, ...)``;
the letterbox maps input pixels back to image pixels (:class:`Letterbox`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import cv2
import numpy as np

from ..core.skeleton import convert
from ..settings import known_keys_only
from .registry import ModelConfig, check_outputs

__all__ = [
    "COCO_PAIRS",
    "COCO_PAIRS_PAF",
    "DecoderParams",
    "Letterbox",
    "Poses2D",
    "preprocess",
    "find_peaks",
    "group_people",
    "decode_openpose",
    "OpenPoseEstimator",
]

#: Limbs (OpenPose-18 joint pairs) in the network's PAF order (tf-pose ``CocoPairs``).
COCO_PAIRS = np.array(
    [(1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7), (1, 8), (8, 9), (9, 10), (1, 11),
     (11, 12), (12, 13), (1, 0), (0, 14), (14, 16), (0, 15), (15, 17), (2, 16), (5, 17)], dtype=np.int64,
)
#: PAF channels (x, y) of each limb in :data:`COCO_PAIRS` (tf-pose ``COCOPAIRS_NET``).
COCO_PAIRS_PAF = np.array(
    [(12, 13), (20, 21), (14, 15), (16, 17), (22, 23), (24, 25), (0, 1), (2, 3), (4, 5),
     (6, 7), (8, 9), (10, 11), (28, 29), (30, 31), (34, 35), (32, 33), (36, 37), (18, 19), (26, 27)], dtype=np.int64,
)
NUM_PARTS = 18
#: The last two limbs (shoulder-ear) only add to people; they never start one (as in pafprocess).
NUM_STARTING_PAIRS = 17


@dataclasses.dataclass(frozen=True)
class DecoderParams:
    """Thresholds of the grouping (defaults = tf-pose ``pafprocess.h`` unless noted).

    Attributes
    ----------
    upsample : int
        Output maps are resized by this factor before the peak search (finer peaks; tf-pose uses 4).
    smooth_sigma : float
        Gaussian smoothing of the upsampled heatmaps before NMS, in upsampled cells (0 = off).
    thresh_heat : float
        Minimum heatmap value of a peak.
    thresh_vector_score : float
        A PAF sample counts as aligned when its dot product with the limb direction exceeds this.
    thresh_vector_count : int
        More than this many of ``step_paf`` samples must be aligned.
    step_paf : int
        Samples along each candidate limb.
    thresh_part_count : int
        Minimum number of joints of a person.
    thresh_human_score : float
        Minimum mean score per joint of a person.
    max_peaks : int
        Peaks kept per part (highest first), bounds the pairwise cost in crowded images (not in tf-pose).
    """

    upsample: int = 4
    smooth_sigma: float = 1.0
    thresh_heat: float = 0.05
    thresh_vector_score: float = 0.05
    thresh_vector_count: int = 6
    step_paf: int = 10
    thresh_part_count: int = 4
    thresh_human_score: float = 0.3
    max_peaks: int = 24

    def __post_init__(self) -> None:
        if int(self.upsample) < 1:
            raise ValueError(f"upsample must be >= 1, got {self.upsample}")
        if self.step_paf < 2 or not 0 <= self.thresh_vector_count < self.step_paf:
            raise ValueError(f"need step_paf >= 2 and 0 <= thresh_vector_count < step_paf, got {self.step_paf}, "
                             f"{self.thresh_vector_count}")
        if self.max_peaks < 1:
            raise ValueError(f"max_peaks must be >= 1, got {self.max_peaks}")

    @classmethod
    def from_dict(cls, data: Mapping | None) -> DecoderParams:
        """Build from a dict with a subset of the field names (unknown keys raise)."""
        return cls(**known_keys_only(cls, data, "decoder parameters"))


@dataclasses.dataclass(frozen=True)
class Letterbox:
    """Image -> network input mapping: uniform ``scale``, image placed at the top-left, zero padding.

    ``offset`` (x, y) is the top-left corner of the processed crop in the full image (0 when the whole image is
    processed), so :meth:`to_image` gives full-image pixels.
    """

    scale: float
    image_hw: tuple[int, int]
    input_hw: tuple[int, int]
    offset: tuple[float, float] = (0.0, 0.0)

    def to_image(self, net_px: np.ndarray) -> np.ndarray:
        """Network-input pixels (..., 2) -> image pixels (pixel-centre convention of ``cv2.resize``)."""
        return (np.asarray(net_px, dtype=np.float64) + 0.5) / self.scale - 0.5 + np.asarray(self.offset)

    def to_net(self, image_px: np.ndarray) -> np.ndarray:
        """Image pixels (..., 2) -> network-input pixels."""
        return (np.asarray(image_px, dtype=np.float64) - np.asarray(self.offset) + 0.5) * self.scale - 0.5


@dataclasses.dataclass
class Poses2D:
    """Bottom-up 2D result for one image.

    Attributes
    ----------
    keypoints : (P, 18, 2) float64
        OpenPose-18 joints in image pixels, NaN where missing.
    conf : (P, 18) float64
        Heatmap value at each joint, 0 where missing.
    scores : (P,) float64
        Mean per-joint score of each person (pafprocess' human score).
    heatmaps : (C, h, w) float32
        Upsampled keypoint heatmaps (channels of the model, background last), for the 3D-prior stages.
    map_stride : float
        Network-input pixels per heatmap cell.
    letterbox : Letterbox
    """

    keypoints: np.ndarray
    conf: np.ndarray
    scores: np.ndarray
    heatmaps: np.ndarray
    map_stride: float
    letterbox: Letterbox

    def map_to_image(self, map_px: np.ndarray) -> np.ndarray:
        """Heatmap cells (..., 2) -> image pixels."""
        net = (np.asarray(map_px, dtype=np.float64) + 0.5) * self.map_stride - 0.5
        return self.letterbox.to_image(net)

    def image_to_map(self, image_px: np.ndarray) -> np.ndarray:
        """Image pixels (..., 2) -> heatmap cells."""
        return (self.letterbox.to_net(image_px) + 0.5) / self.map_stride - 0.5

    def pose3d16(self) -> tuple[np.ndarray, np.ndarray]:
        """Joints in the package layout: ``(P, 16, 2)`` pixels and ``(P, 16)`` confidences."""
        return convert(self.keypoints, self.conf, "openpose18", "pose3d16")


def preprocess(image_rgb: np.ndarray, config: ModelConfig) -> tuple[np.ndarray, Letterbox]:
    """Resize keeping the aspect ratio into ``config.input_size``, pad, normalise, to NCHW float32.

    Parameters
    ----------
    image_rgb : (H, W, 3) uint8
        RGB image (already validated by the caller).
    config : ModelConfig

    Returns
    -------
    tensor : (1, 3, H_in, W_in) float32
    letterbox : Letterbox
    """
    in_h, in_w = config.input_size
    h, w = image_rgb.shape[:2]
    scale = min(in_h / h, in_w / w)
    new_h, new_w = max(1, min(in_h, round(h * scale))), max(1, min(in_w, round(w * scale)))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(image_rgb, (new_w, new_h), interpolation=interp)
    if config.color == "BGR":
        resized = resized[..., ::-1]
    tensor = np.zeros((1, 3, in_h, in_w), dtype=np.float32)
    mean = np.asarray(config.mean, dtype=np.float32).reshape(3, 1, 1)
    tensor[0, :, :new_h, :new_w] = (resized.transpose(2, 0, 1).astype(np.float32) - mean) * np.float32(config.scale)
    if np.any(mean):  # padding = the normalised value of a black pixel, as in the resized part
        tensor[0, :, new_h:, :] = -mean * np.float32(config.scale)
        tensor[0, :, :new_h, new_w:] = -mean * np.float32(config.scale)
    # The scale actually applied per axis may differ by rounding; use the mean for the inverse map.
    eff = 0.5 * (new_h / h + new_w / w)
    return tensor, Letterbox(scale=eff, image_hw=(h, w), input_hw=(in_h, in_w))


def _upsample(maps: np.ndarray, factor: int) -> np.ndarray:
    """(C, h, w) -> (h*f, w*f, C) float32 with bicubic interpolation (HWC for fast gathers)."""
    hwc = np.ascontiguousarray(maps.transpose(1, 2, 0), dtype=np.float32)
    if factor == 1:
        return hwc
    h, w = hwc.shape[:2]
    out = cv2.resize(hwc, (w * factor, h * factor), interpolation=cv2.INTER_CUBIC)
    return out[..., None] if out.ndim == 2 else out


def find_peaks(heat_hwc: np.ndarray, params: DecoderParams) -> list[np.ndarray]:
    """Local maxima of each part's heatmap.

    Parameters
    ----------
    heat_hwc : (H, W, C) float32
        Upsampled heatmaps; the first :data:`NUM_PARTS` channels are searched.
    params : DecoderParams

    Returns
    -------
    list of (n_c, 3) float64 arrays
        Per part: ``(x, y, score)`` with sub-cell x, y (parabola through the neighbours) and the raw map value.
    """
    parts = heat_hwc[..., :NUM_PARTS]
    smooth = parts
    if params.smooth_sigma > 0:
        smooth = cv2.GaussianBlur(parts, (0, 0), params.smooth_sigma)
        if smooth.ndim == 2:
            smooth = smooth[..., None]
    h, w = smooth.shape[:2]
    # 3x3 non-maximum suppression; dilate pads with -inf-like border values, so edges count as maxima.
    is_max = (smooth >= cv2.dilate(smooth, np.ones((3, 3), np.uint8))) & (smooth > params.thresh_heat)
    ys, xs, cs = np.nonzero(is_max)
    # Sub-cell refinement on the smoothed map (clamped at borders).
    xl, xr = np.maximum(xs - 1, 0), np.minimum(xs + 1, w - 1)
    yu, yd = np.maximum(ys - 1, 0), np.minimum(ys + 1, h - 1)
    c0 = smooth[ys, xs, cs]
    dxn = smooth[ys, xl, cs] - 2 * c0 + smooth[ys, xr, cs]
    dyn = smooth[yu, xs, cs] - 2 * c0 + smooth[yd, xs, cs]
    with np.errstate(divide="ignore", invalid="ignore"):
        ox = np.where(dxn < 0, 0.5 * (smooth[ys, xl, cs] - smooth[ys, xr, cs]) / dxn, 0.0)
        oy = np.where(dyn < 0, 0.5 * (smooth[yu, xs, cs] - smooth[yd, xs, cs]) / dyn, 0.0)
    ox, oy = np.clip(ox, -0.5, 0.5), np.clip(oy, -0.5, 0.5)
    score = parts[ys, xs, cs].astype(np.float64)
    rows = np.stack([xs + ox, ys + oy, score], axis=1)
    order = np.lexsort((-score, cs))  # by part, best first
    rows, cs = rows[order], cs[order]
    bounds = np.searchsorted(cs, np.arange(NUM_PARTS + 1))
    out = [rows[bounds[c]:min(bounds[c + 1], bounds[c] + params.max_peaks)] for c in range(NUM_PARTS)]
    return out


def _limb_candidates(peaks: list[np.ndarray], paf_hwc: np.ndarray, params: DecoderParams) -> np.ndarray:
    """Score every candidate peak pair of every limb by the PAF line integral, all limbs in one vectorised pass.

    Returns rows ``(pair_id, ia, ib, score)`` of the pairs that pass pafprocess' criteria, sorted by limb then
    by score (best first).
    """
    counts = np.array([len(p) for p in peaks])
    pair_ids, ia, ib = [], [], []
    for pair_id, (pa, pb) in enumerate(COCO_PAIRS):
        na, nb = counts[pa], counts[pb]
        if na and nb:
            pair_ids.append(np.full(na * nb, pair_id))
            ia.append(np.repeat(np.arange(na), nb))
            ib.append(np.tile(np.arange(nb), na))
    if not pair_ids:
        return np.zeros((0, 4))
    pair_id, ia, ib = np.concatenate(pair_ids), np.concatenate(ia), np.concatenate(ib)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    all_peaks = np.concatenate(peaks, axis=0)
    pa = all_peaks[offsets[COCO_PAIRS[pair_id, 0]] + ia, :2]
    pb = all_peaks[offsets[COCO_PAIRS[pair_id, 1]] + ib, :2]
    vec = pb - pa  # (M, 2)
    norm = np.linalg.norm(vec, axis=1)
    ok = norm > 1e-6
    unit = vec / np.where(ok, norm, 1.0)[:, None]
    t = np.arange(params.step_paf, dtype=np.float64) / params.step_paf
    samples = pa[:, None, :] + t[None, :, None] * vec[:, None, :]  # (M, S, 2)
    h, w = paf_hwc.shape[:2]
    sx = np.clip(np.floor(samples[..., 0] + 0.5).astype(np.int64), 0, w - 1)
    sy = np.clip(np.floor(samples[..., 1] + 0.5).astype(np.int64), 0, h - 1)
    chx = COCO_PAIRS_PAF[pair_id, 0][:, None]
    chy = COCO_PAIRS_PAF[pair_id, 1][:, None]
    dots = paf_hwc[sy, sx, chx] * unit[:, None, 0] + paf_hwc[sy, sx, chy] * unit[:, None, 1]
    aligned = (dots > params.thresh_vector_score).sum(axis=1)
    with np.errstate(divide="ignore"):
        length_penalty = np.minimum(0.0, 0.5 * h / np.where(ok, norm, np.inf) - 1.0)
    score = dots.mean(axis=1) + length_penalty
    keep = ok & (aligned > params.thresh_vector_count) & (score > 0)
    rows = np.stack([pair_id, ia, ib, score], axis=1)[keep]
    return rows[np.lexsort((-rows[:, 3], rows[:, 0]))]


def group_people(
    peaks: list[np.ndarray], paf_hwc: np.ndarray, params: DecoderParams
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Assemble peaks into people with the part affinity fields (tf-pose ``pafprocess`` logic).

    Parameters
    ----------
    peaks : list of (n_c, 3) arrays
        From :func:`find_peaks`.
    paf_hwc : (H, W, 38) float32
        Upsampled PAFs on the same grid as the peaks.
    params : DecoderParams

    Returns
    -------
    keypoints : (P, 18, 2) float64
        Map-grid joint positions, NaN where missing.
    conf : (P, 18) float64
        Peak heatmap values, 0 where missing.
    scores : (P,) float64
        Mean score per joint.
    """
    offsets = np.cumsum([0] + [len(p) for p in peaks])
    all_peaks = np.concatenate(peaks, axis=0) if offsets[-1] else np.zeros((0, 3))
    people: list[np.ndarray] = []  # rows: 18 global peak ids (-1 = none), score sum, joint count
    used: set[tuple[int, int, int]] = set()  # (pair, end, index): one-to-one matching per limb
    for pair_f, ia_f, ib_f, score in _limb_candidates(peaks, paf_hwc, params):
        pair_id, ia, ib = int(pair_f), int(ia_f), int(ib_f)
        if (pair_id, 0, ia) in used or (pair_id, 1, ib) in used:
            continue
        used.add((pair_id, 0, ia))
        used.add((pair_id, 1, ib))
        pa, pb = int(COCO_PAIRS[pair_id, 0]), int(COCO_PAIRS[pair_id, 1])
        gid_a, gid_b = int(offsets[pa] + ia), int(offsets[pb] + ib)
        found = [k for k, row in enumerate(people) if row[pa] == gid_a or row[pb] == gid_b]
        if len(found) == 1:
            row = people[found[0]]
            if row[pb] != gid_b:
                row[pb] = gid_b
                row[19] += 1
                row[18] += all_peaks[gid_b, 2] + score
        elif len(found) >= 2:
            r1, r2 = people[found[0]], people[found[1]]
            overlap = np.any((r1[:NUM_PARTS] >= 0) & (r2[:NUM_PARTS] >= 0))
            if not overlap:  # two partial people joined by this limb: merge
                r1[:NUM_PARTS] = np.maximum(r1[:NUM_PARTS], r2[:NUM_PARTS])
                r1[18] += r2[18] + score
                r1[19] += r2[19]
                del people[found[1]]
            elif r1[pb] != gid_b:
                r1[pb] = gid_b
                r1[19] += 1
                r1[18] += all_peaks[gid_b, 2] + score
        elif pair_id < NUM_STARTING_PAIRS:
            row = np.full(20, -1.0)
            row[pa], row[pb] = gid_a, gid_b
            row[18] = all_peaks[gid_a, 2] + all_peaks[gid_b, 2] + score
            row[19] = 2
            people.append(row)
    kept = [r for r in people if r[19] >= params.thresh_part_count and r[18] / r[19] >= params.thresh_human_score]
    n = len(kept)
    keypoints = np.full((n, NUM_PARTS, 2), np.nan)
    conf = np.zeros((n, NUM_PARTS))
    scores = np.zeros(n)
    for p, row in enumerate(kept):
        ids = row[:NUM_PARTS].astype(np.int64)
        has = ids >= 0
        keypoints[p, has] = all_peaks[ids[has], :2]
        conf[p, has] = np.clip(all_peaks[ids[has], 2], 0.0, 1.0)
        scores[p] = row[18] / row[19]
    order = np.argsort(-scores, kind="stable")
    return keypoints[order], conf[order], scores[order]


def decode_openpose(
    heatmaps: np.ndarray, pafs: np.ndarray, params: DecoderParams | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Heatmaps + PAFs of one image -> people on the upsampled map grid.

    Parameters
    ----------
    heatmaps : (19, h, w) array_like
        18 keypoint maps + background.
    pafs : (38, h, w) array_like
    params : DecoderParams, optional

    Returns
    -------
    keypoints : (P, 18, 2)
        Joint positions in upsampled map cells (``upsample`` cells per output cell), NaN where missing.
    conf : (P, 18)
    scores : (P,)
    heat_up : (C, h*f, w*f) float32
        The upsampled heatmaps.
    """
    params = params or DecoderParams()
    heatmaps = np.asarray(heatmaps, dtype=np.float32)
    pafs = np.asarray(pafs, dtype=np.float32)
    if heatmaps.ndim != 3 or heatmaps.shape[0] < NUM_PARTS:
        raise ValueError(f"heatmaps must be (>= {NUM_PARTS}, h, w), got shape {heatmaps.shape}")
    if pafs.ndim != 3 or pafs.shape[0] != 2 * len(COCO_PAIRS) or pafs.shape[1:] != heatmaps.shape[1:]:
        raise ValueError(f"pafs must be ({2 * len(COCO_PAIRS)}, {heatmaps.shape[1]}, {heatmaps.shape[2]}), "
                         f"got shape {pafs.shape}")
    heat_up = _upsample(heatmaps, params.upsample)
    paf_up = _upsample(pafs, params.upsample)
    peaks = find_peaks(heat_up, params)
    keypoints, conf, scores = group_people(peaks, paf_up, params)
    return keypoints, conf, scores, heat_up.transpose(2, 0, 1)


class OpenPoseEstimator:
    """ONNX OpenPose-family model + decoder: RGB image -> people (OpenPose-18 pixels + confidences).

    Parameters
    ----------
    config : ModelConfig
        Model description (:func:`pose3d_ros.models.registry.resolve_model`).
    backend : InferenceBackend
        Loaded model (:func:`pose3d_ros.inference.factory.create_backend`).
    params : DecoderParams, optional
    """

    def __init__(self, config: ModelConfig, backend, params: DecoderParams | None = None) -> None:
        self.config = config
        self.backend = backend
        self.params = params or DecoderParams()
        self._checked: set[tuple[int, int]] = set()
        missing = [n for n in (config.heatmaps_output, config.pafs_output) if n not in backend.output_names]
        if missing:
            raise ValueError(f"model {config.name!r} lacks outputs {missing}; it has {backend.output_names}")
        if config.input_name not in backend.input_names:
            raise ValueError(f"model {config.name!r} has no input {config.input_name!r}; it has "
                             f"{backend.input_names}")

    def infer_maps(
        self, image_rgb: np.ndarray, roi: tuple[int, int, int, int] | None = None, input_size=None
    ) -> tuple[np.ndarray, np.ndarray, Letterbox]:
        """Run the network: ``(heatmaps (C_h, h, w), pafs (C_p, h, w), letterbox)``.

        ``roi`` = ``(x0, y0, x1, y1)`` processes only that crop (coordinates stay full-image through the
        letterbox offset); ``input_size`` = ``(H, W)`` overrides the network input size for this call.
        """
        config = self.config if input_size is None else self.config.with_input_size(*input_size)
        offset = (0.0, 0.0)
        if roi is not None:
            x0, y0, x1, y1 = (int(v) for v in roi)
            image_rgb = image_rgb[y0:y1, x0:x1]
            offset = (float(x0), float(y0))
        tensor, box = preprocess(image_rgb, config)
        box = dataclasses.replace(box, offset=offset)
        out = self.backend.run({self.config.input_name: tensor})
        if box.input_hw not in self._checked:
            check_outputs(self.config, out, box.input_hw)
            self._checked.add(box.input_hw)
        return out[self.config.heatmaps_output][0], out[self.config.pafs_output][0], box

    def decode(self, heatmaps: np.ndarray, pafs: np.ndarray, box: Letterbox) -> Poses2D:
        """Group the maps into people in image pixels."""
        kp, conf, scores, heat_up = decode_openpose(heatmaps, pafs, self.params)
        stride = self.config.stride / self.params.upsample
        result = Poses2D(kp, conf, scores, heat_up, stride, box)
        result.keypoints = result.map_to_image(kp)
        return result

    def __call__(self, image_rgb: np.ndarray) -> Poses2D:
        heat, paf, box = self.infer_maps(image_rgb)
        return self.decode(heat, paf, box)
