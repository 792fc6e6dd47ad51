"""The ROS-free per-frame pipeline the nodes and the CLI call.

RGB (+ depth) -> 2D front end (ONNX, :mod:`pose3d_ros.inference`): the top-down BlazePose landmarker on
tracker/detector-driven person crops (:mod:`pose3d_ros.models.top_down`) or bottom-up OpenPose grouping
(:mod:`pose3d_ros.models.bottom_up`) -> 3D-prior stages and final lift (:mod:`pose3d_ros.models.cpm_stages`) ->
tracking (:class:`pose3d_ros.core.tracking.Tracker`) -> actions
(``pose3d_ros.actions.recognizer``, when available), with per-stage timings in milliseconds.

Every input is checked first: a malformed frame raises :class:`ValueError` naming the problem, never a crash deep in
numpy or OpenCV.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .core.camera import PinholeCamera
from .core.lifting import PoseLifter
from .core.prior import PosePrior, default_prior_path
from .core.temporal import PreviousPoses
from .core.time_jumps import TimeJump, TimeJumpDetector, TimeStep
from .core.tracking import Tracker
from .models.blazepose import BlazePoseLandmarker, BlazePoseParams
from .models.bottom_up import BottomUpFrontEnd, BottomUpParams
from .models.cpm_stages import PriorStages, StageParams
from .models.model_check import check_model_outputs
from .models.movenet import MoveNetDetector
from .models.openpose import DecoderParams, OpenPoseEstimator
from .models.registry import ModelConfig, resolve_model, verify_checksum
from .models.top_down import TopDownFrontEnd, TopDownParams
from .pipeline_config import PipelineConfig
from .settings import known_keys_only

__all__ = ["Frame", "PipelineConfig", "PersonResult", "FrameResult", "Pose3DPipeline", "MAX_IMAGE_PIXELS",
           "StaleFrame"]

_LOG = logging.getLogger(__name__)

#: Largest accepted colour image (pixels): 8K UHD. Bigger frames are refused rather than resized silently.
MAX_IMAGE_PIXELS = 7680 * 4320
#: Smallest accepted side (pixels): below one network cell nothing can be detected.
MIN_IMAGE_SIDE = 8



@dataclasses.dataclass
class Frame:
    """One synchronised input frame.

    Attributes
    ----------
    color : (H, W, 3) uint8
        RGB image.
    depth_m : (H, W) float32 or None
        Depth registered to ``color``, metres, NaN = invalid.
    camera : PinholeCamera
        Intrinsics of ``color``.
    stamp : float
        Acquisition time, seconds.
    """

    color: np.ndarray
    depth_m: np.ndarray | None
    camera: PinholeCamera
    stamp: float


@dataclasses.dataclass
class PersonResult:
    """One person in one frame (becomes a ``Skeleton3D``).

    Attributes
    ----------
    id : int
        Track id (persistent across frames when tracking is on).
    joints : (16, 3) float64
        pose3d16 joints, metres, camera optical frame.
    pixels : (16, 2) float64
        Joint pixels (u, v); joints the CNN did not see are the projection of the 3D joint.
    confidence : (16,) float64
        2D confidence per joint in [0, 1] (0 = inferred by the prior).
    measured : (16,) bool
        Position measured by depth (True) or inferred from the prior (False).
    score : float
        Overall confidence in [0, 1].
    action : str
        Current action label ("" = none).
    action_confidence : float
    """

    id: int
    joints: np.ndarray
    pixels: np.ndarray
    confidence: np.ndarray
    measured: np.ndarray
    score: float = 0.0
    action: str = ""
    action_confidence: float = 0.0


@dataclasses.dataclass
class FrameResult:
    """Output of :meth:`Pose3DPipeline.process`.

    Attributes
    ----------
    people : list of PersonResult
    events : list of ActionEventData
    timings : dict of str to float
        Milliseconds per stage (``2d`` = CNN(s) + decoding, ``stages+lift``, ``tracking``, ``actions``,
        ``total``).
    stamp : float
    belief_maps : (C, h, w) float32 or None
        Upsampled CNN heatmaps when ``keep_belief_maps`` is set.
    """

    people: list[PersonResult]
    events: list
    timings: dict[str, float]
    stamp: float = 0.0
    belief_maps: np.ndarray | None = None
    time_jump: TimeJump | None = None


class StaleFrame(ValueError):
    """A frame older than the newest processed, by less than a restart (a late frame): not processed."""


def validate_frame(frame: Frame) -> tuple[np.ndarray, np.ndarray | None]:
    """Check a frame; return a C-contiguous uint8 RGB image and float32 depth (or None).

    Raises
    ------
    ValueError
        Naming the problem: not an array, wrong dtype, grayscale / wrong channel count, empty or tiny image, huge
        image, depth size mismatch, non-finite stamp, camera/image size mismatch.
    """
    color = frame.color
    if not isinstance(color, np.ndarray):
        raise ValueError(f"color must be a numpy array, got {type(color).__name__}")
    if color.ndim == 2 or (color.ndim == 3 and color.shape[2] == 1):
        raise ValueError(f"color is grayscale {color.shape}; expected (H, W, 3) RGB (convert with cv2.cvtColor)")
    if color.ndim != 3 or color.shape[2] != 3:
        raise ValueError(f"color must be (H, W, 3) RGB, got shape {color.shape}"
                         + (" (RGBA? drop the alpha channel)" if color.ndim == 3 and color.shape[2] == 4 else ""))
    h, w = color.shape[:2]
    if h == 0 or w == 0:
        raise ValueError(f"color image is empty ({w}x{h})")
    if min(h, w) < MIN_IMAGE_SIDE:
        raise ValueError(f"color image {w}x{h} is too small (each side must be >= {MIN_IMAGE_SIDE} pixels)")
    if h * w > MAX_IMAGE_PIXELS:
        raise ValueError(f"color image {w}x{h} is too large (> {MAX_IMAGE_PIXELS} pixels); downscale it first")
    if color.dtype != np.uint8:
        raise ValueError(f"color must be uint8, got {color.dtype}")
    color = np.ascontiguousarray(color)
    depth = frame.depth_m
    if depth is not None:
        if not isinstance(depth, np.ndarray) or depth.ndim != 2:
            raise ValueError(f"depth_m must be a (H, W) array, got {getattr(depth, 'shape', type(depth).__name__)}")
        if depth.shape != (h, w):
            raise ValueError(f"depth_m is {depth.shape[1]}x{depth.shape[0]} but color is {w}x{h} "
                             "(depth must be registered to the colour image)")
        if not np.issubdtype(depth.dtype, np.floating):
            raise ValueError(f"depth_m must be float metres, got {depth.dtype} (use core.camera.depth_to_metres)")
        depth = np.ascontiguousarray(depth, dtype=np.float32)
    if not np.isfinite(float(frame.stamp)):
        raise ValueError(f"stamp must be finite, got {frame.stamp}")
    cam = frame.camera
    if not isinstance(cam, PinholeCamera):
        raise ValueError(f"camera must be a PinholeCamera, got {type(cam).__name__}")
    if (cam.width, cam.height) != (w, h):
        raise ValueError(f"camera is {cam.width}x{cam.height} but the color image is {w}x{h} "
                         "(use camera.scaled() for a resized image)")
    return color, depth


def _model_config(spec: Any, input_size: tuple[int, int] | None) -> ModelConfig:
    if isinstance(spec, str) and spec.endswith(".onnx"):
        cfg = ModelConfig(name=Path(spec).stem, path=Path(spec).expanduser())
    else:
        cfg = resolve_model(spec)
    if input_size is not None:
        cfg = cfg.with_input_size(*input_size)
    return cfg


class Pose3DPipeline:
    """RGB(-D) frame -> 3D skeletons with ids, actions and timings.

    Parameters
    ----------
    config : PipelineConfig, dict or None
    backend : InferenceBackend, optional
        Use this loaded model instead of creating one (tests, sharing a GPU engine).
    prior : PosePrior, optional
        Use this prior instead of loading ``config.prior_path``.

    Raises
    ------
    pose3d_ros.models.registry.ModelChecksumError
        The model file is missing or corrupt.
    pose3d_ros.models.registry.ModelConfigError
        The model config is invalid or does not match the model (one test inference on a zero image at start-up:
        :func:`pose3d_ros.models.model_check.check_model_outputs`).
    pose3d_ros.core.prior.PriorFileError
        The prior file is unreadable or its parameters are unusable (zero weights, NaN, non-positive variances,
        bone lengths or body size, another joint count).
    """

    def __init__(self, config: PipelineConfig | Mapping | None = None, backend=None,
                 prior: PosePrior | None = None) -> None:
        if config is None or isinstance(config, Mapping):
            config = PipelineConfig.from_dict(config)
        self.config = config
        self.model_config = _model_config(config.model, None)
        if backend is None:
            backend = self._create_backend(self.model_config)
        self.backend = backend
        self.detector_backend = None
        if self.model_config.top_down:
            self.detector_config = _model_config(config.detector, None)
            if self.detector_config.top_down:
                raise ValueError(f"detector must be a bottom-up model, got {self.detector_config.name!r}")
            self.detector_backend = self._create_backend(self.detector_config)
            if self.detector_config.family == "movenet":
                detector = MoveNetDetector(self.detector_config, self.detector_backend,
                                           config.detector_settings("movenet"))
            else:
                detector = self._bottom_up(self.detector_config, self.detector_backend, roi_tracking=False,
                                           pixels=int(config.detector_pixels),
                                           decoder=dataclasses.asdict(config.detector_settings("openpose")))
            self.frontend = TopDownFrontEnd(
                detector,
                BlazePoseLandmarker(self.model_config, backend, BlazePoseParams(
                    **known_keys_only(BlazePoseParams, config.landmarker, "landmarker settings"))),
                TopDownParams(**{"max_people": int(config.max_people),
                                 **known_keys_only(TopDownParams, config.top_down, "top_down settings")}))
        else:
            self.frontend = self._bottom_up(self.model_config, backend,
                                            roi_tracking=config.tracking and config.roi_tracking)
        self.prior = prior if prior is not None else PosePrior.load(config.prior_path or default_prior_path())
        self.lifter: PoseLifter = config.make_lifter(self.prior)  # `lifter` settings; bad values name lifter.<key>
        # Top-down (BlazePose) people skip the fusion stages unless asked: measured on the real-video validation
        # set (first half), a stage moved BlazePose's 2D 0.6 px away from the reference and changed its 3D by
        # 0.2 mm, for 2.4 ms (pipeline_config.py, ``stages``).
        stage_defaults = {"n_stages": 0} if self.model_config.top_down else {}
        self.stages = PriorStages(self.lifter, StageParams.from_dict({**stage_defaults, **config.stages}))
        # One inference on a zero image per model: a model whose outputs do not match its config is refused here,
        # not on every frame (models/model_check.py).
        try:
            check_model_outputs(self.model_config, self.backend)
            if self.detector_backend is not None:
                check_model_outputs(self.detector_config, self.detector_backend)
        except Exception:
            self.close()
            raise
        self.tracker: Tracker | None = None
        self.recognizer = None
        self.reset()

    def _create_backend(self, model: ModelConfig):
        from .inference.factory import create_backend
        from .inference.tensorrt_build import pipeline_input_sizes, profile_for

        path = verify_checksum(model)
        # TensorRT optimisation profile = the input shapes this pipeline feeds the model (fixed crops, or frame-shaped
        # inputs at its pixel budget); `pose3d-ros build-engine` computes the same, so the node finds its engine.
        profile = profile_for(model, pipeline_input_sizes(self.config, model, detector=model is not self.model_config))
        return create_backend(path, device=self.config.backend, threads=int(self.config.threads),
                              fallback_to_cpu=self.config.fallback_to_cpu, logger=_LOG, profile_shapes=profile)

    def _bottom_up(self, model: ModelConfig, backend, roi_tracking: bool, pixels: int | None = None,
                   decoder: Mapping | None = None) -> BottomUpFrontEnd:
        c = self.config
        params = DecoderParams.from_dict(c.decoder if decoder is None else decoder)
        estimator = OpenPoseEstimator(model, backend, params)
        return BottomUpFrontEnd(estimator, BottomUpParams(
            input_size=c.input_size, input_pixels=int(pixels or c.input_pixels),
            roi_tracking=bool(roi_tracking),
            full_frame_interval=int(c.full_frame_interval), roi_margin=float(c.roi_margin),
            max_people=int(c.max_people)))


    @property
    def backend_name(self) -> str:
        """What actually runs the CNN, e.g. ``onnxruntime:cpu``."""
        return str(getattr(self.backend, "name", type(self.backend).__name__))

    def reset(self) -> None:
        """Forget tracks and action state (a new sequence, or time went backwards). Track ids keep counting up."""
        if getattr(self, "tracker", None) is not None:
            self.tracker.reset()  # ids are never reused, not even after a time jump
        else:
            self.tracker = Tracker(**self.config.tracker) if self.config.tracking else None
        self.clock = TimeJumpDetector()  # the one owner of what a step back in frame time means
        # last frame's poses: a person keeps its side from frame to frame, and its own bones (near the prior's)
        self.previous = PreviousPoses(mean_bones=self.lifter.prior.bone_lengths_)
        self.frontend.reset()
        self.recognizer = None
        if self.config.tracking and self.config.actions:
            try:
                from .actions.recognizer import ActionRecognizer
            except ImportError:  # the recognizer is optional
                self.recognizer = None
            else:
                try:
                    self.recognizer = ActionRecognizer(self.config.action_config or None)
                except OSError as exc:  # no trained classifier shipped: gestures only
                    _LOG.warning("action classifier unavailable (%s); recognising gestures only", exc)
                    self.recognizer = ActionRecognizer({**dict(self.config.action_config), "classifier": False})

    def close(self) -> None:
        """Release the inference backends (and the background detector thread)."""
        close_front = getattr(self.frontend, "close", None)
        if close_front is not None:
            close_front()
        for backend in (self.backend, self.detector_backend):
            close = getattr(backend, "close", None)
            if close is not None:
                close()

    def __enter__(self) -> Pose3DPipeline:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def process(self, frame: Frame) -> FrameResult:
        """Run every stage on one frame.

        Parameters
        ----------
        frame : Frame

        Returns
        -------
        FrameResult

        Raises
        ------
        ValueError
            On a malformed frame (see :func:`validate_frame`).
        """
        t_start = time.perf_counter()
        color, depth = validate_frame(frame)
        jump = self.clock.observe(float(frame.stamp))
        if jump.drop:
            raise StaleFrame(jump.describe())
        if jump.restarts:
            self.reset()
            self.clock.observe(float(frame.stamp))
        if not self.config.use_depth:
            depth = None
        timings: dict[str, float] = {}
        t = time.perf_counter()
        if self.tracker is None:
            self.frontend.reset()  # without tracking every frame stands alone (no crops carried over)
        people2d = self.frontend(color)
        people2d = people2d.take(slice(0, int(self.config.max_people)))
        timings["2d"] = (time.perf_counter() - t) * 1e3
        t = time.perf_counter()
        staged = self.stages.run_people(people2d, frame.camera, depth_m=depth,
                                        previous=self.previous if self.tracker is not None else None)
        scores = people2d.scores
        timings["stages+lift"] = (time.perf_counter() - t) * 1e3
        valid = staged.lift.valid if staged.lift is not None else np.zeros(0, dtype=bool)
        valid = valid & np.isfinite(staged.poses).all(axis=(1, 2))
        people: list[PersonResult] = []
        t = time.perf_counter()
        score_of = np.clip(scores, 0.0, 1.0)
        if self.tracker is not None:
            idx = np.nonzero(valid)[0]
            tracks = self.tracker.update(staged.poses[idx], staged.pixels[idx], staged.conf[idx], float(frame.stamp))
            for tr in tracks:
                det = int(idx[tr.detection])
                people.append(PersonResult(
                    id=int(tr.id), joints=np.asarray(tr.pose, dtype=np.float64),
                    pixels=staged.pixels[det].copy(), confidence=staged.conf[det].copy(),
                    measured=staged.measured[det].copy(), score=float(score_of[det]),
                ))
        else:
            tracks = []
            for det in np.nonzero(valid)[0]:
                people.append(PersonResult(
                    id=int(det), joints=staged.poses[det].copy(), pixels=staged.pixels[det].copy(),
                    confidence=staged.conf[det].copy(), measured=staged.measured[det].copy(),
                    score=float(score_of[det]),
                ))
        timings["tracking"] = (time.perf_counter() - t) * 1e3
        if isinstance(self.frontend, BottomUpFrontEnd):
            self.frontend.update_roi(staged.pixels[valid], staged.conf[valid], color.shape[0], color.shape[1])
        events: list = []
        if self.recognizer is not None:
            t = time.perf_counter()
            labels, events = self.recognizer.update(tracks, float(frame.stamp))
            for person in people:
                if person.id in labels:
                    person.action, conf = labels[person.id]
                    person.action_confidence = float(conf)
            timings["actions"] = (time.perf_counter() - t) * 1e3
        timings["total"] = (time.perf_counter() - t_start) * 1e3
        maps = people2d.maps[0].heatmaps if self.config.keep_belief_maps and people2d.maps else None
        return FrameResult(people=people, events=list(events), timings=timings, stamp=float(frame.stamp),
                           belief_maps=maps, time_jump=jump if jump.kind is not TimeStep.NORMAL else None)
