"""Top-down front end: person regions from a detector and from last frame's landmarks -> BlazePose -> People2D.

MediaPipe's tracking rule, made multi-person: each person seen in the previous frame gets this frame's crop from
its own alignment landmarks (no detector needed while the person stays found); the bottom-up detector (OpenPose
grouping, :class:`pose3d_ros.models.bottom_up.BottomUpFrontEnd`) looks at the whole frame every
``detect_interval`` frames and whenever nobody is tracked, and only its people that no tracked crop already covers
become new crops. A crop whose presence flag drops below ``min_presence`` is dropped; two crops that converge on
the same person are merged (the more confident stays).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..core.roi import RotatedRect, rect_from_keypoints
from ..core.skeleton import get_layout
from .blazepose import NUM_BODY, BlazePoseLandmarker, CropResult
from .bottom_up import BottomUpFrontEnd
from .frontend import People2D, PersonMaps

__all__ = ["TopDownParams", "TopDownFrontEnd"]


@dataclasses.dataclass(frozen=True)
class TopDownParams:
    """Attributes
    ----------
    detect_interval : int
        Frames between two detector passes while people are tracked (1 = every frame).
    min_presence : float
        Drop a crop whose person-presence probability is below this (MediaPipe's tracking confidence).
    new_person_distance : float
        A detected person whose crop centre (mid-hip) is nearer than this fraction of the crop size to a tracked
        crop's centre is the tracked person, not a new one (people walking side by side have overlapping crops
        but distinct centres).
    duplicate_distance : float
        Two crops whose body landmarks are, in median, nearer than this fraction of the person's size found the
        same person (the more confident stays).
    min_visibility : float
        Body landmarks with a visibility below this are reported with confidence 0 (missing).
    background_detection : bool
        While people are tracked, run the periodic detector pass in a background thread on that frame and add its
        new people when it finishes (one or two frames later), so a detector frame does not stall the stream (a
        live camera); with nobody tracked the detector always runs in line. Off = every frame's result depends
        on that frame only (offline, reproducible).
    coast_frames : int
        A tracked person whose presence drops (occlusion, motion blur) is looked for again in the same crop for
        this many frames before the crop is dropped; it is not reported meanwhile.
    max_people : int
    """

    detect_interval: int = 8
    min_presence: float = 0.5
    new_person_distance: float = 0.2
    duplicate_distance: float = 0.1
    min_visibility: float = 0.0
    coast_frames: int = 3
    background_detection: bool = False
    max_people: int = 10

    def __post_init__(self) -> None:
        if int(self.detect_interval) < 1:
            raise ValueError(f"detect_interval must be >= 1, got {self.detect_interval}")
        for name in ("min_presence", "new_person_distance", "duplicate_distance", "min_visibility"):
            if not 0.0 <= float(getattr(self, name)) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        if int(self.max_people) < 1:
            raise ValueError(f"max_people must be >= 1, got {self.max_people}")
        if int(self.coast_frames) < 0:
            raise ValueError(f"coast_frames must be >= 0, got {self.coast_frames}")


#: ``missed`` mark of a crop that comes from this frame's detector, not from a tracked person.
NEW = -1


def _same_place(a: RotatedRect, b: RotatedRect, frac: float) -> bool:
    return float(np.hypot(a.cx - b.cx, a.cy - b.cy)) < frac * max(a.size, b.size)


def _landmark_box(result: CropResult) -> RotatedRect | None:
    pts = result.landmarks[:NUM_BODY]
    pts = pts[np.isfinite(pts).all(axis=1)]
    if len(pts) < 2:
        return None
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    size = float(max(hi - lo))
    if size <= 0:
        return None
    c = 0.5 * (lo + hi)
    return RotatedRect(float(c[0]), float(c[1]), size)


class TopDownFrontEnd:
    """Detector + tracker-driven crops + BlazePose landmarker.

    Parameters
    ----------
    detector : BottomUpFrontEnd
        Finds people on the full frame (its ROI tracking is not used).
    landmarker : BlazePoseLandmarker
    params : TopDownParams
    """

    def __init__(self, detector: BottomUpFrontEnd, landmarker: BlazePoseLandmarker, params: TopDownParams) -> None:
        self.detector = detector
        self.landmarker = landmarker
        self.params = params
        self.layout = landmarker.config.layout
        det_layout = get_layout(detector.layout)
        self._det_joints = tuple(det_layout.index(n) for n in
                                 ("left_hip", "right_hip", "left_shoulder", "right_shoulder"))
        self._executor = None  # the background detector thread, made on first use
        self.reset()

    def reset(self) -> None:
        """Forget the tracked crops."""
        self._tracked: list[RotatedRect] = []
        self._coasting: list[tuple[RotatedRect, int]] = []  # (last good crop, frames missed)
        self._since_detect = 0
        self._pending = None  # the background detector pass (a Future); a reset forgets a running one
        self.detector.reset()

    def close(self) -> None:
        """Stop the background detector thread (waits for a running pass)."""
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    def _submit_detection(self, image_rgb: np.ndarray) -> None:
        from concurrent.futures import ThreadPoolExecutor

        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pose3d-detector")
        self._pending = self._executor.submit(self._detect, image_rgb.copy())

    def _new_people(self, image_rgb: np.ndarray, tracked: list[RotatedRect]) -> list[RotatedRect] | None:
        """Detections of this frame (or of a finished background pass); None when no detection is due or ready."""
        p = self.params
        due = not tracked or self._since_detect + 1 >= int(p.detect_interval)
        if self._pending is not None:
            if not self._pending.done():
                self._since_detect += 1
                return None
            future, self._pending = self._pending, None
            return future.result()  # an exception of the pass surfaces here, as in line
        if not due:
            self._since_detect += 1
            return None
        self._since_detect = 0
        if p.background_detection and tracked:
            self._submit_detection(image_rgb)
            return None
        return self._detect(image_rgb)

    def _detect(self, image_rgb: np.ndarray) -> list[RotatedRect]:
        found = self.detector(image_rgb, full_frame=True)
        rects = []
        for kp, cf in zip(found.keypoints, found.conf, strict=True):
            rect = rect_from_keypoints(kp, cf, *self._det_joints)
            if rect is not None:
                rects.append(rect)
        return rects

    def __call__(self, image_rgb: np.ndarray) -> People2D:
        """People of one frame."""
        p = self.params
        rects = list(self._tracked)
        missed = [0] * len(rects)
        coasting = list(self._coasting)
        found = self._new_people(image_rgb, rects)
        detected = found is not None
        for rect in found or ():
            if not any(_same_place(rect, t, p.new_person_distance) for t in rects):
                rects.append(rect)
                missed.append(NEW)
                # A fresh detection replaces the crop of a person being looked for again.
                coasting = [(c, n) for c, n in coasting if not _same_place(rect, c, p.new_person_distance)]
        rects += [c for c, _ in coasting]
        missed += [n for _, n in coasting]
        rects, missed = rects[: 2 * int(p.max_people)], missed[: 2 * int(p.max_people)]
        ran = self.landmarker.run(image_rgb, rects)
        results = [r for r in ran if r.flag >= p.min_presence]
        # Only people seen before are looked for again: a detection the landmarker rejects (not a person) is gone.
        lost = [(rect, n + 1) for rect, r, n in zip(rects, ran, missed, strict=True)
                if r.flag < p.min_presence and n != NEW]
        if any(n == 1 for _, n in lost):
            self._since_detect = int(p.detect_interval)  # somebody was just lost: look for people next frame
        self._coasting = [(rect, n) for rect, n in lost if n <= int(p.coast_frames)]
        results = self._merge_duplicates(results)[: int(p.max_people)]
        # Largest person first (the flag is ~1 for everybody seen well): a stable order for untracked use.
        results.sort(key=lambda r: -(_landmark_box(r).size))
        self._tracked = [r for r in (res.next_rect() for res in results) if r is not None]
        return self._people(results, detected)

    def _merge_duplicates(self, results: list[CropResult]) -> list[CropResult]:
        kept: list[CropResult] = []
        for res in sorted(results, key=lambda r: -r.flag):
            box = _landmark_box(res)
            if box is None:
                continue
            body = res.landmarks[:NUM_BODY]
            if all(np.median(np.linalg.norm(body - k.landmarks[:NUM_BODY], axis=1)) >= self.params.duplicate_distance
                   * box.size for k in kept):
                kept.append(res)
        return kept

    def _people(self, results: list[CropResult], full_frame: bool) -> People2D:
        n = len(results)
        kp = np.full((n, NUM_BODY, 2), np.nan)
        conf = np.zeros((n, NUM_BODY))
        world = np.full((n, NUM_BODY, 3), np.nan)
        maps = []
        for i, res in enumerate(results):
            vis = res.visibility[:NUM_BODY]
            ok = np.isfinite(res.landmarks[:NUM_BODY]).all(axis=1) & (vis >= self.params.min_visibility)
            kp[i, ok] = res.landmarks[:NUM_BODY][ok]
            conf[i, ok] = np.clip(vis[ok], 1e-3, 1.0)
            world[i] = res.world[:NUM_BODY]
            maps.append(PersonMaps(res.heatmaps, res.transform.image_to_map, res.transform.map_to_image))
        scores = np.array([r.flag for r in results], dtype=np.float64)
        return People2D(self.layout, kp, conf, scores, maps, world, full_frame)
