"""The subspace lift: the best (component, rotation, coefficients) of the pose prior for each person's 2D.

For every person, mixture component ``k`` and rotation ``theta_r`` about the vertical axis (a grid of R angles), the
weak-perspective model ``x_j = s P R_r (mu_kj + E_kj a) + d`` is linear in ``(s, c = s a, d)``, so the basis
coefficients, scale and 2D translation come from one weighted linear least-squares solve (2D confidences as weights,
a Tikhonov term ``sigma_2d^2 |a|^2_{Lambda^-1}`` from the PPCA variances as the prior). All (people x components x
rotations) normal matrices come from two matrix products: the per-joint outer products of the design matrix are
precomputed once. :meth:`SubspaceFit.search` has two stages: a closed-form scale + translation fit of every
projected component mean (a few GEMMs over all K x R hypotheses), then the full regularised solve for the
``n_search`` best per person. Candidates are scored by residual + prior (Mahalanobis + log-det - 2 log weight).
:meth:`SubspaceFit.refine` refines the best few with the real pinhole camera using linear solves only: interval
halving of the rotation and the POSIT-style perspective correction ``x_j (1 + Z_j / t_z) = s X_j + d`` (exact
perspective at convergence). With joint depths, :meth:`SubspaceFit.refine_with_depth` runs a perspective
Gauss-Newton instead, over coefficients, rotation, 3D translation and a body-size factor with robust per-joint depth
residuals; the anatomical step (:mod:`pose3d_ros.core.bone_refinement`) then starts from it.

References
----------
D. Tome, C. Russell and L. Agapito, "Lifting from the Deep: Convolutional 3D Pose Estimation from a Single Image",
CVPR 2017 (release code: packages/lifting/utils/prob_model.py; maths only).
"""

from __future__ import annotations

import numpy as np

from pose3d_ros.core.depth_noise import MIN_DEPTH_M, geman_mcclure
from pose3d_ros.core.prior import PosePrior, rotate_y
from pose3d_ros.core.skeleton import POSE3D16

__all__ = ["SubspaceFit"]

#: Bounds of the body-size factor that joint depths may set (relative to the prior's mean body).
SIZE_FROM_DEPTH_RANGE = (0.5, 1.5)
#: Fewest joints with a depth reading for the depths to set a person's size.
MIN_DEPTH_JOINTS = 3
#: The depth Gauss-Newton's own weighting of the joint depths: a noise (m) and a bounded-loss scale (sigmas) that
#: include what the subspace cannot represent (4-9 cm on held-out poses), so they are wider than the sensor's
#: (:class:`~pose3d_ros.core.depth_noise.DepthNoiseModel`, used by the anatomical step and ``measured``). Replacing
#: this solver with linear fits under the sensor's model cost 2.4-4.4 mm on the test takes (closing note of issue
#: 13), so it stays.
GN_DEPTH_NOISE_M = 0.03
GN_DEPTH_ROBUST_SCALE = 3.0
#: Standard deviation of log body size around the prior's mean body (a weak prior; depth can override it).
GN_SIZE_SIGMA = 0.08
#: Gauss-Newton steps.
GN_ITERATIONS = 6


class SubspaceFit:
    """Hypothesis search and linear perspective refinement in the prior's principal subspaces.

    Parameters
    ----------
    prior : PosePrior
        A fitted, validated prior (pose3d16).
    n_rotations : int
        Grid of rotations about the vertical axis searched per component.
    n_candidates : int
        Hypotheses per person kept for :meth:`refine`.
    n_search : int
        Hypotheses per person kept from the mean-only stage for the full linear solve.
    n_iterations : int
        Refinement steps (rotation halvings + perspective corrections).
    temporal_sigma_m : float
        How far (m per joint, 1 sigma) the chosen hypothesis may be from the person's previous pose.
    renormalize_bones : bool
        Rebuild each output from the pelvis with the prior's mean bone lengths times the body-size factor.
    """

    def __init__(self, prior: PosePrior, n_rotations: int, n_candidates: int, n_search: int, n_iterations: int,
                 temporal_sigma_m: float, renormalize_bones: bool = False) -> None:
        self.prior = prior
        self.n_rotations = int(n_rotations)
        self.n_candidates = int(min(n_candidates, n_rotations * len(prior.weights_)))
        self.n_search = max(int(n_search), self.n_candidates)
        self._iters_linear = int(n_iterations)
        self.temporal_sigma_m = float(temporal_sigma_m)
        self.renormalize_bones = bool(renormalize_bones)
        self._precompute()

    def _precompute(self) -> None:
        """Design-matrix tables of every (component, rotation), computed once per prior."""
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
        self._parents = np.asarray(POSE3D16.parents)
        self._bones = np.asarray(p.bone_lengths_, dtype=np.float64)  # metres, the normalised space's unit

    def search(self, xn: np.ndarray, w: np.ndarray, sigma: float
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

    def refine(self, xn: np.ndarray, w: np.ndarray, depth: np.ndarray | None, sigma: np.ndarray,
               cand_k: np.ndarray, cand_r: np.ndarray, cand_z: np.ndarray, previous: np.ndarray | None = None
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Rotation refinement by interval halving + perspective correction (POSIT-style), all linear solves; the
        best hypothesis of each person by 2D cost + depth cost (with ``depth``) + temporal cost (with ``previous``).

        Perspective ``x_j = (X_j + t_x) / (Z_j + t_z)`` is exactly ``x_j (1 + Z_j / t_z) = s X_j + d`` with
        ``s = 1 / t_z``: the weak-perspective system with targets scaled by ``1 + eps_j`` from the previous estimate.

        Parameters
        ----------
        xn : (P, J, 2) ndarray
            Normalised image coordinates; ``w`` (P, J) their weights.
        depth : (P, J) ndarray or None
            Joint-centre depths (m), NaN where unknown.
        sigma : (P,) ndarray
            2D noise per person, normalised image units.
        cand_k, cand_r, cand_z : (P, M) / (P, M) / (P, M, n) ndarrays
            :meth:`search`'s hypotheses.
        previous : (P, J, 3) ndarray or None
            Each person's previous pose (NaN = none).

        Returns
        -------
        poses (P, J, 3), component (P,), rotation (P,) in [0, 2 pi), body-size factor (P,)
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
        points, size = self._place(z, theta, k, basis_k, None if depth is None else depth[rep], w_)
        cost = np.where(np.isfinite(cost), cost, np.inf)
        cost = cost.reshape(p, m)
        if previous is not None:
            cost = cost + self._temporal_cost(points, previous).reshape(p, m)
        sel = np.arange(p) * m + cost.argmin(1)
        points, size = points[sel], size[sel]
        if self.renormalize_bones:
            points = self.renormalize(points, size)
        return points, k[sel], np.mod(theta[sel], 2 * np.pi), size

    def refine_with_depth(self, xn: np.ndarray, w: np.ndarray, depth: np.ndarray | None, sigma: np.ndarray,
                          cand_k: np.ndarray, cand_r: np.ndarray, cand_z: np.ndarray,
                          previous: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
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
            dw = (np.isfinite(d_) & (w[rep] > 0)).astype(np.float64) / GN_DEPTH_NOISE_M
            d_ = np.nan_to_num(d_)
            # depth fixes the distance: move the weak-perspective estimate onto the measured joint depths
            y0 = mu + (coef[:, None, :] @ basis_flat).reshape(q, j, 3)
            z_model = -np.sin(theta)[:, None] * y0[..., 0] + np.cos(theta)[:, None] * y0[..., 2]
            for i in np.flatnonzero(dw.any(1)):
                shift = float(np.median((d_[i] - z_model[i])[dw[i] > 0]))
                t[i] *= shift / t[i, 2]
        inv_size_var = 1.0 / GN_SIZE_SIGMA**2
        best_cost = np.full(q, np.inf)
        best = np.zeros((q, b + 5))
        eye = np.eye(b + 5)
        step_limit = np.concatenate([2.0 * np.sqrt(self._var[kk]), np.full((q, 1), 0.3), np.zeros((q, 3)),
                                     np.full((q, 1), 0.1)], 1)
        for it in range(GN_ITERATIONS + 1):
            c, s_ = np.cos(theta)[:, None], np.sin(theta)[:, None]
            g = np.exp(logsize)[:, None]
            y = mu + (coef[:, None, :] @ basis_flat).reshape(q, j, 3)
            yx, yy, yz = y[..., 0], y[..., 1], y[..., 2]
            xx, xz = c * yx + s_ * yz, -s_ * yx + c * yz
            pz = g * xz + t[:, 2:3]
            zc = np.maximum(pz, MIN_DEPTH_M)
            iz = 1.0 / zc
            u = (g * xx + t[:, 0:1]) * iz
            v = (g * yy + t[:, 1:2]) * iz
            r_u, r_v = (u - xu) * sw, (v - xv) * sw
            cost = (r_u**2).sum(1) + (r_v**2).sum(1) + (coef**2 * inv_var).sum(1) + logsize**2 * inv_size_var
            if dw is not None:
                # robust depth residuals (IRLS, bounded loss): a joint hidden behind another body part samples the
                # occluder's depth, which must not drag the pose along
                r_raw = (pz - d_) * dw
                loss, rw = geman_mcclure(r_raw, GN_DEPTH_ROBUST_SCALE)
                r_d = r_raw * rw
                cost += loss.sum(1)
            better = cost < best_cost
            best_cost = np.where(better, cost, best_cost)
            best[better] = np.concatenate([coef, theta[:, None], t, logsize[:, None]], 1)[better]
            if it == GN_ITERATIONS:
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
            t[:, 2] = np.maximum(t[:, 2], 2 * MIN_DEPTH_M)
            logsize = logsize + step[:, b + 4]
        total = best_cost + np.log(self._var[kk]).sum(1) - 2 * np.log(np.maximum(self.prior.weights_[kk], 1e-300))
        pick = np.where(np.isfinite(total), total, np.inf).reshape(p, m).argmin(1)
        sel = np.arange(p) * m + pick
        par = best[sel]
        y = self._mu[kk[sel]] + (par[:, None, :b] @ basis_flat[sel]).reshape(p, j, 3)
        size = np.exp(par[:, b + 4])
        points = size[:, None, None] * rotate_y(y, par[:, b]) + par[:, None, b + 1 : b + 4]
        if self.renormalize_bones:
            points = self.renormalize(points, size)
        return points, kk[sel], np.mod(par[:, b], 2 * np.pi), size

    def _place(self, z: np.ndarray, theta: np.ndarray, k: np.ndarray, basis_k: np.ndarray, depth: np.ndarray | None,
               w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Camera-frame poses (H, J, 3) and body-size factors (H,) of hypotheses; with joint depths (H, J) the
        size (and with it the distance) is the median of ``z_j / (Z_j + 1 / s)`` over the joints with a reading."""
        s = np.maximum(z[:, 0], 1e-6)
        rotated = rotate_y(self._subspace_poses(z, k, basis_k), theta)
        size = np.ones(len(z))
        tz = 1.0 / s
        if depth is not None:
            ok = np.isfinite(depth) & (w > 0)
            ratio = np.where(ok, depth / np.maximum(rotated[..., 2] + tz[:, None], 1e-6), np.nan)
            has = ok.sum(1) >= MIN_DEPTH_JOINTS
            if has.any():
                size[has] = np.clip(np.nanmedian(ratio[has], axis=1), *SIZE_FROM_DEPTH_RANGE)
            tz = size * tz
        t = np.stack([z[:, -2] * tz, z[:, -1] * tz, tz], -1)
        return size[:, None, None] * rotated + t[:, None], size

    def _subspace_poses(self, z: np.ndarray, k: np.ndarray, basis_k: np.ndarray) -> np.ndarray:
        """Normalised poses (H, J, 3) of hypotheses ``z = (s, s a, d)`` of components ``k`` (``basis_k`` (H, B, 3J))."""
        b, j = self._var.shape[1], self._mu.shape[1]
        s = np.maximum(z[:, 0], 1e-6)
        return self._mu[k] + ((z[:, None, 1 : 1 + b] / s[:, None, None]) @ basis_k).reshape(len(k), j, 3)

    def _temporal_cost(self, points: np.ndarray, previous: np.ndarray) -> np.ndarray:
        """Squared distance (sigma units) of every hypothesis' root-relative pose (H, J, 3) to its person's previous
        pose (P, J, 3), H = P x M."""
        m = len(points) // len(previous)
        prev = np.repeat(previous - previous[:, :1], m, axis=0)
        d2 = (((points - points[:, :1]) - prev) ** 2).sum(-1) / self.temporal_sigma_m**2
        return np.nansum(d2, 1)  # a previous pose with NaN joints compares on the others; all NaN adds 0

    def renormalize(self, points: np.ndarray, size: np.ndarray) -> np.ndarray:
        """Rebuild each skeleton from the pelvis with the prior's mean bone lengths times the body-size factor."""
        out = points.copy()
        for jj in range(1, points.shape[1]):
            par = self._parents[jj]
            v = points[:, jj] - points[:, par]
            length = np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-9)
            out[:, jj] = out[:, par] + v / length * (self._bones[jj - 1] * size[:, None])
        return out
