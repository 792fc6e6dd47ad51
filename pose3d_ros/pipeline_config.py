"""Pipeline settings: the ``pipeline`` section of ``config/pose3d.yaml`` (every key validated at start)."""

from __future__ import annotations

import dataclasses
import inspect
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .core.bone_refinement import BoneRefinementParams
from .inference.factory import DEPRECATED_DEVICES, DEVICES
from .models.blazepose import BlazePoseParams
from .models.cpm_stages import StageParams
from .models.frontend import DEFAULT_INPUT_PIXELS
from .models.movenet import MoveNetParams
from .models.openpose import DecoderParams
from .models.top_down import TopDownParams
from .param_spec import unknown_names
from .settings import known_keys_only

if TYPE_CHECKING:
    from .core.lifting import PoseLifter
    from .core.prior import PosePrior

__all__ = ["PipelineConfig", "OPENPOSE_DETECTOR_DEFAULTS", "lifter_parameters"]

#: OpenPose as a person detector: permissive grouping (the landmarker's presence flag rejects non-people).
OPENPOSE_DETECTOR_DEFAULTS = {"thresh_human_score": 0.1, "thresh_part_count": 3}

#: The pipeline's rotation hypotheses when neither ``n_rotations`` nor ``lifter.n_rotations`` is set.
DEFAULT_N_ROTATIONS = 12

#: PoseLifter arguments that ``lifter`` may not set -> the setting that configures them.
_LIFTER_ELSEWHERE = {"prior": "prior_path", "anatomical": "refinement", "depth_noise": "refinement.depth"}


def lifter_parameters() -> list[str]:
    """The :class:`~pose3d_ros.core.lifting.PoseLifter` keyword arguments that ``lifter`` may set.

    Read from its signature at each call (never hard-coded: the lifter's parameters change with it), less those
    configured elsewhere (:data:`_LIFTER_ELSEWHERE`).
    """
    from .core.lifting import PoseLifter

    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    params = list(inspect.signature(PoseLifter.__init__).parameters.values())[1:]  # without self
    return [p.name for p in params if p.kind in kinds and p.name not in _LIFTER_ELSEWHERE]


@dataclasses.dataclass
class PipelineConfig:
    """Pipeline settings (the ``pipeline`` section of ``config/pose3d.yaml``; :meth:`from_dict`).

    Attributes
    ----------
    model : str, dict or None
        Shipped model name (``models.json``), path of an ``.onnx`` (OpenPose-family defaults), or a model-config
        dict (:class:`pose3d_ros.models.registry.ModelConfig` fields); None = the default model. A top-down
        model (BlazePose) also runs ``detector`` to find people.
    detector : str or dict
        Bottom-up model that finds people for a top-down ``model`` (ignored for a bottom-up one).
    detector_pixels : int
        Pixel budget of the detector's full-frame input (it runs every ``top_down.detect_interval`` frames).
    detector_params : dict
        Detector settings: :class:`pose3d_ros.models.movenet.MoveNetParams` overrides for a MoveNet detector,
        :class:`pose3d_ros.models.openpose.DecoderParams` overrides for an OpenPose one. Both are permissive by default,
        because the landmarker's person-presence flag rejects what is not a person.
    input_size : (int, int) or None
        Fixed network input ``(H, W)`` of the bottom-up pass (multiples of 8); None = from ``input_pixels`` and
        the frame's aspect ratio (portrait frames get a portrait input).
    input_pixels : int
        Pixel budget of the bottom-up (full-frame) network input.
    top_down : dict
        :class:`pose3d_ros.models.top_down.TopDownParams` overrides (``detect_interval``, ``min_presence``...).
    landmarker : dict
        :class:`pose3d_ros.models.blazepose.BlazePoseParams` overrides.
    backend : str
        Inference device, one of :data:`pose3d_ros.inference.factory.DEVICES`: ``cpu`` (default), ``cuda``,
        ``tensorrt`` or ``ort-tensorrt``. The old name ``onnxruntime`` is read as ``cpu`` with a
        ``DeprecationWarning``.
    threads : int
        ONNX Runtime intra-op threads.
    fallback_to_cpu : bool
        Fall back to ONNX Runtime on CPU when the GPU backend is unavailable.
    decoder : dict
        :class:`pose3d_ros.models.openpose.DecoderParams` overrides.
    stages : dict
        :class:`pose3d_ros.models.cpm_stages.StageParams` overrides (``n_stages``, ``fusion_weight``,
        ``cnn_3d_weight``...). Default ``n_stages``: 1 for a bottom-up model, 0 for a top-down one (BlazePose: on the
        validation set's first half 12.4 vs 13.0 px 2D and 107.1 vs 106.9 mm 3D without / with a stage; its own
        metric 3D, blended by ``cnn_3d_weight``, already does what the stage did for OpenPose).
    prior_path : str or None
        Pose prior ``.npz`` (None = the shipped one).
    n_rotations : int or None
        Rotation hypotheses of the lifting search; None = ``lifter.n_rotations`` when given, else 12. Setting both
        is refused.
    lifter : dict
        :class:`pose3d_ros.core.lifting.PoseLifter` keyword overrides (``noise_px``, ``n_candidates``,
        ``adaptive_noise``, ``n_search``, ``min_joints``, ``temporal_sigma_m``, ``precise_2d``...), e.g.
        ``{"noise_px": 3.0}``. Keys are checked against PoseLifter's signature (:func:`lifter_parameters`); its
        ``prior``, ``anatomical`` and ``depth_noise`` come from ``prior_path``, ``refinement`` and
        ``refinement.depth``. Values are checked by PoseLifter when the pipeline is built (:meth:`make_lifter`).
    refinement : dict or None
        :class:`pose3d_ros.core.bone_refinement.BoneRefinementParams` overrides for the anatomical step that fits
        every joint to its depth (bone lengths, full prior covariance, robust depth loss); None turns the step off
        (faster by about 1 ms per person with depth, 10 mm less accurate on held-out clips).
    use_depth : bool
        Use ``Frame.depth_m`` when present.
    tracking : bool
        Persistent ids + smoothing. Without it every detection is reported with id = its index.
    tracker : dict
        :class:`pose3d_ros.core.tracking.Tracker` keyword arguments.
    actions : bool
        Run the action recognizer (needs tracking).
    action_config : dict
        Passed to ``ActionRecognizer``.
    max_people : int
        Keep at most this many people (highest grouping score first).
    keep_belief_maps : bool
        Attach the upsampled CNN heatmaps to the result (debugging).
    roi_tracking : bool
        With tracking on, run the CNN only on the region around the people of the previous frame, at the same
        image scale as a full frame (a smaller network input: faster), and on the full frame every
        ``full_frame_interval`` frames, whenever nobody was seen, or when the region covers most of the image.
    full_frame_interval : int
        Frames between two full-frame passes (new people are found within this many frames).
    roi_margin : float
        Region = the people's joint box grown by this fraction of its larger side on each side.
    """

    model: Any = None
    detector: Any = "movenet_multipose_lightning"
    detector_pixels: int = 160000
    detector_params: dict = dataclasses.field(default_factory=dict)
    input_size: tuple[int, int] | None = None
    input_pixels: int = DEFAULT_INPUT_PIXELS
    top_down: dict = dataclasses.field(default_factory=dict)
    landmarker: dict = dataclasses.field(default_factory=dict)
    backend: str = "cpu"
    threads: int = 2
    fallback_to_cpu: bool = True
    decoder: dict = dataclasses.field(default_factory=dict)
    stages: dict = dataclasses.field(default_factory=dict)
    prior_path: str | None = None
    n_rotations: int | None = None
    lifter: dict = dataclasses.field(default_factory=dict)
    refinement: dict | None = dataclasses.field(default_factory=dict)
    use_depth: bool = True
    tracking: bool = True
    tracker: dict = dataclasses.field(default_factory=dict)
    actions: bool = True
    action_config: dict = dataclasses.field(default_factory=dict)
    max_people: int = 10
    keep_belief_maps: bool = False
    roi_tracking: bool = True
    full_frame_interval: int = 6
    roi_margin: float = 0.25

    def __post_init__(self) -> None:
        if self.backend in DEPRECATED_DEVICES:
            new = DEPRECATED_DEVICES[self.backend]
            warnings.warn(f"pipeline backend {self.backend!r} is deprecated: write `{new}` (the same device)",
                          DeprecationWarning, stacklevel=3)  # the caller of the dataclass __init__
            self.backend = new
        if self.backend not in DEVICES:
            raise ValueError(f"backend must be one of {list(DEVICES)}, got {self.backend!r}")
        if int(self.threads) < 1:
            raise ValueError(f"threads must be >= 1, got {self.threads}")
        if int(self.full_frame_interval) < 1 or not self.roi_margin >= 0:
            raise ValueError(f"need full_frame_interval >= 1 and roi_margin >= 0, got {self.full_frame_interval}, "
                             f"{self.roi_margin}")
        if int(self.max_people) < 1:
            raise ValueError(f"max_people must be >= 1, got {self.max_people}")
        if self.input_size is not None:
            size = tuple(int(v) for v in self.input_size)
            if len(size) != 2 or min(size) < 8 or any(v % 8 for v in size):
                raise ValueError(f"input_size must be (H, W), multiples of 8, got {self.input_size}")
            self.input_size = size
        for name in ("input_pixels", "detector_pixels"):
            if not 1024 <= int(getattr(self, name)) <= 4096 * 4096:
                raise ValueError(f"{name} must be in [1024, 16777216], got {getattr(self, name)}")
        for name in ("decoder", "stages", "tracker", "action_config", "top_down", "landmarker", "detector_params",
                     "lifter"):
            value = getattr(self, name)
            if value is None:
                setattr(self, name, {})
            elif not isinstance(value, Mapping):
                raise ValueError(f"{name} must be a mapping, got {type(value).__name__}")
        if self.refinement is not None and not isinstance(self.refinement, Mapping):
            raise ValueError(f"refinement must be a mapping or None, got {type(self.refinement).__name__}")
        # Validate the nested sections now, not on the first frame.
        DecoderParams.from_dict(self.decoder)
        self.detector_settings(self.detector_family())
        StageParams.from_dict(self.stages)
        TopDownParams(**known_keys_only(TopDownParams, self.top_down, "top_down settings"))
        BlazePoseParams(**known_keys_only(BlazePoseParams, self.landmarker, "landmarker settings"))
        self.refinement_params()
        self.lifter_settings()

    def refinement_params(self) -> BoneRefinementParams | None:
        """The anatomical step's settings (None = off)."""
        if self.refinement is None:
            return None
        return BoneRefinementParams(**known_keys_only(BoneRefinementParams, self.refinement, "refinement settings"))

    def lifter_settings(self) -> dict[str, Any]:
        """The PoseLifter keyword arguments: ``lifter``, with ``n_rotations`` from either place.

        Raises
        ------
        ValueError
            An unknown ``lifter`` key (naming the closest known one), one configured elsewhere, or
            ``n_rotations`` given both at the top level and in ``lifter``.
        """
        known = lifter_parameters()
        for key in self.lifter:
            if key in _LIFTER_ELSEWHERE:
                raise ValueError(f"lifter.{key} is not a lifter setting here: set it with `{_LIFTER_ELSEWHERE[key]}`")
        unknown = unknown_names([str(k) for k in self.lifter], known)
        if unknown:
            names = ", ".join(f"{name!r}" + (f" (did you mean {close!r}?)" if close else "") for name, close in unknown)
            raise ValueError(f"unknown lifter settings {names}; known: {sorted(known)}")
        if self.n_rotations is not None and "n_rotations" in self.lifter:
            raise ValueError(f"n_rotations is set twice, as n_rotations ({self.n_rotations}) and as "
                             f"lifter.n_rotations ({self.lifter['n_rotations']}): keep one")
        if self.n_rotations is not None and "n_rotations" not in known:  # never dropped silently
            raise ValueError(f"n_rotations is not a PoseLifter parameter (any more); known: {sorted(known)}")
        settings = dict(self.lifter)
        if "n_rotations" in known and "n_rotations" not in settings:
            settings["n_rotations"] = DEFAULT_N_ROTATIONS if self.n_rotations is None else self.n_rotations
        return settings

    def make_lifter(self, prior: PosePrior) -> PoseLifter:
        """The pipeline's :class:`~pose3d_ros.core.lifting.PoseLifter` on ``prior``.

        Raises
        ------
        ValueError
            A value PoseLifter refuses, naming the setting (``lifter.<key>`` or ``n_rotations``) and its reason.
        """
        from .core.lifting import PoseLifter

        settings, anatomical = self.lifter_settings(), self.refinement_params()
        try:
            return PoseLifter(prior, anatomical=anatomical, **settings)
        except (ValueError, TypeError) as exc:
            error = exc
        try:  # the lifter's own defaults failing is not the settings' fault (e.g. an unusable prior)
            PoseLifter(prior, anatomical=anatomical)
        except (ValueError, TypeError):
            raise error from None
        given = {k: f"lifter.{k}" for k in self.lifter}
        if self.n_rotations is not None and "n_rotations" in settings:
            given["n_rotations"] = "n_rotations"
        # Each given setting alone, so the message names the culprit whatever PoseLifter's wording is.
        culprits = []
        for key, label in given.items():
            try:
                PoseLifter(prior, anatomical=anatomical, **{key: settings[key]})
            except (ValueError, TypeError):
                culprits.append(label)
        names = ", ".join(culprits or given.values())  # none alone: the combination
        raise ValueError(f"pipeline setting {names} refused by PoseLifter: {error}") from error

    def detector_family(self) -> str:
        """``movenet`` or ``openpose``: the family of ``detector`` (an ``.onnx`` path is OpenPose-family)."""
        from .models.registry import resolve_model

        if isinstance(self.detector, str) and self.detector.endswith(".onnx"):
            return "openpose"
        return resolve_model(self.detector).family

    def detector_settings(self, family: str) -> MoveNetParams | DecoderParams:
        """The detector's settings for a detector of ``family`` (``movenet`` or ``openpose``)."""
        if family == "movenet":
            data = {"min_person_score": 0.15, "input_pixels": int(self.detector_pixels), **self.detector_params}
            return MoveNetParams(**known_keys_only(MoveNetParams, data, "detector settings"))
        return DecoderParams.from_dict({**OPENPOSE_DETECTOR_DEFAULTS, **self.detector_params})

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> PipelineConfig:
        """Build from a dict (e.g. a YAML ``pipeline`` section); unknown keys raise ``ValueError``."""
        data = known_keys_only(cls, data, "pipeline settings")
        if data.get("model") == "":
            data["model"] = None
        return cls(**data)

    @classmethod
    def from_yaml(cls, path: str | Path, section: str = "pipeline") -> PipelineConfig:
        """Read ``section`` of a YAML file (the whole file when it has no such key)."""
        import yaml

        try:
            data = yaml.safe_load(Path(path).read_text()) or {}
        except yaml.YAMLError as exc:
            raise ValueError(f"{path}: invalid YAML ({str(exc).splitlines()[0]})") from None
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected a mapping, got {type(data).__name__}")
        body = data.get(section, data)
        if not isinstance(body, dict):
            raise ValueError(f"{path}: '{section}' must be a mapping of settings, got {type(body).__name__}")
        return cls.from_dict(body)


def config_from_node_params(params: Mapping[str, Any]) -> PipelineConfig:
    """The pipeline settings of the inference node: its ``pipeline_config`` file, then its parameters.

    One precedence rule for every key: a node parameter overrides the file when it is set (non-empty string,
    non-zero number); ``use_depth`` must be allowed by both (``use_depth: false`` in the file turns depth off even
    though the parameter defaults to true). ``backend`` is always the parameter's.
    """
    path = params.get("pipeline_config") or ""
    config = PipelineConfig.from_yaml(path) if path else PipelineConfig()
    changes: dict[str, Any] = {"backend": params.get("backend", config.backend),
                               "use_depth": bool(config.use_depth and params.get("use_depth", True))}
    if params.get("model"):
        changes["model"] = params["model"]
    if params.get("detector"):
        changes["detector"] = params["detector"]
    if params.get("input_pixels"):
        changes["input_pixels"] = changes["detector_pixels"] = int(params["input_pixels"])
    return dataclasses.replace(config, **changes)
