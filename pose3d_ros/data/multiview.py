"""Calibrated multi-view geometry in numpy: Qualisys ``.qca.txt`` calibration, OpenCV-model projection and
undistortion, batched DLT triangulation and robust view-subset selection.

Camera convention throughout (OpenCV): ``x_cam = R @ x_world + t``, pixel ``u = K @ distort(x_cam / z)``, integer
pixel coordinates at pixel centres, ``dist = (k1, k2, p1, p2, k3)``. Used by ``scripts/build_realval.py`` to make the
multi-view pseudo-ground-truth in ``bench/data/``; no ROS and no OpenCV needed.
"""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from os import PathLike

import numpy as np

__all__ = [
    "QcaCamera",
    "QcaConvention",
    "POSE2SIM_CONVENTION",
    "read_qca",
    "qca_to_opencv",
    "projection_matrices",
    "project",
    "undistort_points",
    "triangulate_dlt",
    "reprojection_errors",
    "RobustTriangulation",
    "triangulate_robust",
    "detection_pair_cost",
    "refine_extrinsics",
]

#: Qualisys stores intrinsics in 1/64 pixel units (its sub-pixel sensor grid).
QCA_SUBPIXELS = 64.0


@dataclass(frozen=True)
class QcaCamera:
    """One camera of a ``.qca.txt`` file, values as written (no convention applied).

    ``rot`` is the 3x3 matrix read row-wise (``r11 r12 r13`` = first row); ``pos`` is ``x, y, z`` in millimetres;
    ``focal``/``centre`` are ``(U, V)`` as written; ``radial`` = ``(k1, k2, k3)``; ``tangential`` = ``(p1, p2)``;
    ``fov`` = ``(left, top, right, bottom)`` of ``fov_video``.
    """

    name: str
    rot: np.ndarray
    pos: np.ndarray
    focal: tuple[float, float]
    centre: tuple[float, float]
    radial: tuple[float, float, float]
    tangential: tuple[float, float]
    fov: tuple[int, int, int, int]

    @property
    def image_size(self) -> tuple[int, int]:
        """``(width, height)`` of the video field of view, pixels."""
        left, top, right, bottom = self.fov
        return right - left + 1, bottom - top + 1


@dataclass(frozen=True)
class QcaConvention:
    """How to turn a :class:`QcaCamera` into OpenCV ``K, dist, R, t``.

    Attributes
    ----------
    rotation : ``"as_is"`` (the matrix maps world to camera) or ``"transposed"`` (it maps camera to world).
    flip_x : apply a 180 degree rotation about the camera x axis afterwards (Qualisys cameras look along -z).
    position : ``"centre"`` (``x, y, z`` = camera centre in the world, ``t = -R C``) or ``"translation"`` (``t``).
    intrinsic_scale : divisor of focal length and principal point (64 = sub-pixel units, 1 = pixels).
    principal : ``"file"`` (from ``centerPoint``) or ``"image_centre"``.
    distortion : ``"none"``, ``"as_is"`` or ``"div64"`` (pose2sim 0.10.49 divides the coefficients by 64 too).
    """

    rotation: str = "as_is"
    flip_x: bool = True
    position: str = "centre"
    intrinsic_scale: float = QCA_SUBPIXELS
    principal: str = "file"
    distortion: str = "div64"

    def label(self) -> str:
        return (f"rot={self.rotation},flip_x={int(self.flip_x)},pos={self.position},K/{self.intrinsic_scale:g},"
                f"pp={self.principal},dist={self.distortion}")


#: What pose2sim 0.10.49 ``calibration.calib_qca_fun`` does: transpose twice (net: as read), C -> t = -R C, then a
#: 180 degree flip about x; K and distortion divided by 64 (binning factor 1).
POSE2SIM_CONVENTION = QcaConvention()


def read_qca(path: str | PathLike) -> list[QcaCamera]:
    """Read the cameras of a Qualisys ``.qca.txt`` calibration (XML).

    Raises
    ------
    ValueError
        The file is not a Qualisys calibration or a camera lacks a required attribute.
    """
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise ValueError(f"{path}: not an XML calibration file ({exc})") from exc
    cams = []
    for tag in root.findall("cameras/camera"):
        name = tag.get("serial", f"cam{len(cams) + 1}")
        tr, it, fov = tag.find("transform"), tag.find("intrinsic"), tag.find("fov_video")
        if tr is None or it is None or fov is None:
            raise ValueError(f"{path}: camera {name} lacks transform/intrinsic/fov_video")
        try:
            rot = np.array([[float(tr.get(f"r{i}{j}")) for j in (1, 2, 3)] for i in (1, 2, 3)])
            pos = np.array([float(tr.get(k)) for k in "xyz"])
            rad = tuple(float(it.get(f"radialDistortion{i}", "0")) for i in (1, 2, 3))  # missing = zero
            tan = tuple(float(it.get(f"tangentalDistortion{i}", "0")) for i in (1, 2))
            cams.append(QcaCamera(
                name=name, rot=rot, pos=pos,
                focal=(float(it.get("focalLengthU")), float(it.get("focalLengthV"))),
                centre=(float(it.get("centerPointU")), float(it.get("centerPointV"))),
                radial=rad, tangential=tan,
                fov=tuple(int(fov.get(k)) for k in ("left", "top", "right", "bottom")),
            ))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{path}: camera {name} has a missing or non-numeric attribute ({exc})") from exc
    if not cams:
        raise ValueError(f"{path}: no cameras/camera entries (not a Qualisys calibration?)")
    return cams


def qca_to_opencv(cam: QcaCamera, conv: QcaConvention) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``K (3,3), dist (5,), R (3,3), t (3,)`` in metres and pixels of the ``fov_video`` image, per ``conv``."""
    if conv.rotation not in ("as_is", "transposed") or conv.position not in ("centre", "translation") \
            or conv.principal not in ("file", "image_centre") or conv.distortion not in ("none", "as_is", "div64"):
        raise ValueError(f"unknown convention {conv}")
    rot = cam.rot if conv.rotation == "as_is" else cam.rot.T
    flip = np.diag([1.0, -1.0, -1.0]) if conv.flip_x else np.eye(3)
    R = flip @ rot
    xyz = cam.pos / 1000.0
    t = -R @ xyz if conv.position == "centre" else flip @ xyz
    s = float(conv.intrinsic_scale)
    left, top = cam.fov[0], cam.fov[1]
    if conv.principal == "file":
        cx, cy = cam.centre[0] / s - left, cam.centre[1] / s - top
    else:
        w, h = cam.image_size
        cx, cy = (w - 1) / 2.0, (h - 1) / 2.0
    K = np.array([[cam.focal[0] / s, 0.0, cx], [0.0, cam.focal[1] / s, cy], [0.0, 0.0, 1.0]])
    k1, k2, k3 = cam.radial
    p1, p2 = cam.tangential
    dist = np.array([k1, k2, p1, p2, k3])
    dist = {"none": 0.0 * dist, "as_is": dist, "div64": dist / QCA_SUBPIXELS}[conv.distortion]
    return K, dist, R, t


def projection_matrices(K: np.ndarray, R: np.ndarray, t: np.ndarray) -> np.ndarray:
    """``(V, 3, 4)`` pinhole projection matrices ``K [R | t]`` from ``(V,3,3), (V,3,3), (V,3)``."""
    K, R, t = np.asarray(K, float), np.asarray(R, float), np.asarray(t, float)
    if K.ndim != 3 or K.shape[1:] != (3, 3) or R.shape != K.shape or t.shape != (K.shape[0], 3):
        raise ValueError(f"expected K, R of shape (V, 3, 3) and t of shape (V, 3); got {K.shape}, {R.shape}, {t.shape}")
    return K @ np.concatenate([R, t[:, :, None]], axis=2)


def _distort(xn: np.ndarray, dist: np.ndarray) -> np.ndarray:
    k1, k2, p1, p2, k3 = dist
    x, y = xn[..., 0], xn[..., 1]
    r2 = x * x + y * y
    radial = 1 + k1 * r2 + k2 * r2**2 + k3 * r2**3
    xd = x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
    yd = y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y
    return np.stack([xd, yd], axis=-1)


def project(X: np.ndarray, K: np.ndarray, dist: np.ndarray | None, R: np.ndarray, t: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray]:
    """Project world points ``X (..., 3)`` into one camera: ``(pixels (..., 2), depth (...))`` (OpenCV model)."""
    xc = np.asarray(X, float) @ np.asarray(R, float).T + np.asarray(t, float)
    z = xc[..., 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        xn = xc[..., :2] / z[..., None]
    if dist is not None and np.any(dist):
        xn = _distort(xn, np.asarray(dist, float))
    return xn @ K[:2, :2].T + K[:2, 2], z


def undistort_points(uv: np.ndarray, K: np.ndarray, dist: np.ndarray | None, iterations: int = 20) -> np.ndarray:
    """Pixels of an ideal pinhole camera with the same ``K`` (fixed-point inversion, as OpenCV does)."""
    uv = np.asarray(uv, float)
    if dist is None or not np.any(dist):
        return uv.copy()
    xd = (uv - K[:2, 2]) @ np.linalg.inv(K[:2, :2]).T
    xn = xd.copy()
    for _ in range(iterations):  # converges in a few steps for the mild distortion of real lenses
        xn = xn - (_distort(xn, np.asarray(dist, float)) - xd)
    return xn @ K[:2, :2].T + K[:2, 2]


def triangulate_dlt(P: np.ndarray, uv: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Linear (DLT) triangulation of N points seen in V views.

    Parameters
    ----------
    P : (V, 3, 4) projection matrices (undistorted pixels).
    uv : (V, N, 2) pixels; a view with weight 0 (or non-finite pixels) is ignored for that point.
    weights : (V, N) or None (all ones).

    Returns
    -------
    (N, 3) world points; NaN where fewer than 2 views have positive weight.
    """
    P, uv = np.asarray(P, float), np.asarray(uv, float)
    if P.ndim != 3 or P.shape[1:] != (3, 4):
        raise ValueError(f"P must have shape (V, 3, 4), got {P.shape}")
    if uv.ndim != 3 or uv.shape[0] != P.shape[0] or uv.shape[2] != 2:
        raise ValueError(f"uv must have shape (V={P.shape[0]}, N, 2), got {uv.shape}")
    w = np.ones(uv.shape[:2]) if weights is None else np.asarray(weights, float)
    if w.shape != uv.shape[:2]:
        raise ValueError(f"weights must have shape {uv.shape[:2]}, got {w.shape}")
    finite = np.isfinite(uv).all(axis=-1)
    w = np.where(finite & (w > 0), w, 0.0)
    uvz = np.where(finite[..., None], uv, 0.0)
    # rows u*P3 - P1 and v*P3 - P2 per view, stacked to (N, 2V, 4)
    rows_u = uvz[..., 0:1] * P[:, None, 2, :] - P[:, None, 0, :]
    rows_v = uvz[..., 1:2] * P[:, None, 2, :] - P[:, None, 1, :]
    A = np.concatenate([rows_u * w[..., None], rows_v * w[..., None]], axis=0).transpose(1, 0, 2)
    # row scaling keeps the SVD well conditioned for pixel-sized numbers
    scale = np.linalg.norm(A, axis=2, keepdims=True)
    A = A / np.where(scale > 0, scale, 1.0)
    _, _, vt = np.linalg.svd(A)
    Xh = vt[:, -1, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        X = Xh[:, :3] / Xh[:, 3:4]
    X[(w > 0).sum(axis=0) < 2] = np.nan
    return X


def reprojection_errors(P: np.ndarray, X: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """``(V, N)`` pixel distance between ``P @ X`` and ``uv`` (NaN where either is missing or behind the camera)."""
    Xh = np.concatenate([X, np.ones((X.shape[0], 1))], axis=1)
    proj = np.einsum("vij,nj->vni", P, Xh)
    z = proj[..., 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        err = np.linalg.norm(proj[..., :2] / z[..., None] - uv, axis=-1)
    # a point behind a camera can reproject perfectly (P and -P project alike): never accept it
    return np.where(z > 0, err, np.nan)


@dataclass
class RobustTriangulation:
    """Result of :func:`triangulate_robust` for N points.

    ``points (N,3)`` (NaN = invalid), ``valid (N,)``, ``used (V,N)`` views kept, ``max_err (N,)`` and
    ``median_err (N,)`` reprojection error over the kept views, pixels.
    """

    points: np.ndarray
    valid: np.ndarray
    used: np.ndarray
    max_err: np.ndarray
    median_err: np.ndarray


def triangulate_robust(P: np.ndarray, uv: np.ndarray, ok: np.ndarray, gate_px: float, min_views: int = 2,
                       weights: np.ndarray | None = None) -> RobustTriangulation:
    """Per point, the largest subset of usable views (``ok``) whose max reprojection error is below ``gate_px``.

    Every subset of size >= ``min_views`` is tried (largest first, then lowest max error), so one outlier view is
    dropped rather than dragging the point. Raises ValueError on inconsistent shapes or settings.
    """
    P, uv, ok = np.asarray(P, float), np.asarray(uv, float), np.asarray(ok, bool)
    V = P.shape[0] if P.ndim == 3 else -1
    if V < 2 or uv.shape[:1] != (V,) or ok.shape != uv.shape[:2]:
        raise ValueError(f"need P (V>=2, 3, 4), uv (V, N, 2), ok (V, N); got {P.shape}, {uv.shape}, {ok.shape}")
    if V > 12:
        raise ValueError(f"{V} views: the exhaustive subset search is limited to 12")
    if not (np.isfinite(gate_px) and gate_px > 0) or not 2 <= min_views <= V:
        raise ValueError(f"gate_px must be > 0 and 2 <= min_views <= {V}; got {gate_px}, {min_views}")
    N = uv.shape[1]
    ok = ok & np.isfinite(uv).all(axis=-1)
    best_n = np.zeros(N, int)
    best_err = np.full(N, np.inf)
    out = RobustTriangulation(np.full((N, 3), np.nan), np.zeros(N, bool), np.zeros((V, N), bool),
                              np.full(N, np.nan), np.full(N, np.nan))
    for size in range(V, min_views - 1, -1):
        for subset in itertools.combinations(range(V), size):
            s = list(subset)
            cand = ok[s].all(axis=0) & (best_n <= size)
            if not cand.any():
                continue
            idx = np.nonzero(cand)[0]
            w = None if weights is None else weights[s][:, idx]
            X = triangulate_dlt(P[s], uv[s][:, idx], w)
            err = reprojection_errors(P[s], X, uv[s][:, idx])
            emax = np.where(np.isnan(err).any(axis=0), np.inf, err.max(axis=0))
            better = (emax < gate_px) & ((best_n[idx] < size) | (emax < best_err[idx]))
            sel = idx[better]
            best_n[sel], best_err[sel] = size, emax[better]
            out.points[sel] = X[better]
            out.used[:, sel] = False
            out.used[np.ix_(s, sel)] = True
            out.max_err[sel] = emax[better]
            out.median_err[sel] = np.median(err[:, better], axis=0)
    out.valid = best_n >= min_views
    return out


def detection_pair_cost(P2: np.ndarray, A: np.ndarray, B: np.ndarray, okA: np.ndarray, okB: np.ndarray,
                        min_joints: int = 6) -> tuple[np.ndarray, np.ndarray]:
    """How well detections of two views agree: two-view DLT per joint, max reprojection error of the two views.

    ``A (..., Da, J, 2)`` and ``B (..., Db, J, 2)`` are the detections of views ``P2[0]`` and ``P2[1]`` (same
    leading shape), ``okA``/``okB`` their usable joints. Returns the per-joint errors ``(..., Da, Db, J)`` (inf
    behind a camera, NaN where not usable in both) and the median over joints ``(..., Da, Db)`` (inf with fewer
    than ``min_joints`` usable joints).
    """
    ua, ub = np.broadcast_arrays(A[..., :, None, :, :], B[..., None, :, :, :])
    ok = okA[..., :, None, :] & okB[..., None, :, :]
    uv = np.stack([ua.reshape(-1, 2), ub.reshape(-1, 2)])
    w = np.stack([ok.ravel(), ok.ravel()]).astype(float)
    e = reprojection_errors(P2, triangulate_dlt(P2, uv, w), uv).max(axis=0)
    e = np.where(ok.ravel(), np.where(np.isnan(e), np.inf, e), np.nan).reshape(ok.shape)
    with np.errstate(all="ignore"):
        masked = np.where(ok, e, np.nan)
        masked[~ok.any(axis=-1)] = np.inf  # no usable joint: keep nanmedian quiet, the cost is inf anyway
        cost = np.where(ok.sum(-1) >= min_joints, np.nanmedian(masked, axis=-1), np.inf)
    return e, cost


def refine_extrinsics(K: np.ndarray, R: np.ndarray, t: np.ndarray, uv: np.ndarray, ok: np.ndarray, X0: np.ndarray,
                      f_scale: float = 5.0, max_nfev: int = 100) -> tuple[np.ndarray, np.ndarray, dict]:
    """Bundle adjustment of the extrinsics (intrinsics fixed) and the points, robust (soft-L1) loss.

    Parameters
    ----------
    K, R, t : (V,3,3), (V,3,3), (V,3) cameras; ``uv`` (V, N, 2) undistorted pixels, ``ok`` (V, N) which to use,
        ``X0`` (N, 3) finite starting points.
    f_scale : pixels where the loss turns from quadratic to linear (outlier detections count little).

    Camera 1 and the distance between the first two camera centres are held during the fit (the gauge and the
    scale), then all cameras are moved rigidly so their centres best match the starting ones: the world frame
    (floor, axes) stays the calibration's. Returns ``R, t`` and a dict with per-camera ``moved_m``/``rotated_deg``
    and the ``median_residual_px`` before/after.
    """
    from scipy.optimize import least_squares
    from scipy.sparse import coo_matrix
    from scipy.spatial.transform import Rotation

    K, R, t, uv, X0 = (np.asarray(a, float) for a in (K, R, t, uv, X0))
    V = len(K)
    ok = np.asarray(ok, bool) & np.isfinite(uv).all(axis=-1)
    if V < 2 or R.shape != (V, 3, 3) or t.shape != (V, 3) or uv.shape[0] != V or ok.shape != uv.shape[:2] \
            or X0.shape != (uv.shape[1], 3) or not np.isfinite(X0).all():
        raise ValueError(f"need V >= 2 cameras, uv (V, N, 2), ok (V, N) and finite X0 (N, 3); got K {K.shape}, "
                         f"uv {uv.shape}, ok {ok.shape}, X0 {X0.shape}")
    cam, pnt = np.nonzero(ok)
    obs = uv[cam, pnt]
    n_cam = 6 * (V - 1)
    centre = np.einsum("cji,cj->ci", R, -t)
    base = np.linalg.norm(centre[1] - centre[0])

    def unpack(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        d = x[:n_cam].reshape(-1, 6)
        Rs = np.concatenate([R[:1], Rotation.from_rotvec(d[:, :3]).as_matrix() @ R[1:]])
        return Rs, np.concatenate([t[:1], t[1:] + d[:, 3:]]), x[n_cam:].reshape(-1, 3)

    def residuals(x: np.ndarray) -> np.ndarray:
        Rs, ts, X = unpack(x)
        xc = np.einsum("nij,nj->ni", Rs[cam], X[pnt]) + ts[cam]
        uvp = np.einsum("nij,nj->ni", K[cam, :2, :2], xc[:, :2] / xc[:, 2:3]) + K[cam, :2, 2]
        scale = 1e3 * (np.linalg.norm(-Rs[1].T @ ts[1] - centre[0]) - base)  # 1 mm of baseline change ~ 1 px
        return np.r_[(uvp - obs).ravel(), scale]

    # Jacobian sparsity: an observation depends on its point and (cameras 2..) on its camera's 6 parameters
    cam2 = np.repeat(cam, 2)
    moving = np.nonzero(cam2 > 0)[0]
    rows = np.r_[np.repeat(np.arange(2 * len(cam)), 3), np.repeat(moving, 6), np.full(6, 2 * len(cam))]
    cols = np.r_[(n_cam + 3 * np.repeat(pnt, 2)[:, None] + np.arange(3)).ravel(),
                 (6 * (cam2[moving] - 1)[:, None] + np.arange(6)).ravel(), np.arange(6)]
    sparsity = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(2 * len(cam) + 1, n_cam + X0.size))
    x0 = np.r_[np.zeros(n_cam), X0.ravel()]
    res = least_squares(residuals, x0, jac_sparsity=sparsity, loss="soft_l1", f_scale=f_scale, method="trf",
                        tr_solver="lsmr", max_nfev=max_nfev)
    Rs, ts, _ = unpack(res.x)
    new_centre = np.einsum("cji,cj->ci", Rs, -ts)
    # Kabsch: rotation Q and shift s taking the new centres onto the old ones (no scale)
    mu_n, mu_o = new_centre.mean(0), centre.mean(0)
    U, _, Wt = np.linalg.svd((new_centre - mu_n).T @ (centre - mu_o))
    Q = (U @ np.diag([1.0, 1.0, np.sign(np.linalg.det(U @ Wt))]) @ Wt).T
    Rs = Rs @ Q.T
    ts = ts - Rs @ (mu_o - Q @ mu_n)
    r0, r1 = (np.linalg.norm(residuals(x)[:-1].reshape(-1, 2), axis=1) for x in (x0, res.x))
    info = {
        "moved_m": np.linalg.norm(np.einsum("cji,cj->ci", Rs, -ts) - centre, axis=1),
        "rotated_deg": np.degrees(Rotation.from_matrix(Rs @ R.transpose(0, 2, 1)).magnitude()),
        "median_residual_px": (float(np.median(r0)), float(np.median(r1))), "observations": len(cam),
        "evaluations": int(res.nfev),
    }
    return Rs, ts, info
