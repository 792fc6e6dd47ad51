"""Anatomical refinement of lifted poses: every joint free in 3D, held by the 2D evidence, the bone lengths and the
full prior covariance.

The lifting (:mod:`pose3d_ros.core.lifting`) keeps each pose inside the B-dimensional principal subspace of one
mixture component. That is what makes the search over components and rotations cheap and robust, but a pose the
training data never showed cannot be represented there: on held-out clips the subspace alone is 45-60 mm away from
the truth. A perspective camera sees each joint on a ray; with known bone lengths the depth of a child relative to
its parent is fixed up to the sign of the bone's tilt (Taylor, CVIU 2000), and the lifted pose tells which sign. So
here the lifted pose only *initialises* a Gauss-Newton fit over all ``3 J`` coordinates with

* perspective reprojection residuals weighted by the 2D confidences (noise ``sigma`` in normalised image units);
* bone-length residuals ``(|Y_j - Y_parent| - L_j) / (rel_sigma L_j)`` against the prior's mean bone lengths (the
  body-size factor of the lift sets the metric scale);
* the full Gaussian of the chosen PPCA component, ``(Y - mu_k)^T C_k^-1 (Y - mu_k)`` (subspace variances plus the
  isotropic residual variance), which keeps the pose plausible where the 2D is silent (missing joints, depth);
* optionally per-joint depth residuals with a bounded (Geman-McClure) loss and a distance-dependent sensor noise
  (a joint hidden behind another body part samples the occluder's depth, one at a silhouette the background's).

Unknowns are the pose in the prior's normalised frame ``Y`` (pelvis at 0, facing the camera), the camera-frame
pelvis position ``t`` and a log body-size correction ``s``: ``X_j = g e^s R_y(theta) Y_j + t`` with the lift's
rotation ``theta`` and body size ``g``, so the prior term is the same quadratic form for every person and needs no
per-person transform; ``s`` is pinned at 0 without depth (2D cannot tell size from distance). Everything is
vectorised over people; one 49 x 49 solve per person and iteration.

Without depth the fit keeps the lifted pose's depth sign of every bone, which 2D cannot decide;
:meth:`BoneRefiner.resolve_flips` chooses it per limb with the prior's limb density
(:mod:`pose3d_ros.core.limb_prior`). That is only worth it for precise 2D: with detector noise the bone lengths turn
2D errors into depth errors (``bench/bench_lifting.py``), so :class:`~pose3d_ros.core.lifting.PoseLifter` runs the
step without depth only when told ``precise_2d``.

References
----------
C. J. Taylor, "Reconstruction of articulated objects from point correspondences in a single uncalibrated image",
CVIU 80(3), 2000.
D. Tome, C. Russell and L. Agapito, "Lifting from the Deep", CVPR 2017.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from pose3d_ros.core.depth_noise import MIN_DEPTH_M, DepthNoiseModel, geman_mcclure
from pose3d_ros.core.limb_prior import LIMBS, LimbPrior
from pose3d_ros.core.prior import PosePrior
from pose3d_ros.core.prior_checks import check_bone_lengths
from pose3d_ros.core.skeleton import POSE3D16


def _ray_point(parent: np.ndarray, ray: np.ndarray, length: np.ndarray, far: np.ndarray) -> np.ndarray:
    """The point of ``ray`` (P, 3; through the camera centre) ``length`` away from ``parent``: the far or the near
    of the two, or the ray point nearest to ``parent`` when the ray passes further away than ``length``."""
    rr = (ray * ray).sum(-1)
    centre = (parent * ray).sum(-1) / rr
    half = np.sqrt(np.maximum(centre**2 - ((parent * parent).sum(-1) - length**2) / rr, 0.0))
    return (centre + np.where(far, half, -half))[:, None] * ray


@dataclass(frozen=True)
class BoneRefinementParams:
    """Weights of the refinement (defaults chosen on validation clips by ``bench/tune_refinement.py``).

    Attributes
    ----------
    bone_rel_sigma : float
        Bone-length tolerance relative to the target bone (the prior's mean body unless the person's own bones are
        given). 0.25, not the 3 % once tuned on the one DeepMimic body: on the validation takes with the independent
        depth simulator (``bench/depth_sim.py``) 0.03 / 0.08 / 0.15 / 0.25 / 0.5 gave 51.6 / 46.7 / 42.2 / 40.1 /
        40.2 mm, and 85.9 / 70.0 / 53.2 / 43.8 / 38.2 mm on the unseen fencer: a tight term holds a stranger to
        someone else's bones. Used with depth (or a 3D observation), which measures the bones.
    bone_rel_sigma_2d : float
        The same without depth (``precise_2d``): there the bone lengths are the only depth cue, so they stay tight.
    bone_rel_sigma_own : float
        With depth, for bones that are the person's own (a track's running estimate, ``core/temporal.py``).
        Validation takes, independent depth, 5 px 2D (``bench/bench_lifting_video.py --validation --depth``):
        0.04 / 0.08 / 0.15 -> 59.0 / 58.2 / 59.1 mm (no track bones: 61.8).
    prior_weight : float
        Multiplies the PPCA log-density term (1 = the fitted Gaussian as it is).
    n_iterations : int
        Gauss-Newton steps.
    depth : DepthNoiseModel or dict
        The package's depth-noise model (:mod:`pose3d_ros.core.depth_noise`): each depth residual's sigma
        (``floor_m`` in quadrature with ``coeff z^2``) and the scale of its bounded loss; a dict of its fields is
        accepted (YAML).
    mixture_weight : float
        Weight of the whole-body mixture log-likelihood against the limb density when choosing limb mirror images.
    size_sigma : float
        With depth, the body size is refined too: standard deviation of its log around the lift's estimate.
    observed_3d_sigma_m : float
        Error (m, 1 sigma per coordinate) of a 3D observation of the joints (a CNN's root-relative metric 3D).
    """

    bone_rel_sigma: float = 0.25
    bone_rel_sigma_2d: float = 0.03
    bone_rel_sigma_own: float = 0.08
    prior_weight: float = 0.01
    n_iterations: int = 6
    depth: DepthNoiseModel = field(default_factory=DepthNoiseModel)
    mixture_weight: float = 0.3
    size_sigma: float = 0.1
    observed_3d_sigma_m: float = 0.05

    def __post_init__(self) -> None:
        if isinstance(self.depth, Mapping):
            object.__setattr__(self, "depth", DepthNoiseModel(**self.depth))
        if not isinstance(self.depth, DepthNoiseModel):
            raise ValueError(f"depth must be a DepthNoiseModel or a dict of its fields, got {self.depth!r}")
        for name in ("bone_rel_sigma", "bone_rel_sigma_2d", "bone_rel_sigma_own", "prior_weight", "size_sigma",
                     "observed_3d_sigma_m"):
            value = getattr(self, name)
            if not (np.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive finite number, got {value}")
        if not (np.isfinite(self.mixture_weight) and self.mixture_weight >= 0):
            raise ValueError(f"mixture_weight must be a finite number >= 0, got {self.mixture_weight}")
        if self.n_iterations < 0:
            raise ValueError(f"n_iterations must be >= 0, got {self.n_iterations}")


class BoneRefiner:
    """Refine lifted poses with bone lengths and the full prior covariance (see the module docstring).

    Parameters
    ----------
    prior : PosePrior
        The prior the poses were lifted with (pose3d16 layout; refused with ``ValueError`` when
        :meth:`~pose3d_ros.core.prior.PosePrior.validate` refuses it, e.g. a bone length of 0).
    params : BoneRefinementParams, optional
    limb_prior : LimbPrior, optional
        Limb density for :meth:`resolve_flips`; default the prior's own (``prior.limbs_``), if it has one.
    """

    def __init__(self, prior: PosePrior, params: BoneRefinementParams | None = None,
                 limb_prior: LimbPrior | None = None) -> None:
        if not hasattr(prior, "means_"):
            raise ValueError("prior is not fitted")
        prior.validate()  # the bone term divides by the prior's bone lengths: none may be 0
        self.params = params or BoneRefinementParams()
        self._parents = np.asarray(POSE3D16.parents)
        self._child = np.arange(1, len(self._parents))
        self._bones = np.asarray(prior.bone_lengths_, dtype=np.float64)
        k, b = prior.variances_.shape
        j = prior.means_.shape[1]
        d = 3 * (j - 1)
        self._mu = np.asarray(prior.means_, dtype=np.float64)[:, 1:].reshape(k, d)
        u = np.asarray(prior.components_, dtype=np.float64)[:, :, 3:]  # (K, B, D) orthonormal rows
        noise = np.asarray(prior.noise_variance_, dtype=np.float64)
        # C^-1 = I / s2 - U^T diag(1 / s2 - 1 / lambda) U  (matrix inversion lemma, exact for PPCA)
        shrink = 1.0 / noise[:, None] - 1.0 / np.asarray(prior.variances_, dtype=np.float64)
        self._cinv = np.eye(d)[None] / noise[:, None, None] - np.einsum("kbd,kb,kbe->kde", u, shrink, u)
        # bone-residual Jacobian pattern: bone i (child c = i + 1, parent p) against the 15 non-root joints
        inc = np.zeros((j - 1, j - 1))
        inc[np.arange(j - 1), self._child - 1] = 1.0
        has_parent = self._parents[self._child] > 0
        inc[np.flatnonzero(has_parent), self._parents[self._child][has_parent] - 1] = -1.0
        self._incidence = inc  # (15 bones, 15 joints)
        # bone i runs from non-root joint i to its parent; parents that are non-root joints, as indices into Y
        self._has_parent = has_parent
        self._parent_of_bone = np.maximum(self._parents[self._child] - 1, 0)
        self._prior = prior
        self._limb_prior = getattr(prior, "limbs_", None) if limb_prior is None else limb_prior
        self._limbs = list(LIMBS.values())

    def resolve_flips(self, poses: np.ndarray, xn: np.ndarray, w: np.ndarray) -> np.ndarray:
        """Choose, limb by limb, the depth sign of the limb's two outer bones that the evidence favours.

        A joint seen in 2D lies on its pixel ray at a bone length from its parent: twice, in front of or behind the
        point of the ray nearest to the parent, and 2D cannot tell which. For each arm and leg the four sign
        combinations of (upper bone, lower bone) are made by mirroring the mid joint along its ray about that point
        and putting the end joint back on its own ray, and scored by the limb density (:class:`LimbPrior`, when
        there is one) plus ``mixture_weight`` times the whole-body mixture log-likelihood. The current
        configuration is one of the four, so a limb only changes when a mirror image scores better. Measured on
        held-out poses the priors pick the true side of a limb about two times in three: worth it from a lifted
        pose, not from the truth.

        Parameters
        ----------
        poses : (P, J, 3) ndarray
            Camera-frame poses whose seen joints lie close to their rays (e.g. after :meth:`refine`).
        xn : (P, J, 2) ndarray
            Normalised image coordinates.
        w : (P, J) ndarray
            2D confidences; joints with 0 are never mirrored (they have no ray).

        Returns
        -------
        poses : (P, J, 3) ndarray
        """
        p = len(poses)
        out = np.array(poses, dtype=np.float64)
        if p == 0:
            return out
        rays = np.concatenate([xn, np.ones(xn.shape[:2] + (1,))], -1)
        rr = (rays * rays).sum(-1)  # (P, J)
        combos = ((False, False), (True, False), (False, True), (True, True))
        for li, (root, mid, end) in enumerate(self._limbs):
            cand = np.repeat(out[:, None], len(combos), 1)  # (P, 4, J, 3)
            seen_mid, seen_end = w[:, mid] > 0, w[:, end] > 0
            # which of its two ray points the end joint is on now (farther along its ray than the mid's nearest)
            end_far = (out[:, end] * rays[:, end]).sum(-1) > (out[:, mid] * rays[:, end]).sum(-1)
            lower = np.linalg.norm(out[:, end] - out[:, mid], axis=-1)
            for ci, (flip_mid, flip_end) in enumerate(combos):
                pose = cand[:, ci]
                if flip_mid:  # the mirror image of the mid joint on its ray; the end joint follows it
                    centre = (pose[:, root] * rays[:, mid]).sum(-1) / rr[:, mid]
                    along = (pose[:, mid] * rays[:, mid]).sum(-1) / rr[:, mid]
                    shift = np.where(seen_mid, 2.0 * (centre - along), 0.0)[:, None] * rays[:, mid]
                    pose[:, [mid, end]] += shift[:, None]
                if flip_mid or flip_end:  # the end joint back on its ray, a lower-bone length from the mid
                    placed = _ray_point(pose[:, mid], rays[:, end], lower, end_far ^ flip_end)
                    pose[:, end] = np.where(seen_end[:, None], placed, pose[:, end])
            score = np.zeros((p, len(combos)))
            if self.params.mixture_weight > 0:
                mix = self._prior.score_samples(cand.reshape(-1, *out.shape[1:])).reshape(p, len(combos))
                score += self.params.mixture_weight * np.where(np.isfinite(mix), mix, -np.inf)
            if self._limb_prior is not None:
                score += self._limb_prior.score_limbs(cand, [li])[..., 0]
            out = cand[np.arange(p), score.argmax(1)]
        return out

    def refine(self, poses: np.ndarray, component: np.ndarray, rotation: np.ndarray, scale: np.ndarray,
               xn: np.ndarray, w: np.ndarray, sigma: np.ndarray | float,
               joint_depth: np.ndarray | None = None, bone_lengths: np.ndarray | None = None,
               observed_3d: np.ndarray | None = None, own_bones: np.ndarray | None = None) -> np.ndarray:
        """Refine P lifted poses.

        Parameters
        ----------
        poses : (P, J, 3) ndarray
            Lifted poses, camera optical frame (metres), finite.
        component, rotation, scale : (P,) ndarrays
            The lift's mixture component, rotation about the vertical axis (rad) and body-size factor.
        xn : (P, J, 2) ndarray
            Normalised image coordinates ``((u - cx) / fx, (v - cy) / fy)`` (any value where ``w`` is 0).
        w : (P, J) ndarray
            2D confidences in [0, 1]; 0 = missing.
        sigma : float or (P,) ndarray
            2D noise, normalised image units.
        joint_depth : (P, J) ndarray, optional
            Joint-centre depths (m), NaN where unknown.
        bone_lengths : (P, J - 1) ndarray, optional
            Each person's own bone lengths in the prior's normalised unit (metres / ``scale``), e.g. estimated over
            a track; default the prior's mean bones (a body the person may not have). Finite and > 0 (the bone
            term divides by them): ``ValueError`` otherwise.
        observed_3d : (P, J, 3) ndarray, optional
            A 3D observation of each person, root-relative, metres, camera axes (a 2D/3D CNN's metric joints, e.g.
            BlazePose world landmarks), NaN where unknown: residuals ``(X_j - X_pelvis - c_j) / sigma`` with
            ``sigma = params.observed_3d_sigma_m``. It also frees the body size (a metric observation measures it).
        own_bones : (P, J - 1) bool ndarray, optional
            Which ``bone_lengths`` are the person's own (a track's estimate): with depth these are held at
            ``params.bone_rel_sigma_own`` instead of the loose ``bone_rel_sigma`` meant for someone else's bones.

        Returns
        -------
        refined : (P, J, 3) ndarray
            Camera-frame poses; a person whose fit did not stay finite keeps its lifted pose.
        """
        par = self.params
        p, j = poses.shape[:2]
        if p == 0:
            return poses.copy()
        d = 3 * (j - 1)
        g = np.asarray(scale, dtype=np.float64)
        c, s = np.cos(rotation), np.sin(rotation)
        # R_y(theta): x' = c x + s z, z' = -s x + c z  (as prior.rotate_y)
        rot = np.zeros((p, 3, 3))
        rot[:, 0, 0], rot[:, 0, 2], rot[:, 1, 1], rot[:, 2, 0], rot[:, 2, 2] = c, s, 1.0, -s, c
        t = poses[:, 0].copy()
        y = np.einsum("pai,pja->pji", rot, poses[:, 1:] - t[:, None]) / g[:, None, None]  # R^T (X - t) / g
        mu, cinv = self._mu[component], self._cinv[component] * par.prior_weight  # (P, D), (P, D, D)
        sw = np.sqrt(np.clip(w, 0.0, None)) / np.broadcast_to(np.asarray(sigma, dtype=np.float64), (p,))[:, None]
        bones = np.broadcast_to(self._bones if bone_lengths is None else np.asarray(bone_lengths, np.float64),
                                (p, j - 1))
        if bone_lengths is not None:
            check_bone_lengths(bones, what="bone_lengths given to refine()")
        measured = joint_depth is not None or observed_3d is not None
        rel = np.full((p, j - 1), par.bone_rel_sigma if measured else par.bone_rel_sigma_2d)
        if own_bones is not None and measured:
            rel = np.where(own_bones, par.bone_rel_sigma_own, rel)
        bone_w = 1.0 / (rel * bones)  # (P, 15)
        dw = None
        if joint_depth is not None:
            ok = np.isfinite(joint_depth) & (w > 0)
            dw = ok / par.depth.sigma(np.where(ok, joint_depth, 0.0))
            dz = np.where(ok, joint_depth, 0.0)
        ow = None
        if observed_3d is not None:
            obs = np.asarray(observed_3d, dtype=np.float64)[:, 1:]
            ok_o = np.isfinite(obs).all(-1)
            ow = ok_o / par.observed_3d_sigma_m  # (P, J - 1)
            obs = np.where(ok_o[..., None], obs, 0.0)
        # log body-size correction: free with depth or a metric 3D observation, pinned without (2D cannot tell size)
        size_w = 1.0 / par.size_sigma if (dw is not None or ow is not None) else 1e3
        log_size = np.zeros(p)
        n_par = d + 4  # columns: Y_1..Y_15 (D), t (3), log size
        # rows: u (J), v (J), bones (J - 1), size (1), 3D observation (3 (J - 1), with one only), depths (J, with
        # depth only); filled in place each step
        r_bone, r_size, r_obs = 2 * j, 3 * j - 1, 3 * j
        r_depth = r_obs + (3 * (j - 1) if ow is not None else 0)
        n_res = r_depth + (j if dw is not None else 0)
        jac = np.zeros((p, n_res, n_par))
        jac_y = jac[:, :, :d].reshape(p, n_res, j - 1, 3)  # a view: each joint's 3 columns
        jac[:, r_size, -1] = size_w
        res = np.zeros((p, n_res))
        rows, cols = np.arange(1, j), np.arange(j - 1)
        best, best_cost = (y.copy(), t.copy(), log_size.copy()), np.full(p, np.inf)
        for it in range(par.n_iterations + 1):
            gr = (g * np.exp(log_size))[:, None, None] * rot  # dX_j / dY_j (P, 3, 3)
            rel = np.zeros((p, j, 3))
            rel[:, 1:] = y @ np.swapaxes(gr, 1, 2)  # X - t
            x = rel + t[:, None]
            z = np.maximum(x[..., 2], MIN_DEPTH_M)
            u, v = x[..., 0] / z, x[..., 1] / z
            res[:, :j], res[:, j : 2 * j] = (u - xn[..., 0]) * sw, (v - xn[..., 1]) * sw
            bone = y.copy()
            bone[:, self._has_parent] -= y[:, self._parent_of_bone[self._has_parent]]  # (P, 15, 3)
            length = np.maximum(np.sqrt((bone * bone).sum(-1)), 1e-9)
            res[:, r_bone:r_size] = (length - bones) * bone_w
            res[:, r_size] = log_size * size_w
            if ow is not None:
                res[:, r_obs:r_depth] = ((rel[:, 1:] - obs) * ow[..., None]).reshape(p, -1)
            dev = y.reshape(p, d) - mu
            cinv_dev = (cinv @ dev[..., None])[..., 0]
            if dw is not None:
                r_raw = (x[..., 2] - dz) * dw
                loss, rw = geman_mcclure(r_raw, par.depth.robust_scale)
                res[:, r_depth:] = r_raw * rw
            cost = (res[:, :r_depth] ** 2).sum(1) + (dev * cinv_dev).sum(1) + (0.0 if dw is None else loss.sum(1))
            better = np.isfinite(cost) & (cost < best_cost)
            best_cost = np.where(better, cost, best_cost)
            for kept, now in zip(best, (y, t, log_size), strict=True):
                kept[better] = now[better]
            if it == par.n_iterations:
                break
            iz = sw / z  # (P, J)
            ju = np.zeros((p, j, 3))
            ju[..., 0], ju[..., 2] = iz, -u * iz
            jv = np.zeros((p, j, 3))
            jv[..., 1], jv[..., 2] = iz, -v * iz  # d r_u / d X_j, d r_v / d X_j
            jac_y[:, rows, cols] = ju[:, 1:] @ gr
            jac_y[:, j + rows, cols] = jv[:, 1:] @ gr
            jac[:, :j, d : d + 3], jac[:, j : 2 * j, d : d + 3] = ju, jv
            jac[:, :j, -1], jac[:, j : 2 * j, -1] = (ju * rel).sum(-1), (jv * rel).sum(-1)  # dX/dlog g = X - t
            unit = bone * (bone_w / length)[..., None]  # (P, 15, 3)
            jac_y[:, r_bone:r_size] = self._incidence[None, :, :, None] * unit[:, :, None, :]
            if ow is not None:  # d(X_j - t)/dY_j = gr, d/dlog g = X_j - t
                for c in range(3):
                    jac_y[:, r_obs + 3 * cols + c, cols] = gr[:, None, c, :] * ow[..., None]
                jac[:, r_obs:r_depth, -1] = (rel[:, 1:] * ow[..., None]).reshape(p, -1)
            if dw is not None:
                scale_d = dw * rw  # (P, J)
                jac_y[:, r_depth + rows, cols] = gr[:, None, 2, :] * scale_d[:, 1:, None]
                jac[:, r_depth:, d + 2] = scale_d
                jac[:, r_depth:, -1] = rel[..., 2] * scale_d
            jt = np.swapaxes(jac, 1, 2)
            hess = jt @ jac
            grad = (jt @ res[..., None])[..., 0]
            hess[:, :d, :d] += cinv
            grad[:, :d] += cinv_dev
            diag = np.arange(n_par)
            hess[:, diag, diag] += 1e-3 * hess[:, diag, diag] + 1e-9  # Levenberg damping
            step = np.linalg.solve(hess, -grad[..., None])[..., 0]
            y = y + step[:, :d].reshape(p, j - 1, 3)
            t = t + step[:, d : d + 3]
            t[:, 2] = np.maximum(t[:, 2], 2 * MIN_DEPTH_M)
            log_size = np.clip(log_size + step[:, -1], -0.5, 0.5)
        y, t, log_size = best
        gr = (g * np.exp(log_size))[:, None, None] * rot
        out = np.concatenate([t[:, None], y @ np.swapaxes(gr, 1, 2) + t[:, None]], 1)
        keep = ~np.isfinite(out).all((1, 2))
        out[keep] = poses[keep]
        return out
