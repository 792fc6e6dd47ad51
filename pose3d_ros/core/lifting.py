"""2D -> 3D lifting with the probabilistic pose prior (Tome et al., "Lifting from the Deep", CVPR 2017), vectorised.

For every person, mixture component ``k`` and rotation ``theta_r`` about the vertical axis (a grid of R angles), the
weak-perspective model ``x_j = s P R_r (mu_kj + E_kj a) + d`` is linear in ``(s, c = s a, d)``, so the basis
coefficients, scale and 2D translation come from one weighted linear least-squares solve (2D confidences as weights,
a Tikhonov term ``sigma_2d^2 |a|^2_{Lambda^-1}`` from the PPCA variances as the prior). All (people x components x
rotations) normal matrices come from two matrix products: the per-joint outer products of the design matrix are
precomputed once. The search has two stages: a closed-form scale + translation fit of every projected component
mean (a few GEMMs over all K x R hypotheses), then the full regularised solve for the ``n_search`` best per person.
Candidates are scored by residual + prior (Mahalanobis + log-det - 2 log weight). The best few are refined with the
real pinhole camera, by default with linear solves only: interval halving of the rotation and the POSIT-style
perspective correction ``x_j (1 + Z_j / t_z) = s X_j + d`` (exact perspective at convergence); optionally by
Gauss-Newton over coefficients, rotation, 3D translation and a body-size factor with per-joint depth residuals.
Output: metric camera-frame joints (REP-103 optical frame); without depth the metric scale is the prior's mean body
size, with joint depths the body-size factor (and distance) comes from the depths. With joint depths (or with
``precise_2d``) the subspace pose then only initialises the anatomical step (:mod:`pose3d_ros.core.bone_refinement`):
every joint free in 3D, held by the 2D, the bone lengths, the full prior covariance and the depths, which takes the
error on held-out clips with simulated Kinect depth from 38 to 26 mm (``bench/bench_lifting.py``).

References
----------
D. Tome, C. Russell and L. Agapito, "Lifting from the Deep: Convolutional 3D Pose Estimation from a Single Image",
CVPR 2017 (release code: packages/lifting/utils/prob_model.py; maths only).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pose3d_ros.core.bone_refinement import BoneRefinementParams, BoneRefiner, geman_mcclure
from pose3d_ros.core.prior import PosePrior, pose3d16_parents, rotate_y
from pose3d_ros.core.prior import bone_lengths as prior_bone_lengths

#: the anatomical refinement's settings unless told otherwise (frozen dataclass: shared safely)
DEFAULT_ANATOMICAL = BoneRefinementParams()
_MIN_DEPTH_M = 0.1  # points closer than this to the camera plane are clamped (keeps the projection finite)
_DEPTH_ROBUST_SCALE = 3.0  # Geman-McClure scale of the depth residuals, in units of depth_noise_m (validation clips)


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
    """

    poses: np.ndarray
    component: np.ndarray
    residual: np.ndarray
    valid: np.ndarray
    rotation: np.ndarray
    scale: np.ndarray


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
    depth_noise_m : float
        Assumed per-joint depth noise (metres) when joint depths are given.
    size_sigma : float
        Standard deviation of log body size around the prior's mean body (a weak prior; depth can override it).
    n_candidates : int
        Best (component, rotation) hypotheses refined with the perspective camera; the best after refinement wins.
    n_iterations : int, optional
        Refinement steps; default 2 (linear: rotation halvings + perspective corrections) or 6 (Gauss-Newton).
    renormalize_bones : bool
        Rebuild the output from the pelvis outwards with the prior's mean bone lengths (times the body-size factor).
    min_joints : int
        Fewest joints with confidence > 0 needed to lift a person.
    refine : {"auto", "linear", "gauss-newton"}
        Perspective refinement: ``"linear"`` (rotation interval halving + POSIT-style perspective correction, all
        closed-form solves) or ``"gauss-newton"`` over coefficients, rotation, translation and body size (with
        per-joint depth residuals when depths are given). ``"auto"``: Gauss-Newton when joint depths are given
        (depth constrains the shape, which the linear path cannot use), linear otherwise.
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

    def __init__(self, prior: PosePrior, n_rotations: int = 12, noise_px: float = 5.0, depth_noise_m: float = 0.03,
                 size_sigma: float = 0.08, n_candidates: int = 3, n_iterations: int | None = None,
                 renormalize_bones: bool = False, min_joints: int = 5, adaptive_noise: float = 1.0,
                 n_search: int = 8, refine: str = "auto",
                 anatomical: BoneRefinementParams | None = DEFAULT_ANATOMICAL, precise_2d: bool = False,
                 bones_from_lift: bool = False, temporal_sigma_m: float = 0.2) -> None:
        if not hasattr(prior, "means_"):
            raise ValueError("prior is not fitted")
        prior.validate()  # zero weights, NaN, non-positive variances / bones / body size: refused here, not per frame
        self._iters_linear, self._iters_gn = (2, 6) if n_iterations is None else (int(n_iterations),) * 2
        if n_rotations < 1 or n_candidates < 1 or min(self._iters_linear, self._iters_gn) < 0:
            raise ValueError(f"need n_rotations >= 1, n_candidates >= 1, n_iterations >= 0; got "
                             f"{n_rotations}, {n_candidates}, {n_iterations}")
        for name, value in (("noise_px", noise_px), ("depth_noise_m", depth_noise_m), ("size_sigma", size_sigma)):
            if not (np.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive finite number, got {value}")
        self.prior = prior
        self.n_rotations = int(n_rotations)
        self.noise_px = float(noise_px)
        self.depth_noise_m = float(depth_noise_m)
        self.size_sigma = float(size_sigma)
        self.n_candidates = int(min(n_candidates, n_rotations * len(prior.weights_)))
        self.n_iterations = n_iterations
        self.renormalize_bones = bool(renormalize_bones)
        self.min_joints = int(min_joints)
        self.adaptive_noise = float(adaptive_noise)
        self.n_search = max(int(n_search), self.n_candidates)
        if refine not in ("auto", "linear", "gauss-newton"):
            raise ValueError(f"refine must be 'auto', 'linear' or 'gauss-newton', got {refine!r}")
        self.refine = refine
        self.anatomical = None if anatomical is None else BoneRefiner(prior, anatomical)
        self.precise_2d = bool(precise_2d)
        self.bones_from_lift = bool(bones_from_lift)
        if not (np.isfinite(temporal_sigma_m) and temporal_sigma_m > 0):
            raise ValueError(f"temporal_sigma_m must be a positive finite number, got {temporal_sigma_m}")
        self.temporal_sigma_m = float(temporal_sigma_m)
        self._precompute()

    # ------------------------------------------------------------------------------------------------ set-up
    def _precompute(self) -> None:
        p = self.prior
        k, b = p.variances_.shape
        j = p.means_.shape[1]
        self._mu = np.asarray(p.means_, dtype=np.float64)  # (K, J, 3)
        self._basis = np.asarray(p.components_, dtype=np.float64).reshape(k, b, j, 3)  # (K, B, J, 3)
        self._var = np.asarray(p.variances_, dtype=np.float64)  # (K, B)
        self._theta = np.arange(self.n_rotations) * (2.0 * np.pi / self.n_rotations)
        c, s = np.cos(self._theta), np.sin(self._theta)
        # projected rotated mean / basis: x' = c X + s Z, y' = Y  -> design matrix A (K, R, J, 2, n), n = 1 + B + 2
        n = b + 3
        a = np.zeros((k, self.n_rotations, j, 2, n))
        a[..., 0, 0] = c[None, :, None] * self._mu[:, None, :, 0] + s[None, :, None] * self._mu[:, None, :, 2]
        a[..., 1, 0] = self._mu[:, None, :, 1]
        bx = (c[None, :, None, None] * self._basis[:, None, :, :, 0]
              + s[None, :, None, None] * self._basis[:, None, :, :, 2])  # (K, R, B, J)
        a[..., 0, 1 : 1 + b] = np.moveaxis(bx, 2, 3)
        a[..., 1, 1 : 1 + b] = np.moveaxis(self._basis[:, None, :, :, 1], 2, 3)
        a[..., 0, n - 2] = 1.0
        a[..., 1, n - 1] = 1.0
        self._n = n
        # per-component design matrix split by rotation dependence (rows x_0..x_J-1, y_0..y_J-1):
        # A(theta) = A_fixed + cos(theta) A_x + sin(theta) A_z
        self._a_fixed = np.zeros((k, 2 * j, n))
        self._a_x = np.zeros((k, 2 * j, n))
        self._a_z = np.zeros((k, 2 * j, n))
        self._a_fixed[:, j:, 0] = self._mu[..., 1]
        self._a_fixed[:, j:, 1 : 1 + b] = np.swapaxes(self._basis[..., 1], 1, 2)
        self._a_fixed[:, :j, n - 2] = 1.0
        self._a_fixed[:, j:, n - 1] = 1.0
        self._a_x[:, :j, 0] = self._mu[..., 0]
        self._a_x[:, :j, 1 : 1 + b] = np.swapaxes(self._basis[..., 0], 1, 2)
        self._a_z[:, :j, 0] = self._mu[..., 2]
        self._a_z[:, :j, 1 : 1 + b] = np.swapaxes(self._basis[..., 2], 1, 2)
        kr = k * self.n_rotations
        # stage-1 tables: projected means per joint (J, KR*2), per joint-coordinate (J*2, KR), squared norms (J, KR)
        mean_proj = a[..., 0].reshape(kr, j, 2)
        self._mean_proj_j = np.ascontiguousarray(mean_proj.transpose(1, 0, 2).reshape(j, kr * 2))
        self._mean_proj_jc = np.ascontiguousarray(mean_proj.transpose(1, 2, 0).reshape(j * 2, kr))
        self._mean_proj_sq = np.ascontiguousarray((mean_proj**2).sum(-1).T)
        self._logweight_kr = np.repeat(2.0 * np.log(np.maximum(p.weights_, 1e-300)), self.n_rotations)
        # stage-2 tables: per-joint normal-matrix contributions O_j = sum_xy A^T A (J, KR, n, n) and the rows of A
        # per joint coordinate (J*2, KR, n), gathered for the selected hypotheses
        self._outer = np.ascontiguousarray(np.einsum("krjci,krjcl->jkril", a, a).reshape(j, kr, n, n))
        self._rows = np.ascontiguousarray(np.moveaxis(a, (2, 3), (0, 1)).reshape(j * 2, kr, n))
        self._logdet = np.log(self._var).sum(1) - 2.0 * np.log(np.maximum(p.weights_, 1e-300))  # (K,)
        self._parents = pose3d16_parents()
        self._bones = np.asarray(p.bone_lengths_, dtype=np.float64)  # metres, the normalised space's unit

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
        j = self._mu.shape[1]
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
            cand_k, cand_r, cand_z, rms = self._search(xn[idx], w[idx], sigma)
            # empirical Bayes: noisier 2D than assumed (bad detections) gets a proportionally stronger prior
            sig = np.maximum(sigma, self.adaptive_noise * rms) if self.adaptive_noise > 0 else np.full(len(idx), sigma)
            d_in = None if depth is None else depth[idx]
            use_linear = self.refine == "linear" or (self.refine == "auto" and depth is None)
            refine = self._refine_linear if use_linear else self._refine
            out = refine(xn[idx], w[idx], d_in, sig, cand_k, cand_r, cand_z, None if prev is None else prev[idx])
            poses[idx], comp[idx], rot[idx], scale[idx] = out
            if self.anatomical is not None:
                # with depth: people with 3 measured joints at least; else with a 3D observation; else everyone when
                # the 2D is precise
                measured = np.zeros(len(idx), bool) if d_in is None else (np.isfinite(d_in) & (w[idx] > 0)).sum(1) >= 3
                o_in = None if obs is None else obs[idx]
                seen3d = np.zeros(len(idx), bool) if o_in is None else np.isfinite(o_in).all(-1).sum(1) >= 3
                for use, with_depth in ((measured, True), (~measured & seen3d, False),
                                        (~measured & ~seen3d & self.precise_2d, False)):
                    if use.any():
                        sub = idx[use]
                        bones = None if bone_lengths is None else bone_lengths[sub]
                        poses[sub] = self._anatomical(poses[sub], comp[sub], rot[sub], scale[sub], xn[sub], w[sub],
                                                      sig[use], d_in[use] if with_depth else None, bones,
                                                      None if o_in is None else o_in[use])
            proj = poses[idx, :, :2] / np.maximum(poses[idx, :, 2:], _MIN_DEPTH_M)
            err2 = (((proj - xn[idx]) * [fx, fy]) ** 2).sum(-1)
            resid[idx] = np.sqrt((w[idx] * err2).sum(1) / w[idx].sum(1))
            bad = ~np.isfinite(poses[idx]).all((1, 2))
            valid[idx[bad]] = False
            poses[idx[bad]] = np.nan
        return LiftResult(poses=poses, component=comp, residual=resid, valid=valid, rotation=rot, scale=scale)

    def _anatomical(self, poses: np.ndarray, comp: np.ndarray, rot: np.ndarray, scale: np.ndarray, xn: np.ndarray,
                    w: np.ndarray, sigma: np.ndarray, depth: np.ndarray | None,
                    bones_m: np.ndarray | None = None, observed: np.ndarray | None = None) -> np.ndarray:
        """Bone-length + full-covariance refinement; without depth (precise 2D) also the limb mirror-image choice.

        Target bones (normalised unit): given ones (metres / body-size factor), else the subspace lift's own when
        ``bones_from_lift``, else the prior's mean; a bone without an estimate falls back to the next source."""
        refiner = self.anatomical
        target = np.broadcast_to(self._bones, (len(poses), len(self._bones))).copy()
        if self.bones_from_lift:
            target = prior_bone_lengths(poses) / scale[:, None]
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

    # ------------------------------------------------------------------------------------------------ search
    def _search(self, xn: np.ndarray, w: np.ndarray, sigma: float
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Weak-perspective hypotheses for all (person, component, rotation); the best ``n_candidates``.

        Stage 1 fits only the scale and 2D translation of every projected component mean (closed form, a handful of
        GEMMs); stage 2 solves the full Tikhonov-regularised least squares (scale, coefficients, translation) for the
        ``n_search`` best stage-1 hypotheses of each person.

        Returns component (P, M), rotation index (P, M), solution z = (s, c_1..c_B, dx, dy) (P, M, n) and the RMS
        2D residual of the best fit (P,), normalised image units.
        """
        p, r, n = len(xn), self.n_rotations, self._n
        b = n - 3
        # ---- stage 1: x ~ s m + d for every projected mean m, weighted, closed form
        wsum = np.maximum(w.sum(1), 1e-12)  # (P,)
        wx = w[..., None] * xn  # (P, J, 2)
        xbar = wx.sum(1) / wsum[:, None]
        mbar = (w @ self._mean_proj_j).reshape(p, -1, 2) / wsum[:, None, None]  # (P, KR, 2)
        smx = wx.reshape(p, -1) @ self._mean_proj_jc  # (P, KR)
        smm = w @ self._mean_proj_sq  # (P, KR)
        cov = smx - wsum[:, None] * (mbar * xbar[:, None]).sum(-1)
        var_m = np.maximum(smm - wsum[:, None] * (mbar**2).sum(-1), 1e-12)
        var_x = (w * (xn**2).sum(-1)).sum(1) - wsum * (xbar**2).sum(-1)
        s1 = cov / var_m
        cost1 = (var_x[:, None] - cov**2 / var_m) / sigma**2 - self._logweight_kr[None]
        cost1 = np.where(s1 > 1e-6, cost1, np.inf)
        m1 = min(self.n_search, cost1.shape[1])
        sel = np.argpartition(cost1, m1 - 1, axis=1)[:, :m1] if m1 < cost1.shape[1] else np.tile(
            np.arange(cost1.shape[1]), (p, 1))
        rows = np.arange(p)[:, None]
        s0 = s1[rows, sel]  # (P, M1) scale estimate for the prior term
        # ---- stage 2: full solve for the selected hypotheses
        normal = np.einsum("pj,jpmab->pmab", w, self._outer[:, sel])  # (P, M1, n, n)
        rhs = np.einsum("pc,cpma->pma", wx.reshape(p, -1), self._rows[:, sel])  # (P, M1, n)
        comp = sel // r
        # Tikhonov on c = s a: sigma^2 |a|^2 / lambda = sigma^2 / (s0^2 lambda) |c|^2
        reg = sigma**2 / (np.maximum(s0, 1e-6)[..., None] ** 2 * self._var[comp])  # (P, M1, B)
        diag = np.arange(1, 1 + b)
        normal[..., diag, diag] += reg
        z = np.linalg.solve(normal + 1e-12 * np.eye(n), rhs[..., None])[..., 0]
        data = (w * (xn**2).sum(-1)).sum(1)[:, None] - (z * rhs).sum(-1)
        cost = data / sigma**2 + self._logdet[comp]
        cost = np.where(np.isfinite(s0) & (z[..., 0] > 0), cost, np.inf)
        m = min(self.n_candidates, m1)
        best = np.argpartition(cost, m - 1, axis=1)[:, :m] if m < m1 else np.tile(np.arange(m1), (p, 1))
        first = cost.argmin(1)
        rms = np.sqrt(np.maximum(data[np.arange(p), first], 0.0) / (2.0 * wsum))
        chosen = sel[rows, best]
        return chosen // r, chosen % r, z[rows, best], rms

    # ------------------------------------------------------------------------------------------------ refine
    def _linear_fit(self, xt: np.ndarray, w: np.ndarray, k: np.ndarray, theta: np.ndarray, s0: np.ndarray,
                    sigma: np.ndarray, parts: tuple | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Regularised weak-perspective solve for given components / continuous rotations.

        xt (H, J, 2) targets, w (H, J), k (H,), theta (H,), s0 (H,) scale for the prior term, sigma (H,).
        Returns z (H, n) = (s, c_1..c_B, dx, dy) and the cost (H,) = residual / sigma^2 + |a|^2_Lambda + log det.
        """
        n = self._n
        c, s = np.cos(theta)[:, None, None], np.sin(theta)[:, None, None]
        a_fixed, a_x, a_z, var_k, logdet_k = parts or (self._a_fixed[k], self._a_x[k], self._a_z[k], self._var[k],
                                                        self._logdet[k])
        a = a_fixed + c * a_x + s * a_z  # (H, 2J, n): x' = c X + s Z, y' = Y
        b = n - 3
        ww = np.concatenate([w, w], 1)  # (H, 2J), rows ordered x_0..x_J-1, y_0..y_J-1
        target = np.concatenate([xt[..., 0], xt[..., 1]], 1)
        aw = a * ww[..., None]
        normal = np.swapaxes(aw, 1, 2) @ a
        rhs = (np.swapaxes(aw, 1, 2) @ target[..., None])[..., 0]
        reg = sigma[:, None] ** 2 / (np.maximum(s0, 1e-6)[:, None] ** 2 * var_k)
        diag = np.arange(1, 1 + b)
        normal[:, diag, diag] += reg
        normal[:, np.arange(n), np.arange(n)] += 1e-12
        z = np.linalg.solve(normal, rhs[..., None])[..., 0]
        data = (ww * target**2).sum(1) - (z * rhs).sum(1)
        cost = data / sigma**2 + logdet_k
        return z, np.where(z[:, 0] > 1e-6, cost, np.inf)

    def _refine_linear(self, xn: np.ndarray, w: np.ndarray, depth: np.ndarray | None, sigma: np.ndarray,
                       cand_k: np.ndarray, cand_r: np.ndarray, cand_z: np.ndarray, previous: np.ndarray | None = None
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Rotation refinement by interval halving + perspective correction (POSIT-style), all linear solves.

        Perspective ``x_j = (X_j + t_x) / (Z_j + t_z)`` is exactly ``x_j (1 + Z_j / t_z) = s X_j + d`` with
        ``s = 1 / t_z``: the weak-perspective system with targets scaled by ``1 + eps_j`` from the previous estimate.
        """
        p, m = cand_k.shape
        j, b = self._mu.shape[1], self._var.shape[1]
        k = cand_k.reshape(-1)
        rep = np.repeat(np.arange(p), m)
        w_, x_, sig = w[rep], xn[rep], np.repeat(sigma, m)
        theta = self._theta[cand_r.reshape(-1)]
        z = cand_z.reshape(p * m, -1)
        eps = np.zeros((p * m, j))
        delta = np.pi / self.n_rotations  # half the grid step
        steps = max(self._iters_linear, 1)
        w3, k3, sig3 = np.concatenate([w_, w_, w_]), np.concatenate([k, k, k]), np.concatenate([sig, sig, sig])
        parts = (self._a_fixed[k3], self._a_x[k3], self._a_z[k3], self._var[k3], self._logdet[k3])
        basis_k = self._basis[k].reshape(len(k), b, -1)
        for _ in range(steps):
            # perspective factors from the current estimate
            s = np.maximum(z[:, 0], 1e-6)
            y = self._subspace_poses(z, k, basis_k)
            eps = s[:, None] * (-np.sin(theta)[:, None] * y[..., 0] + np.cos(theta)[:, None] * y[..., 2])
            xt = x_ * (1.0 + np.clip(eps, -0.5, 0.5))[..., None]
            # three rotations (theta - delta, theta, theta + delta) in one batch
            th3 = np.concatenate([theta - delta, theta, theta + delta])
            z3, cost3 = self._linear_fit(np.concatenate([xt, xt, xt]), w3, k3, th3, np.concatenate([s, s, s]), sig3,
                                         parts)
            pick = cost3.reshape(3, -1).argmin(0)
            h = np.arange(len(k))
            theta = th3.reshape(3, -1)[pick, h]
            z = z3.reshape(3, len(k), -1)[pick, h]
            cost = cost3.reshape(3, -1)[pick, h]
            delta *= 0.5
        cost = np.where(np.isfinite(cost), cost, np.inf).reshape(p, m)
        if previous is not None:
            cost = cost + self._temporal_cost(z, theta, k, basis_k, previous).reshape(p, m)
        best = cost.argmin(1)
        sel = np.arange(p) * m + best
        z, theta, ksel = z[sel], theta[sel], k[sel]
        s = np.maximum(z[:, 0], 1e-6)
        y = self._mu[ksel] + np.einsum("hb,hbjc->hjc", z[:, 1 : 1 + b] / s[:, None], self._basis[ksel])
        rotated = rotate_y(y, theta)
        size = np.ones(p)
        tz = 1.0 / s
        if depth is not None:
            # measured z_j = g (Z_j + 1 / s): the body-size factor g (and with it the distance) from the depths
            ok = np.isfinite(depth) & (w > 0)
            denom = rotated[..., 2] + tz[:, None]
            ratio = np.where(ok, depth / np.maximum(denom, 1e-6), np.nan)
            has = ok.sum(1) >= 3
            if has.any():
                size[has] = np.clip(np.nanmedian(ratio[has], axis=1), 0.5, 1.5)
            tz = size * tz
        t = np.stack([z[:, -2] * tz, z[:, -1] * tz, tz], -1)
        points = size[:, None, None] * rotated + t[:, None]
        if self.renormalize_bones:
            points = self._renormalize(points, size)
        return points, ksel, np.mod(theta, 2 * np.pi), size

    def _subspace_poses(self, z: np.ndarray, k: np.ndarray, basis_k: np.ndarray) -> np.ndarray:
        """Normalised poses (H, J, 3) of hypotheses ``z = (s, s a, d)`` of components ``k`` (``basis_k`` (H, B, 3J))."""
        b, j = self._var.shape[1], self._mu.shape[1]
        s = np.maximum(z[:, 0], 1e-6)
        return self._mu[k] + ((z[:, None, 1 : 1 + b] / s[:, None, None]) @ basis_k).reshape(len(k), j, 3)

    def _temporal_cost(self, z: np.ndarray, theta: np.ndarray, k: np.ndarray, basis_k: np.ndarray,
                       previous: np.ndarray) -> np.ndarray:
        """Squared distance (sigma units) of every hypothesis' root-relative pose to its person's previous pose."""
        m = len(k) // len(previous)
        y = self._subspace_poses(z, k, basis_k)
        prev = np.repeat(previous - previous[:, :1], m, axis=0)
        d2 = ((rotate_y(y, theta) - prev) ** 2).sum(-1) / self.temporal_sigma_m**2
        return np.nansum(d2, 1)  # a previous pose with NaN joints compares on the others; all NaN adds 0

    def _refine(self, xn: np.ndarray, w: np.ndarray, depth: np.ndarray | None, sigma: np.ndarray,
                cand_k: np.ndarray, cand_r: np.ndarray, cand_z: np.ndarray, previous: np.ndarray | None = None
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Perspective Gauss-Newton from each candidate; returns poses (P, J, 3), component, rotation, scale.
        (``previous`` is not used: with depth the measurements choose the side.)

        Parameters are (basis coefficients (B), rotation about y, translation (3), log body size). Steps are
        clamped (a trust region without extra evaluations) and the lowest-cost iterate of each candidate is kept.
        """
        p, m = cand_k.shape
        j, b = self._mu.shape[1], self._var.shape[1]
        kk = cand_k.reshape(-1)
        q = p * m
        rep = np.repeat(np.arange(p), m)
        xu, xv = xn[rep, :, 0], xn[rep, :, 1]
        sw = np.sqrt(w[rep]) / np.repeat(sigma, m)[:, None]  # (Q, J) residual weights
        mu = self._mu[kk]  # (Q, J, 3)
        basis = self._basis[kk]  # (Q, B, J, 3)
        basis_flat = basis.reshape(q, b, j * 3)
        inv_var = 1.0 / self._var[kk]  # (Q, B)
        z = cand_z.reshape(q, -1)
        s0 = np.maximum(z[:, 0], 1e-6)
        coef = z[:, 1 : 1 + b] / s0[:, None]
        theta = self._theta[cand_r.reshape(-1)]
        tz = 1.0 / s0
        t = np.stack([z[:, -2] * tz, z[:, -1] * tz, tz], -1)
        logsize = np.zeros(q)
        dw = None
        if depth is not None:
            d_ = depth[rep]
            dw = (np.isfinite(d_) & (w[rep] > 0)).astype(np.float64) / self.depth_noise_m
            d_ = np.nan_to_num(d_)
            # depth fixes the distance: move the weak-perspective estimate onto the measured joint depths
            y0 = mu + (coef[:, None, :] @ basis_flat).reshape(q, j, 3)
            z_model = -np.sin(theta)[:, None] * y0[..., 0] + np.cos(theta)[:, None] * y0[..., 2]
            for i in np.flatnonzero(dw.any(1)):
                shift = float(np.median((d_[i] - z_model[i])[dw[i] > 0]))
                t[i] *= shift / t[i, 2]
        inv_size_var = 1.0 / self.size_sigma**2
        best_cost = np.full(q, np.inf)
        best = np.zeros((q, b + 5))
        eye = np.eye(b + 5)
        step_limit = np.concatenate([2.0 * np.sqrt(self._var[kk]), np.full((q, 1), 0.3), np.zeros((q, 3)),
                                     np.full((q, 1), 0.1)], 1)
        for it in range(self._iters_gn + 1):
            c, s_ = np.cos(theta)[:, None], np.sin(theta)[:, None]
            g = np.exp(logsize)[:, None]
            y = mu + (coef[:, None, :] @ basis_flat).reshape(q, j, 3)
            yx, yy, yz = y[..., 0], y[..., 1], y[..., 2]
            xx, xz = c * yx + s_ * yz, -s_ * yx + c * yz
            pz = g * xz + t[:, 2:3]
            zc = np.maximum(pz, _MIN_DEPTH_M)
            iz = 1.0 / zc
            u = (g * xx + t[:, 0:1]) * iz
            v = (g * yy + t[:, 1:2]) * iz
            r_u, r_v = (u - xu) * sw, (v - xv) * sw
            cost = (r_u**2).sum(1) + (r_v**2).sum(1) + (coef**2 * inv_var).sum(1) + logsize**2 * inv_size_var
            if dw is not None:
                # robust depth residuals (IRLS, bounded loss): a joint hidden behind another body part samples the
                # occluder's depth, which must not drag the pose along
                r_raw = (pz - d_) * dw
                loss, rw = geman_mcclure(r_raw, _DEPTH_ROBUST_SCALE)
                r_d = r_raw * rw
                cost += loss.sum(1)
            better = cost < best_cost
            best_cost = np.where(better, cost, best_cost)
            best[better] = np.concatenate([coef, theta[:, None], t, logsize[:, None]], 1)[better]
            if it == self._iters_gn:
                break
            # Jacobians of (P_x, P_y, P_z) w.r.t. coefficients: g R basis; rotation; log size. Translation is identity.
            bx, by, bz = basis[..., 0], basis[..., 1], basis[..., 2]  # (Q, B, J)
            gb = g[:, :, None]
            dpx_c = gb * (c[:, :, None] * bx + s_[:, :, None] * bz)
            dpy_c = gb * by
            dpz_c = gb * (-s_[:, :, None] * bx + c[:, :, None] * bz)
            dpx = np.concatenate([dpx_c, (g * xz)[:, None], (g * xx)[:, None]], 1)  # (Q, B + 2, J)
            dpy = np.concatenate([dpy_c, np.zeros((q, 1, j)), (g * yy)[:, None]], 1)
            dpz = np.concatenate([dpz_c, (-g * xx)[:, None], (g * xz)[:, None]], 1)
            ju = (dpx - u[:, None] * dpz) * (iz * sw)[:, None]  # (Q, B + 2, J)
            jv = (dpy - v[:, None] * dpz) * (iz * sw)[:, None]
            ones = (iz * sw)[:, None]
            zero = np.zeros_like(ones)
            # parameter order: coef (B), theta, tx, ty, tz, logsize
            ju = np.concatenate([ju[:, : b + 1], ones, zero, -u[:, None] * ones, ju[:, b + 1 :]], 1)
            jv = np.concatenate([jv[:, : b + 1], zero, ones, -v[:, None] * ones, jv[:, b + 1 :]], 1)
            jtj = ju @ ju.transpose(0, 2, 1) + jv @ jv.transpose(0, 2, 1)
            grad = (ju @ r_u[..., None] + jv @ r_v[..., None])[..., 0]
            if dw is not None:
                jd = np.concatenate([dpz_c, (-g * xx)[:, None], zero, zero,
                                     np.ones_like(ones), (g * xz)[:, None]], 1) * (dw * rw)[:, None]
                jtj += jd @ jd.transpose(0, 2, 1)
                grad += (jd @ r_d[..., None])[..., 0]
            diag = np.arange(b)
            jtj[:, diag, diag] += inv_var
            grad[:, :b] += coef * inv_var
            jtj[:, b + 4, b + 4] += inv_size_var
            grad[:, b + 4] += logsize * inv_size_var
            jtj += (1e-3 * jtj[:, np.arange(b + 5), np.arange(b + 5)] + 1e-9)[:, :, None] * eye  # Levenberg damping
            step = np.linalg.solve(jtj, -grad[..., None])[..., 0]
            step_limit[:, b + 1 : b + 4] = 0.3 * t[:, 2:3]
            step = np.clip(step, -step_limit, step_limit)
            coef = coef + step[:, :b]
            theta = theta + step[:, b]
            t = t + step[:, b + 1 : b + 4]
            t[:, 2] = np.maximum(t[:, 2], 2 * _MIN_DEPTH_M)
            logsize = logsize + step[:, b + 4]
        total = best_cost + np.log(self._var[kk]).sum(1) - 2 * np.log(np.maximum(self.prior.weights_[kk], 1e-300))
        pick = np.where(np.isfinite(total), total, np.inf).reshape(p, m).argmin(1)
        sel = np.arange(p) * m + pick
        par = best[sel]
        y = self._mu[kk[sel]] + (par[:, None, :b] @ basis_flat[sel]).reshape(p, j, 3)
        size = np.exp(par[:, b + 4])
        points = size[:, None, None] * rotate_y(y, par[:, b]) + par[:, None, b + 1 : b + 4]
        if self.renormalize_bones:
            points = self._renormalize(points, size)
        return points, kk[sel], np.mod(par[:, b], 2 * np.pi), size

    def _renormalize(self, points: np.ndarray, size: np.ndarray) -> np.ndarray:
        """Rebuild each skeleton from the pelvis with the prior's mean bone lengths times the body-size factor."""
        out = points.copy()
        for jj in range(1, points.shape[1]):
            par = self._parents[jj]
            v = points[:, jj] - points[:, par]
            length = np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-9)
            out[:, jj] = out[:, par] + v / length * (self._bones[jj - 1] * size[:, None])
        return out
