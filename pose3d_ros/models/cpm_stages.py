"""The seed paper's 3D-prior layer inside the multi-stage 2D network, per person.

Each stage (Tome et al. style, DESIGN.md §1): lift the current 2D joints with the probabilistic 3D prior
(:class:`pose3d_ros.core.lifting.PoseLifter`), project the 3D pose with the camera, render "projected pose belief
maps" (:func:`pose3d_ros.core.belief_maps.render_belief_maps`), fuse them with the CNN's belief maps
(:func:`pose3d_ros.core.belief_map_fusion.fuse_belief_maps`) and decode the fused maps into the next stage's 2D
joints. After the last stage the 2D joints are lifted once more, with the joint depths of the depth image when there
is one (:func:`pose3d_ros.core.rgbd_lift.lift_with_depth`).

The CNN maps are the bottom-up network's multi-person heatmaps, so each person's fusion runs in a region of
interest around that person's joints and their projection; channels are matched by joint name (OpenPose-18 ->
pose3d16: neck, shoulders, elbows, wrists, hips, knees, ankles). The derived joints (pelvis, spine, head) follow
from the fused ones through :func:`pose3d_ros.core.skeleton.convert`.

Fusion weight and mode (tuned with ``bench/bench_stages.py`` on held-out mocap; geometric mean, projected weight 0.5,
sigma 3% of the person's size, one stage by default). A confident CNN peak stays where it is; a joint moves when
the CNN evidence near it is weak or the grouping put it far from where the 3D prior expects it, and a joint the
grouping missed (occluded) is recovered from weak CNN evidence near its projection. Measured (150 poses, seed 0;
0 -> 1 -> 2 stages): 2D joints within 10 px 0.76 -> 0.86 -> 0.85 (noise only), 0.67 -> 0.80 -> 0.82 (occluded),
0.56 -> 0.52 -> 0.68 (a wrong joint assigned; mean error 20.8 -> 15.1 -> 12.5 px); N-MPJPE 94 -> 96 -> 97 mm
(noise only: no 3D gain), 106 -> 103 -> 102 mm (occluded), 168 -> 145 -> 133 mm (wrong joints). Each stage costs
one more lift per person; use 2 stages when wrong assignments (crowds, crossings) matter more than speed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np

from ..core.belief_map_fusion import fuse_belief_maps
from ..core.belief_maps import decode_belief_maps, render_belief_maps
from ..core.depth import sample_joint_depth
from ..core.lifting import LiftResult, PoseLifter
from ..core.rgbd_lift import lift_with_depth
from ..core.skeleton import POSE3D16, convert, get_layout
from ..core.temporal import PreviousPoses
from ..settings import known_keys_only
from .frontend import People2D

__all__ = ["StageParams", "StageResult", "PriorStages", "SHARED_JOINTS", "shared_joints"]


def shared_joints(layout: str) -> np.ndarray:
    """(K, 2) int: joints with both a CNN map channel in ``layout`` and a pose3d16 index (layout idx, p16 idx)."""
    src = get_layout(layout)
    return np.array([(src.index(n), POSE3D16.index(n)) for n in POSE3D16.names if n in src.names], dtype=np.int64)


#: :func:`shared_joints` of OpenPose-18.
SHARED_JOINTS = shared_joints("openpose18")


@dataclasses.dataclass(frozen=True)
class StageParams:
    """Parameters of the 3D-prior stages.

    Attributes
    ----------
    n_stages : int
        Lift/project/fuse/decode rounds before the final lift (0 = lift the CNN's 2D joints directly).
    fusion_weight : float
        Weight of the projected maps in [0, 1] (:func:`pose3d_ros.core.belief_map_fusion.fuse_belief_maps`).
    fusion_mode : {"geometric", "arithmetic"}
    sigma_frac : float
        Projected-map Gaussian sigma as a fraction of the person's 2D height (pixels), floored at one map cell.
    roi_margin_frac : float
        Region of interest = the joints' box grown by this fraction of the person's height on each side.
    min_conf : float
        Decoded joints under this fused confidence are dropped (NaN, confidence 0).
    projected_conf : float
        Peak value of the projected maps (the prior's belief in its projection).
    depth_window : int
        Window (pixels) for the robust joint depth (:func:`pose3d_ros.core.depth.sample_joint_depth`).
    cnn_3d_weight : float
        For people without depth, weight of the CNN's own metric 3D (BlazePose world landmarks) in a root-relative
        blend with the prior's lift; 0 = the lift alone. Chosen on the real-video validation set (first half,
        MPJPE / PA-MPJPE: 0 -> 147 / 79 mm, 0.3 -> 123 / 67, 0.5 -> 112 / 62, 0.7 -> 107 / 61, 1.0 -> 110 / 68).
    cnn_3d_mode : {"observation", "blend"}
        ``"observation"``: the CNN's root-relative 3D enters the lift's anatomical step as an observation (with its
        error ``observed_3d_sigma_m``, the prior and the bone lengths keeping it plausible, the 2D rays exact), and
        sets the body size; ``cnn_3d_weight`` then blends nothing. ``"blend"``: the earlier root-relative blend.
    """

    n_stages: int = 1
    fusion_weight: float = 0.5
    fusion_mode: str = "geometric"
    sigma_frac: float = 0.03
    roi_margin_frac: float = 0.15
    min_conf: float = 0.02
    projected_conf: float = 1.0
    depth_window: int = 5
    cnn_3d_weight: float = 0.7
    cnn_3d_mode: str = "blend"

    def __post_init__(self) -> None:
        if int(self.n_stages) < 0:
            raise ValueError(f"n_stages must be >= 0, got {self.n_stages}")
        if not 0.0 <= self.fusion_weight <= 1.0:
            raise ValueError(f"fusion_weight must be in [0, 1], got {self.fusion_weight}")
        if self.fusion_mode not in ("geometric", "arithmetic"):
            raise ValueError(f"fusion_mode must be 'geometric' or 'arithmetic', got {self.fusion_mode!r}")
        if not self.sigma_frac > 0 or not self.roi_margin_frac >= 0:
            raise ValueError(f"need sigma_frac > 0 and roi_margin_frac >= 0, got {self.sigma_frac}, "
                             f"{self.roi_margin_frac}")
        if not 0.0 <= float(self.cnn_3d_weight) <= 1.0:
            raise ValueError(f"cnn_3d_weight must be in [0, 1], got {self.cnn_3d_weight}")
        if self.cnn_3d_mode not in ("observation", "blend"):
            raise ValueError(f"cnn_3d_mode must be 'observation' or 'blend', got {self.cnn_3d_mode!r}")
        if int(self.depth_window) < 1:
            raise ValueError(f"depth_window must be >= 1, got {self.depth_window}")

    @classmethod
    def from_dict(cls, data: Mapping | None) -> StageParams:
        return cls(**known_keys_only(cls, data, "stage parameters"))


@dataclasses.dataclass
class StageResult:
    """Output of :meth:`PriorStages.run` for P people.

    Attributes
    ----------
    pixels : (P, 16, 2) float64
        Final 2D joints (pose3d16, image pixels); joints the CNN never saw are the projection of the 3D pose.
    conf : (P, 16) float64
        2D confidence (0 = inferred by the prior only).
    poses : (P, 16, 3) float64
        3D joints, metres, camera optical frame.
    measured : (P, 16) bool
        Joint position from depth (True) or from the prior (False).
    lift : LiftResult
        The final lift.
    stage_pixels : list of (P, 16, 2)
        2D joints after each stage (index 0 = the CNN's grouping), for benchmarks / debugging.
    """

    pixels: np.ndarray
    conf: np.ndarray
    poses: np.ndarray
    measured: np.ndarray
    lift: LiftResult | None
    stage_pixels: list[np.ndarray]


class PriorStages:
    """Run the 3D-prior stages and the final (depth-aware) lift for all people of one frame.

    Parameters
    ----------
    lifter : PoseLifter
    params : StageParams, optional
    """

    def __init__(self, lifter: PoseLifter, params: StageParams | None = None) -> None:
        self.lifter = lifter
        self.params = params or StageParams()

    def refine_person(
        self,
        keypoints18: np.ndarray,
        conf18: np.ndarray,
        projected16: np.ndarray,
        heatmaps: np.ndarray,
        image_to_map,
        map_to_image,
        shared: np.ndarray = SHARED_JOINTS,
    ) -> tuple[np.ndarray, np.ndarray]:
        """One fusion step for one person in the CNN's layout (channel k = joint k).

        Parameters
        ----------
        keypoints18 : (J, 2)
            Current joints (image pixels, NaN = missing).
        conf18 : (J,)
        projected16 : (16, 2)
            The lifted pose projected into the image (pixels).
        heatmaps : (C, H, W)
            CNN heatmaps on the map grid.
        image_to_map, map_to_image : callable
            Pixel <-> map-cell transforms ((..., 2) -> (..., 2)).

        shared : (K, 2) int
            :func:`shared_joints` of the layout.

        Returns
        -------
        keypoints18, conf18 : (J, 2), (J,)
            Updated joints (only the ``shared`` ones change).
        """
        p = self.params
        op_idx, p16_idx = shared[:, 0], shared[:, 1]
        proj_cells = image_to_map(projected16[p16_idx])
        cur_cells = image_to_map(keypoints18[op_idx])
        pts = np.concatenate([proj_cells, cur_cells[np.isfinite(cur_cells).all(axis=1)]], axis=0)
        pts = pts[np.isfinite(pts).all(axis=1)]
        out_kp, out_conf = keypoints18.copy(), conf18.copy()
        if len(pts) == 0:
            return out_kp, out_conf
        _, map_h, map_w = heatmaps.shape
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        height = max(float(hi[1] - lo[1]), float(hi[0] - lo[0]), 1.0)
        margin = p.roi_margin_frac * height + 2.0
        x0, y0 = (int(max(0, np.floor(v - margin))) for v in lo)
        x1 = int(min(map_w, np.ceil(hi[0] + margin) + 1))
        y1 = int(min(map_h, np.ceil(hi[1] + margin) + 1))
        if x1 - x0 < 2 or y1 - y0 < 2:
            return out_kp, out_conf
        cnn = heatmaps[op_idx, y0:y1, x0:x1]
        sigma = max(1.0, p.sigma_frac * height)
        proj = render_belief_maps(proj_cells - (x0, y0), np.full(len(op_idx), p.projected_conf), (y1 - y0, x1 - x0),
                                  sigma)
        fused = fuse_belief_maps(np.maximum(cnn, 0), proj, p.fusion_weight, p.fusion_mode)
        pts_new, conf_new = decode_belief_maps(fused)
        good = np.isfinite(pts_new).all(axis=1) & (conf_new >= p.min_conf)
        new_px = map_to_image(pts_new + (x0, y0))
        out_kp[op_idx[good]] = new_px[good]
        out_conf[op_idx[good]] = np.clip(conf_new[good], 0.0, 1.0)
        out_kp[op_idx[~good]] = np.nan
        out_conf[op_idx[~good]] = 0.0
        return out_kp, out_conf

    def _blend_cnn_3d(self, poses: np.ndarray, world: np.ndarray, layout: str, measured: np.ndarray) -> np.ndarray:
        """Root-relative blend of the lifted poses with the CNN's metric 3D, for people without depth (a person
        with measured joints keeps the depth fit, which is far more accurate)."""
        w16, _ = convert(world, None, layout, "pose3d16")
        ok = np.isfinite(w16).all(axis=(1, 2)) & np.isfinite(poses).all(axis=(1, 2)) & ~measured.any(axis=1)
        k = float(self.params.cnn_3d_weight)
        rel = (1 - k) * (poses - poses[:, :1]) + k * (w16 - w16[:, :1])
        return np.where(ok[:, None, None], poses[:, :1] + rel, poses)

    def run(
        self,
        keypoints18: np.ndarray,
        conf18: np.ndarray,
        heatmaps: np.ndarray | None,
        camera,
        image_to_map=None,
        map_to_image=None,
        depth_m: np.ndarray | None = None,
    ) -> StageResult:
        """All stages for P OpenPose-18 people sharing one set of maps (see :meth:`run_people`)."""
        from .frontend import PersonMaps

        kp = np.asarray(keypoints18, dtype=np.float64)
        maps = None if heatmaps is None else [PersonMaps(heatmaps, image_to_map, map_to_image)] * len(kp)
        people = People2D("openpose18", kp, np.asarray(conf18, dtype=np.float64), np.ones(len(kp)), maps)
        return self.run_people(people, camera, depth_m)

    def run_people(self, people: People2D, camera, depth_m: np.ndarray | None = None,
                   previous: PreviousPoses | None = None) -> StageResult:
        """All stages for the people of one frame, then the final lift (+ depth).

        Parameters
        ----------
        people : People2D
            The front end's joints (any layout that converts to pose3d16) and each person's CNN belief maps
            (``maps`` None skips the stages: the CNN's joints are lifted directly).
        camera : PinholeCamera
            Intrinsics of the raw colour image, with its lens distortion if any: the 2D joints are undistorted here,
            once, before any lift; depth is sampled and pixels are reported in the raw image.
        depth_m : (H_img, W_img) float32, optional
            Depth registered to the (raw) colour image, metres, NaN = invalid.
        previous : PreviousPoses, optional
            The last frame's people: each person's previous pose steers the final lift's choice of hypothesis
            (video), and this frame's people are remembered in it.

        Returns
        -------
        StageResult
        """
        kp = np.array(people.keypoints, dtype=np.float64)
        cf = np.array(people.conf, dtype=np.float64)
        layout = people.layout
        n = kp.shape[0]
        if n == 0:
            empty = np.zeros((0, 16))
            return StageResult(np.zeros((0, 16, 2)), empty, np.zeros((0, 16, 3)), empty.astype(bool), None, [])
        # Lens distortion, in one place: the CNN's joints are raw-image pixels; the lift is pinhole geometry on the
        # ideal pixels of the same K (``ideal``); projections back into the raw image (fusion with the CNN's maps,
        # joints it missed) go through ``camera.project``, which distorts; depth is sampled at the raw pixels.
        ideal = camera.without_distortion()
        pix16, c16 = convert(kp, cf, layout, "pose3d16")
        stage_pixels = [pix16]
        if people.maps is not None and self.params.n_stages > 0:
            shared = shared_joints(layout)
            for _ in range(int(self.params.n_stages)):
                und = camera.undistort_pixels(pix16)
                lift = self.lifter.lift(np.nan_to_num(und), c16 * np.isfinite(und).all(axis=2), ideal)
                projected = camera.project(lift.poses)
                for i in range(n):
                    if not lift.valid[i]:
                        continue
                    m = people.maps[i]
                    kp[i], cf[i] = self.refine_person(kp[i], cf[i], projected[i], m.heatmaps, m.image_to_map,
                                                      m.map_to_image, shared)
                pix16, c16 = convert(kp, cf, layout, "pose3d16")
                stage_pixels.append(pix16)
        joint_depth = None
        if depth_m is not None:
            joint_depth = sample_joint_depth(depth_m, pix16, self.params.depth_window)
            joint_depth = np.where(c16 > 0, joint_depth, np.nan)
        observed = None
        if people.world is not None and self.params.cnn_3d_mode == "observation":
            w16, _ = convert(people.world, None, layout, "pose3d16")
            depth_seen = np.zeros(n, bool) if joint_depth is None else np.isfinite(joint_depth).sum(1) >= 3
            observed = np.where(depth_seen[:, None, None], np.nan, w16 - w16[:, :1])  # depth beats the CNN
        prev = None if previous is None else previous.match(pix16)
        bones = None if previous is None or joint_depth is None else previous.bones()
        und16 = camera.undistort_pixels(pix16)
        c16u = np.where(np.isfinite(und16).all(axis=2), c16, 0.0)  # a pixel the lens model cannot invert is unseen
        lift, poses, measured = lift_with_depth(self.lifter, und16, c16u, ideal, joint_depth, observed, prev, bones)
        if people.world is not None and self.params.cnn_3d_mode == "blend" and self.params.cnn_3d_weight > 0:
            poses = self._blend_cnn_3d(poses, people.world, layout, measured)
        # Joints the CNN did not see: report the projection of the 3D pose, with confidence 0.
        projected = camera.project(poses)
        missing = ~np.isfinite(pix16).all(axis=2)
        pixels = np.where(missing[..., None], projected, pix16)
        if previous is not None:
            previous.remember(pix16, poses, measured)
        return StageResult(pixels, np.where(missing, 0.0, c16), poses, measured, lift, stage_pixels)
