"""2D -> 3D lifting with the probabilistic pose prior (Tome et al., "Lifting from the Deep", CVPR 2017), vectorised.

For every person, mixture component ``k`` and rotation ``theta_r`` about the vertical axis (a grid of R angles), the
weak-perspective model ``x_j = s P R_r (mu_kj + E_kj a) + d`` is linear in ``(s, c = s a, d)``, so the basis
coefficients, scale and 2D translation come from one weighted linear least-squares solve (2D confidences as weights,
a Tikhonov term ``sigma_2d^2 |a|^2_{Lambda^-1}`` from the PPCA variances as the prior). All (people x components x
rotations) normal matrices come from two matrix products: the per-joint outer products of the design matrix are
precomputed once, so ``N = w @ O`` is a plain GEMM. Each candidate is scored by residual + prior (Mahalanobis +
log-det - 2 log weight); the best few are then refined with the real pinhole camera by Gauss-Newton over basis
coefficients, rotation, 3D translation and a body-size factor (perspective, not weak perspective), with optional
per-joint depth residuals (Kinect) and the prior as residual terms. Output: metric camera-frame joints (REP-103 optical
frame); without depth the metric scale is the prior's mean body size.

References
----------
D. Tome, C. Russell and L. Agapito, "Lifting from the Deep: Convolutional 3D Pose Estimation from a Single Image",
CVPR 2017 (release code: packages/lifting/utils/prob_model.py; maths only).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pose3d_ros.core.prior import PosePrior, pose3d16_parents

_MIN_DEPTH_M = 0.1  # points closer than this to the camera plane are clamped (keeps the projection finite)
_LOG2PI = np.log(2.0 * np.pi)


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
        A fitted prior of the pose3d16 layout.
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
    n_iterations : int
        Gauss-Newton steps of the perspective refinement.
    renormalize_bones : bool
        Rebuild the output from the pelvis outwards with the prior's mean bone lengths (times the body-size factor).
    min_joints : int
        Fewest joints with confidence > 0 needed to lift a person.

    Examples
    --------
    >>> lifter = PoseLifter(load_default_prior())
    >>> res = lifter.lift(pixels, conf, camera)   # pixels (P, 16, 2), conf (P, 16)
    >>> res.poses[res.valid]                      # (P', 16, 3) metres, camera frame
    """

    def __init__(self, prior: PosePrior, n_rotations: int = 12, noise_px: float = 5.0, depth_noise_m: float = 0.03,
                 size_sigma: float = 0.08, n_candidates: int = 3, n_iterations: int = 6,
                 renormalize_bones: bool = False, min_joints: int = 5) -> None:
        if not hasattr(prior, "means_"):
            raise ValueError("prior is not fitted")
        if n_rotations < 1 or n_candidates < 1 or n_iterations < 0:
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
        self.n_iterations = int(n_iterations)
        self.renormalize_bones = bool(renormalize_bones)
        self.min_joints = int(min_joints)
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
        # per-joint normal-matrix contributions O_j = sum_xy A^T A, flattened for one GEMM: (J, K*R*n*n)
        self._outer = np.einsum("krjci,krjcl->jkril", a, a).reshape(j, -1)
        # per-joint-coordinate rows for the right-hand side: (J*2, K*R*n)
        self._rows = np.moveaxis(a, (2, 3), (0, 1)).reshape(j * 2, -1)
        self._logdet = np.log(self._var).sum(1) - 2.0 * np.log(np.maximum(p.weights_, 1e-300))  # (K,)
        self._parents = pose3d16_parents()
        self._bones = np.asarray(p.bone_lengths_, dtype=np.float64)  # metres, the normalised space's unit

    # ------------------------------------------------------------------------------------------------ API
    def lift(self, pixels: np.ndarray, conf: np.ndarray, camera, joint_depth: np.ndarray | None = None) -> LiftResult:
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
            Measured depth (z, metres) of each joint, NaN where unknown (e.g. from
            :func:`pose3d_ros.core.depth.sample_joint_depth`). Fixes metric scale and position.

        Returns
        -------
        LiftResult

        Raises
        ------
        ValueError
            On shapes that do not match, or a camera with non-positive / non-finite focal length.
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
        depth = None
        if joint_depth is not None:
            depth = np.asarray(joint_depth, dtype=np.float64)
            if depth.shape != uv.shape[:2]:
                raise ValueError(f"joint_depth must be {uv.shape[:2]}, got shape {depth.shape}")
            depth = np.where(np.isfinite(depth) & (depth > 0), depth, np.nan)

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
            cand_k, cand_r, cand_z = self._search(xn[idx], w[idx], sigma)
            d_in = None if depth is None else depth[idx]
            out = self._refine(xn[idx], w[idx], d_in, sigma, cand_k, cand_r, cand_z)
            poses[idx], comp[idx], rot[idx], scale[idx] = out
            proj = poses[idx, :, :2] / np.maximum(poses[idx, :, 2:], _MIN_DEPTH_M)
            err2 = (((proj - xn[idx]) * [fx, fy]) ** 2).sum(-1)
            resid[idx] = np.sqrt((w[idx] * err2).sum(1) / w[idx].sum(1))
            bad = ~np.isfinite(poses[idx]).all((1, 2))
            valid[idx[bad]] = False
            poses[idx[bad]] = np.nan
        return LiftResult(poses=poses, component=comp, residual=resid, valid=valid, rotation=rot, scale=scale)

    # ------------------------------------------------------------------------------------------------ search
    def _search(self, xn: np.ndarray, w: np.ndarray, sigma: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Closed-form weak-perspective fits for all (person, component, rotation); the best ``n_candidates``.

        Returns component (P, M), rotation index (P, M) and solution z = (s, c_1..c_B, dx, dy) (P, M, n).
        """
        p, k, r, n = len(xn), self._mu.shape[0], self.n_rotations, self._n
        b = n - 3
        normal = (w @ self._outer).reshape(p, k, r, n, n)
        wx = (w[..., None] * xn).reshape(p, -1)
        rhs = (wx @ self._rows).reshape(p, k, r, n)
        # pass 1: mean pose only (s, dx, dy) -> a scale estimate for the prior term
        sub = [0, n - 2, n - 1]
        n3 = normal[..., sub, :][..., :, sub] + 1e-12 * np.eye(3)
        s0 = np.linalg.solve(n3, rhs[..., sub, None])[..., 0, 0]
        s0 = np.where(s0 > 1e-6, s0, np.nan)
        # pass 2: Tikhonov on c = s a: sigma^2 |a|^2 / lambda = sigma^2 / (s0^2 lambda) |c|^2
        reg = sigma**2 / (s0[..., None] ** 2 * self._var[None, :, None, :])  # (P, K, R, B)
        diag = np.arange(1, 1 + b)
        normal[..., diag, diag] += np.nan_to_num(reg, nan=1.0)
        z = np.linalg.solve(normal + 1e-12 * np.eye(n), rhs[..., None])[..., 0]
        data = (w * (xn**2).sum(-1)).sum(1)[:, None, None] - (z * rhs).sum(-1)
        cost = data / sigma**2 + self._logdet[None, :, None]
        cost = np.where(np.isfinite(s0) & (z[..., 0] > 0), cost, np.inf)
        flat = cost.reshape(p, -1)
        m = self.n_candidates
        best = np.argpartition(flat, m - 1, axis=1)[:, :m] if m < flat.shape[1] else np.tile(np.arange(flat.shape[1]),
                                                                                             (p, 1))
        zc = z.reshape(p, k * r, n)[np.arange(p)[:, None], best]
        return best // r, best % r, zc

    # ------------------------------------------------------------------------------------------------ refine
    def _refine(self, xn: np.ndarray, w: np.ndarray, depth: np.ndarray | None, sigma: float, cand_k: np.ndarray,
                cand_r: np.ndarray, cand_z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Perspective Gauss-Newton from each candidate; returns poses (P, J, 3), component, rotation, scale."""
        p, m = cand_k.shape
        b = self._var.shape[1]
        kk = cand_k.reshape(-1)
        rep = np.repeat(np.arange(p), m)
        xn_, w_ = xn[rep], w[rep]
        mu, basis, var = self._mu[kk], self._basis[kk], self._var[kk]  # (Q, J, 3), (Q, B, J, 3), (Q, B)
        z = cand_z.reshape(p * m, -1)
        s = np.maximum(z[:, 0], 1e-6)
        coef = z[:, 1 : 1 + b] / s[:, None]
        theta = self._theta[cand_r.reshape(-1)]
        tz = 1.0 / s
        t = np.stack([z[:, -2] * tz, z[:, -1] * tz, tz], -1)
        logsize = np.zeros(p * m)
        d_, dw = None, None
        if depth is not None:
            d_ = depth[rep]
            dw = np.isfinite(d_) & (w_ > 0)
            d_ = np.where(dw, d_, 0.0)
            # depth fixes the distance: shift the weak-perspective estimate onto the measured joint depths
            y0 = mu + np.einsum("qb,qbjc->qjc", coef, basis)
            z_model = -np.sin(theta)[:, None] * y0[..., 0] + np.cos(theta)[:, None] * y0[..., 2]
            has = dw.any(1)
            med = np.array([np.median((d_ - z_model)[i][dw[i]]) if has[i] else t[i, 2] for i in range(len(d_))])
            t[:, :2] *= (med / t[:, 2])[:, None]
            t[:, 2] = med
        params = np.concatenate([coef, theta[:, None], t, logsize[:, None]], 1)  # (Q, B + 5)
        inv_sig = 1.0 / sigma
        for _ in range(self.n_iterations):
            res, jac = self._residuals(params, mu, basis, var, xn_, w_, d_, dw, inv_sig, jacobian=True)
            jtj = np.einsum("qri,qrl->qil", jac, jac)
            jtr = np.einsum("qri,qr->qi", jac, res)
            jtj += 1e-6 * np.eye(jtj.shape[-1]) + 1e-3 * jtj * np.eye(jtj.shape[-1])  # light Levenberg damping
            step = np.linalg.solve(jtj, -jtr[..., None])[..., 0]
            params = params + step
            params[:, b + 3] = np.maximum(params[:, b + 3], _MIN_DEPTH_M + 0.5)  # stay in front of the camera
        res = self._residuals(params, mu, basis, var, xn_, w_, d_, dw, inv_sig, jacobian=False)[0]
        cost = (res**2).sum(1) + np.log(var).sum(1) - 2 * np.log(self.prior.weights_[kk])
        cost = np.where(np.isfinite(cost), cost, np.inf).reshape(p, m)
        pick = cost.argmin(1)
        q = np.arange(p) * m + pick
        points = self._points(params[q], mu[q], basis[q])[0]
        size = np.exp(params[q, b + 4])
        if self.renormalize_bones:
            points = self._renormalize(points, size)
        return points, cand_k[np.arange(p), pick], np.mod(params[q, b], 2 * np.pi), size

    def _points(self, params: np.ndarray, mu: np.ndarray, basis: np.ndarray):
        b = basis.shape[1]
        coef, theta, t, logsize = params[:, :b], params[:, b], params[:, b + 1 : b + 4], params[:, b + 4]
        y = mu + np.einsum("qb,qbjc->qjc", coef, basis)  # normalised pose (Q, J, 3)
        size = np.exp(logsize)[:, None]
        c, s = np.cos(theta)[:, None], np.sin(theta)[:, None]
        x = np.stack([c * y[..., 0] + s * y[..., 2], y[..., 1], -s * y[..., 0] + c * y[..., 2]], -1)
        return size[..., None] * x + t[:, None], y, x, size, c, s

    def _residuals(self, params, mu, basis, var, xn, w, depth, dw, inv_sig, jacobian: bool):
        """Stacked residuals (reprojection, depth, prior) and optionally their Jacobian (Q, R, B + 5)."""
        q, j = xn.shape[:2]
        b = basis.shape[1]
        pts, y, x, size, c, s = self._points(params, mu, basis)
        zc = np.maximum(pts[..., 2], _MIN_DEPTH_M)
        sw = np.sqrt(w) * inv_sig
        proj = pts[..., :2] / zc[..., None]
        r_2d = ((proj - xn) * sw[..., None]).reshape(q, -1)
        r_prior = params[:, :b] / np.sqrt(var)
        r_size = (params[:, b + 4] / self.size_sigma)[:, None]
        parts = [r_2d, r_prior, r_size]
        if depth is not None:
            r_d = np.where(dw, (pts[..., 2] - depth) / self.depth_noise_m, 0.0)
            parts.insert(1, r_d)
        res = np.concatenate(parts, 1)
        if not jacobian:
            return res, None
        # d pts / d params: (Q, J, 3, B + 5)
        dp = np.zeros((q, j, 3, b + 5))
        rb = np.stack([c[..., None] * basis[..., 0] + s[..., None] * basis[..., 2], basis[..., 1],
                       -s[..., None] * basis[..., 0] + c[..., None] * basis[..., 2]], -1)  # (Q, B, J, 3)
        dp[..., :b] = size[..., None, None] * np.moveaxis(rb, 1, 3)
        yx, yz = y[..., 0], y[..., 2]
        dtheta = np.stack([-s * yx + c * yz, np.zeros_like(yx), -c * yx - s * yz], -1)
        dp[..., b] = size[..., None] * dtheta
        dp[..., 0, b + 1] = 1.0
        dp[..., 1, b + 2] = 1.0
        dp[..., 2, b + 3] = 1.0
        dp[..., b + 4] = size[..., None] * x
        inv_z = 1.0 / zc
        du = (dp[..., 0, :] - proj[..., 0:1] * dp[..., 2, :]) * inv_z[..., None]
        dv = (dp[..., 1, :] - proj[..., 1:2] * dp[..., 2, :]) * inv_z[..., None]
        j_2d = (np.stack([du, dv], 2) * sw[..., None, None]).reshape(q, 2 * j, b + 5)
        j_prior = np.zeros((q, b, b + 5))
        j_prior[:, np.arange(b), np.arange(b)] = 1.0 / np.sqrt(var)
        j_size = np.zeros((q, 1, b + 5))
        j_size[:, 0, b + 4] = 1.0 / self.size_sigma
        jparts = [j_2d, j_prior, j_size]
        if depth is not None:
            jparts.insert(1, np.where(dw[..., None], dp[..., 2, :] / self.depth_noise_m, 0.0))
        return res, np.concatenate(jparts, 1)

    def _renormalize(self, points: np.ndarray, size: np.ndarray) -> np.ndarray:
        """Rebuild each skeleton from the pelvis with the prior's mean bone lengths times the body-size factor."""
        out = points.copy()
        for jj in range(1, points.shape[1]):
            par = self._parents[jj]
            v = points[:, jj] - points[:, par]
            length = np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-9)
            out[:, jj] = out[:, par] + v / length * (self._bones[jj - 1] * size[:, None])
        return out
