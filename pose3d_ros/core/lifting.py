"""2D -> 3D lifting with the probabilistic pose prior (Tome et al., "Lifting from the Deep", CVPR 2017), vectorised.

Two stages:

1. the subspace lift (:mod:`pose3d_ros.core.subspace_fit`): for every person the best mixture component, rotation
   and basis coefficients of the prior for its 2D, by linear solves; with joint depths a perspective Gauss-Newton over
   coefficients, rotation, translation and body size fits them to the depths too;
2. the anatomical refinement (:mod:`pose3d_ros.core.bone_refinement`): every joint free in 3D, held by the 2D, the
   bone lengths, the full prior covariance and the depths under the package's depth-noise model
   (:mod:`pose3d_ros.core.depth_noise`). It runs for people with joint depths, with a CNN's own 3D, or
   (``precise_2d``) for everyone.

Output: metric camera-frame joints (REP-103 optical frame); without depth the metric scale is the prior's mean body
size. :attr:`LiftResult.measured` says which joints agree with their depth reading (the same test on every path).

References
----------
D. Tome, C. Russell and L. Agapito, "Lifting from the Deep: Convolutional 3D Pose Estimation from a Single Image",
CVPR 2017 (release code: packages/lifting/utils/prob_model.py; maths only).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from pose3d_ros.core.bone_refinement import BoneRefinementParams, BoneRefiner
from pose3d_ros.core.depth_noise import MIN_DEPTH_M, DepthNoiseModel
from pose3d_ros.core.prior import PosePrior
from pose3d_ros.core.skeleton import bone_lengths
from pose3d_ros.core.subspace_fit import SubspaceFit

#: the anatomical refinement's settings unless told otherwise (frozen dataclass: shared safely)
DEFAULT_ANATOMICAL = BoneRefinementParams()


@dataclass
class LiftResult:
    """What :meth:`PoseLifter.lift` returns for P people.

    Attributes
    ----------
    poses : (P, J, 3) float64 ndarray
        Joints in metres, camera optical frame (x right, y down, z forward). NaN where ``valid`` is False.
    component : (P,) int ndarray
        Chosen mixture component (-1 when not valid).
    residual : (P,) float64 ndarray
        Confidence-weighted RMS reprojection error in pixels (NaN when not valid).
    valid : (P,) bool ndarray
        False when too few joints were usable (the pose is then NaN, never a made-up pose).
    rotation : (P,) float64 ndarray
        Rotation about the vertical axis (rad) from the facing-the-camera orientation.
    scale : (P,) float64 ndarray
        Body-size factor relative to the prior's mean body (1 without depth, apart from the weak prior on it).
    measured : (P, J) bool ndarray
        True where a joint's final depth agrees with its depth reading
        (:meth:`~pose3d_ros.core.depth_noise.DepthNoiseModel.inliers`); all False without depth.
    """

    poses: np.ndarray
    component: np.ndarray
    residual: np.ndarray
    valid: np.ndarray
    rotation: np.ndarray
    scale: np.ndarray
    measured: np.ndarray


class PoseLifter:
    """Lift 2D joints (pixels) of several people into metric 3D with a :class:`~pose3d_ros.core.prior.PosePrior`.

    Parameters
    ----------
    prior : PosePrior
        A fitted prior of the pose3d16 layout; :meth:`~pose3d_ros.core.prior.PosePrior.validate` must accept it
        (``ValueError`` otherwise: zero weights, NaN, non-positive variances, bone lengths or body size).
    n_rotations : int
        Grid of rotations about the vertical axis searched per component (360 / n degrees apart).
    noise_px : float
        Assumed 2D noise (pixels, 1 sigma): balances the reprojection term against the prior.
    depth_noise : DepthNoiseModel, optional
        The depth-noise model of the anatomical step and of :attr:`LiftResult.measured`; default the anatomical step's
        (``anatomical.depth``), or :class:`~pose3d_ros.core.depth_noise.DepthNoiseModel` without that step. Given
        together with ``anatomical``, it replaces ``anatomical.depth`` (one model for the whole lift).
    n_candidates : int
        Best (component, rotation) hypotheses refined with the perspective camera; the best after refinement wins.
    n_iterations : int
        Linear refinement steps of the subspace lift (rotation halvings + perspective corrections).
    renormalize_bones : bool
        Rebuild the output from the pelvis outwards with the prior's mean bone lengths (times the body-size factor).
    min_joints : int
        Fewest joints with confidence > 0 needed to lift a person.
    n_search : int
        Hypotheses per person kept from the mean-only stage for the full linear solve.
    adaptive_noise : float
        If > 0, the 2D noise used in the refinement is ``max(noise_px, adaptive_noise * RMS residual of the best
        weak-perspective fit)`` per person: noisy detections lean more on the prior. 0 disables it.
    anatomical : BoneRefinementParams or None
        Final step when joint depths are given (:mod:`pose3d_ros.core.bone_refinement`): every joint free in 3D,
        held by the 2D, the bone lengths, the full prior covariance and the depths (robust loss). None skips it
        (the pose stays in the prior's subspace).
    precise_2d : bool
        The 2D is precise (ground truth, mocap markers, hand-checked labels): run the anatomical step without depth
        too, choosing each limb's depth sign with the prior's limb density between two fits. Measured on held-out
        clips (``bench/bench_lifting.py``) it cuts the error with exact 2D by a third but raises it with 10 px
        noise (bone lengths turn 2D noise into depth errors), so detector output keeps it off.
    bones_from_lift : bool
        The anatomical step holds each person to the bone lengths of its own subspace lift (the proportions the
        prior infers from this person's 2D) instead of the prior's mean body. Bone lengths passed to :meth:`lift`
        (e.g. a track's estimate) override both.
    temporal_sigma_m : float
        With a previous pose of the person (:meth:`lift`'s ``previous_3d``), how far (m per joint, 1 sigma) the
        chosen hypothesis may be from it: a temporal term in the choice among the refined hypotheses, so a track
        keeps its side (facing, limb depth order) instead of a single image choosing it anew each frame. Chosen on
        the validation takes (``bench/bench_lifting_video.py --validation``: 0.05-0.4 m all within 2 mm).

    Examples
    --------
    >>> lifter = PoseLifter(load_default_prior())
    >>> res = lifter.lift(pixels, conf, camera)   # pixels (P, 16, 2), conf (P, 16)
    >>> res.poses[res.valid]                      # (P', 16, 3) metres, camera frame
    """

    def __init__(self, prior: PosePrior, n_rotations: int = 12, noise_px: float = 5.0,
                 depth_noise: DepthNoiseModel | None = None, n_candidates: int = 3, n_iterations: int = 2,
                 renormalize_bones: bool = False, min_joints: int = 5, adaptive_noise: float = 1.0,
                 n_search: int = 8, anatomical: BoneRefinementParams | None = DEFAULT_ANATOMICAL,
                 precise_2d: bool = False, bones_from_lift: bool = False, temporal_sigma_m: float = 0.2) -> None:
        if not hasattr(prior, "means_"):
            raise ValueError("prior is not fitted")
        prior.validate()  # zero weights, NaN, non-positive variances / bones / body size: refused here, not per frame
        if n_rotations < 1 or n_candidates < 1 or n_iterations < 0:
            raise ValueError(f"need n_rotations >= 1, n_candidates >= 1, n_iterations >= 0; got "
                             f"{n_rotations}, {n_candidates}, {n_iterations}")
        for name, value in (("noise_px", noise_px), ("temporal_sigma_m", temporal_sigma_m)):
            if not (np.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive finite number, got {value}")
        if depth_noise is not None and not isinstance(depth_noise, DepthNoiseModel):
            raise ValueError(f"depth_noise must be a DepthNoiseModel, got {depth_noise!r}")
        if anatomical is not None and depth_noise is not None:
            anatomical = replace(anatomical, depth=depth_noise)
        self.depth_noise = depth_noise or (anatomical.depth if anatomical is not None else DepthNoiseModel())
        self.prior = prior
        self.noise_px = float(noise_px)
        self.n_iterations = int(n_iterations)
        self.min_joints = int(min_joints)
        self.adaptive_noise = float(adaptive_noise)
        self.anatomical = None if anatomical is None else BoneRefiner(prior, anatomical)
        self.precise_2d = bool(precise_2d)
        self.bones_from_lift = bool(bones_from_lift)
        self.temporal_sigma_m = float(temporal_sigma_m)
        self.subspace = SubspaceFit(prior, n_rotations, n_candidates, n_search, self.n_iterations,
                                    self.temporal_sigma_m, renormalize_bones)
        self._bones = np.asarray(prior.bone_lengths_, dtype=np.float64)  # metres, the normalised space's unit
        self._joints = int(np.asarray(prior.means_).shape[1])

    # ------------------------------------------------------------------------------------------------ API
    def lift(self, pixels: np.ndarray, conf: np.ndarray, camera, joint_depth: np.ndarray | None = None,
             bone_lengths: np.ndarray | None = None, observed_3d: np.ndarray | None = None,
             previous_3d: np.ndarray | None = None) -> LiftResult:
        """Lift P people.

        Parameters
        ----------
        pixels : (P, J, 2) array_like
            Joint pixels (u, v) in the pose3d16 layout. NaN / inf entries count as missing.
        conf : (P, J) array_like
            Confidences in [0, 1] (weights of the fit); 0 = missing, filled by the prior.
        camera : PinholeCamera
            Anything with ``fx, fy, cx, cy`` (pixels).
        joint_depth : (P, J) array_like, optional
            Depth (z, metres) of each joint centre, NaN where unknown. Depths sampled from a depth image
            (:func:`pose3d_ros.core.depth.sample_joint_depth`) are the body surface: add
            :data:`pose3d_ros.core.depth.JOINT_SURFACE_DEPTH_M` first. Fixes metric scale and position.
        bone_lengths : (P, J - 1) array_like, optional
            Each person's bone lengths in metres (``core.prior.bone_lengths`` order), NaN where unknown, e.g. a
            track's running estimate: the anatomical step holds the pose to them.
        observed_3d : (P, J, 3) array_like, optional
            A CNN's own 3D of each person (root-relative, metres, camera axes; NaN where unknown), e.g. BlazePose
            world landmarks: an observation in the anatomical step (weighted by ``observed_3d_sigma_m`` of its
            params), which then runs without depth too and takes the body size from it.
        previous_3d : (P, J, 3) array_like, optional
            Each person's pose in the previous frame (root-relative, metres, camera axes; NaN = none, e.g. a new
            track): the hypothesis nearest to it is preferred (``temporal_sigma_m``).

        Returns
        -------
        LiftResult

        Raises
        ------
        ValueError
            On shapes that do not match, a camera with non-positive / non-finite focal length, or a camera with lens
            distortion (undistort the pixels first: :meth:`pose3d_ros.core.camera.PinholeCamera.undistort_pixels`).
        """
        j = self._joints
        uv = np.asarray(pixels, dtype=np.float64)
        if uv.ndim == 2:
            uv = uv[None]
        if uv.ndim != 3 or uv.shape[1:] != (j, 2):
            raise ValueError(f"pixels must be (P, {j}, 2), got shape {np.shape(pixels)}")
        w = np.asarray(conf, dtype=np.float64).reshape(uv.shape[:2]) if np.size(conf) == uv.shape[0] * j else None
        if w is None:
            raise ValueError(f"conf must be (P, {j}) to match pixels {uv.shape}, got shape {np.shape(conf)}")
        fx, fy, cx, cy = (float(getattr(camera, name)) for name in ("fx", "fy", "cx", "cy"))
        if not (np.isfinite([fx, fy, cx, cy]).all() and fx > 0 and fy > 0):
            raise ValueError(f"camera needs finite fx, fy > 0 and finite cx, cy; got {fx}, {fy}, {cx}, {cy}")
        if getattr(camera, "distortion", None) is not None:
            raise ValueError("the lift is pinhole geometry: pass camera.undistort_pixels(pixels) with "
                             "camera.without_distortion(), not a camera with lens distortion")
        depth = None
        if joint_depth is not None:
            depth = np.asarray(joint_depth, dtype=np.float64)
            if depth.shape != uv.shape[:2]:
                raise ValueError(f"joint_depth must be {uv.shape[:2]}, got shape {depth.shape}")
            depth = np.where(np.isfinite(depth) & (depth > 0), depth, np.nan)
        if bone_lengths is not None:
            bone_lengths = np.asarray(bone_lengths, dtype=np.float64)
            if bone_lengths.shape != (uv.shape[0], j - 1):
                raise ValueError(f"bone_lengths must be ({uv.shape[0]}, {j - 1}), got shape {bone_lengths.shape}")
            bone_lengths = np.where(np.isfinite(bone_lengths) & (bone_lengths > 0), bone_lengths, np.nan)
        obs = None
        if observed_3d is not None:
            obs = np.asarray(observed_3d, dtype=np.float64)
            if obs.shape != uv.shape:
                obs = obs.reshape(-1, j, 3) if obs.size == uv.shape[0] * j * 3 else None
                if obs is None:
                    raise ValueError(f"observed_3d must be ({uv.shape[0]}, {j}, 3), got {np.shape(observed_3d)}")
            obs = np.where(np.isfinite(obs).all(-1, keepdims=True), obs, np.nan)
        prev = None
        if previous_3d is not None:
            prev = np.asarray(previous_3d, dtype=np.float64)
            if prev.shape != uv.shape[:2] + (3,):
                raise ValueError(f"previous_3d must be ({uv.shape[0]}, {j}, 3), got {prev.shape}")

        num = uv.shape[0]
        ok = np.isfinite(uv).all(-1) & np.isfinite(w) & (w > 0)
        w = np.where(ok, np.clip(w, 0.0, 1.0), 0.0)
        xn = np.where(ok[..., None], (uv - [cx, cy]) / [fx, fy], 0.0)
        valid = ok.sum(1) >= self.min_joints

        poses = np.full((num, j, 3), np.nan)
        comp = np.full(num, -1)
        resid = np.full(num, np.nan)
        rot = np.full(num, np.nan)
        scale = np.full(num, np.nan)
        if valid.any():
            idx = np.flatnonzero(valid)
            sigma = self.noise_px / (0.5 * (fx + fy))  # 2D noise in normalised image coordinates
            cand_k, cand_r, cand_z, rms = self.subspace.search(xn[idx], w[idx], sigma)
            # empirical Bayes: noisier 2D than assumed (bad detections) gets a proportionally stronger prior
            sig = np.maximum(sigma, self.adaptive_noise * rms) if self.adaptive_noise > 0 else np.full(len(idx), sigma)
            d_in = None if depth is None else depth[idx]
            refine = self.subspace.refine if d_in is None else self.subspace.refine_with_depth
            out = refine(xn[idx], w[idx], d_in, sig, cand_k, cand_r, cand_z, None if prev is None else prev[idx])
            poses[idx], comp[idx], rot[idx], scale[idx] = out
            if self.anatomical is not None:
                # with depth: people with 3 measured joints at least; else with a 3D observation; else everyone when
                # the 2D is precise
                has_depth = np.zeros(len(idx), bool) if d_in is None else (np.isfinite(d_in) & (w[idx] > 0)).sum(1) >= 3
                o_in = None if obs is None else obs[idx]
                seen3d = np.zeros(len(idx), bool) if o_in is None else np.isfinite(o_in).all(-1).sum(1) >= 3
                for use, with_depth in ((has_depth, True), (~has_depth & seen3d, False),
                                        (~has_depth & ~seen3d & self.precise_2d, False)):
                    if use.any():
                        sub = idx[use]
                        bones = None if bone_lengths is None else bone_lengths[sub]
                        poses[sub] = self._anatomical(poses[sub], comp[sub], rot[sub], scale[sub], xn[sub], w[sub],
                                                      sig[use], d_in[use] if with_depth else None, bones,
                                                      None if o_in is None else o_in[use])
            proj = poses[idx, :, :2] / np.maximum(poses[idx, :, 2:], MIN_DEPTH_M)
            err2 = (((proj - xn[idx]) * [fx, fy]) ** 2).sum(-1)
            resid[idx] = np.sqrt((w[idx] * err2).sum(1) / w[idx].sum(1))
            bad = ~np.isfinite(poses[idx]).all((1, 2))
            valid[idx[bad]] = False
            poses[idx[bad]] = np.nan
        measured = np.zeros((num, j), dtype=bool)
        if depth is not None:  # one meaning everywhere: the final joint agrees with its reading
            measured = self.depth_noise.inliers(poses[..., 2], np.where(w > 0, depth, np.nan)) & valid[:, None]
        return LiftResult(poses=poses, component=comp, residual=resid, valid=valid, rotation=rot, scale=scale,
                          measured=measured)

    def _anatomical(self, poses: np.ndarray, comp: np.ndarray, rot: np.ndarray, scale: np.ndarray, xn: np.ndarray,
                    w: np.ndarray, sigma: np.ndarray, depth: np.ndarray | None,
                    bones_m: np.ndarray | None = None, observed: np.ndarray | None = None) -> np.ndarray:
        """Bone-length + full-covariance refinement; without depth (precise 2D) also the limb mirror-image choice.

        Target bones (normalised unit): given ones (metres / body-size factor), else the subspace lift's own when
        ``bones_from_lift``, else the prior's mean; a bone without an estimate falls back to the next source."""
        refiner = self.anatomical
        target = np.broadcast_to(self._bones, (len(poses), len(self._bones))).copy()
        if self.bones_from_lift:
            target = bone_lengths(poses) / scale[:, None]
        own = None
        if bones_m is not None:
            own = np.isfinite(bones_m)
            target = np.where(own, bones_m / scale[:, None], target)
        # the refinement refuses non-positive bones; a degenerate person (scale 0 or NaN) keeps the prior's mean
        target = np.where(np.isfinite(target) & (target > 0), target, self._bones)
        if observed is not None and not np.isfinite(observed).any():
            observed = None
        out = refiner.refine(poses, comp, rot, scale, xn, w, sigma, depth, target, observed, own)
        if depth is None and observed is None:  # precise 2D: the limbs' depth signs from the priors
            out = refiner.refine(refiner.resolve_flips(out, xn, w), comp, rot, scale, xn, w, sigma, None, target)
        return out
