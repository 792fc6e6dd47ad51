"""Depth lifting: robust per-joint depth sampling, fusion of measured depth with the prior's pose, and a Kinect v1
depth simulator for benchmarks.

A depth camera sees the body *surface*: the depth at a joint's pixel is in front of the joint centre by roughly the
limb radius (:data:`JOINT_SURFACE_DEPTH_M`). :func:`fuse_with_depth` adds that offset back by default, and
:func:`simulate_kinect_depth` renders bodies as capsules of the same radii.
"""

from __future__ import annotations

import math

import numpy as np

from .camera import PinholeCamera
from .skeleton import POSE3D16, SkeletonLayout, get_layout

__all__ = [
    "JOINT_SURFACE_DEPTH_M",
    "KINECT_V1_BASELINE_M",
    "KINECT_V1_IR_FOCAL_PX",
    "KINECT_V1_DISPARITY_STEP_PX",
    "sample_joint_depth",
    "fuse_with_depth",
    "simulate_kinect_depth",
]

#: Approximate distance (metres) from the front body surface to the joint centre, per pose3d16 joint (adult; the
#: torso joints sit deep inside the trunk, limb joints about one limb radius behind the skin).
JOINT_SURFACE_DEPTH_M = np.array(
    [0.10, 0.10, 0.07, 0.09, 0.05, 0.04, 0.03, 0.05, 0.04, 0.03, 0.07, 0.05, 0.04, 0.07, 0.05, 0.04]
)
JOINT_SURFACE_DEPTH_M.setflags(write=False)

#: Kinect v1 stereo baseline between IR projector and camera (m), IR focal length (px) and disparity quantisation
#: step (px): Khoshelham & Elberink 2012, "Accuracy and resolution of Kinect depth data" (1/8 px sub-pixel disparity).
KINECT_V1_BASELINE_M = 0.075
KINECT_V1_IR_FOCAL_PX = 580.0
KINECT_V1_DISPARITY_STEP_PX = 1.0 / 8.0
#: Random depth error of Kinect v1 grows with z^2: sigma_z ~= coeff * z^2 (about 4 cm at 5 m; same reference).
KINECT_V1_NOISE_COEFF = 1.5e-3  # 1/m
#: A surface seen this far (m) behind an inferred joint is taken for background, not for the body hiding the joint.
_BACKGROUND_GAP_M = 0.3
#: Smallest gap (m) between the farthest body surface and the simulated background wall.
_WALL_BEHIND_M = 0.5
#: Limb radius (m) for the self-occlusion test of layouts other than pose3d16.
_DEFAULT_LIMB_RADIUS_M = 0.05


def _check_depth(depth_m: np.ndarray) -> np.ndarray:
    d = np.asarray(depth_m)
    if d.ndim != 2:
        raise ValueError(f"depth_m must be a 2-D (H, W) image in metres, got shape {d.shape}")
    if not np.issubdtype(d.dtype, np.floating):
        raise ValueError(f"depth_m must be float metres (use depth_to_metres for 16UC1), got dtype {d.dtype}")
    return d


def sample_joint_depth(
    depth_m: np.ndarray,
    uv: np.ndarray,
    window: int = 5,
    band_m: float = 0.10,
    min_fraction: float = 0.2,
) -> np.ndarray:
    """Robust depth (metres) at each joint pixel.

    Takes the valid pixels (finite, > 0) in a ``window`` x ``window`` square around each joint, splits their
    sorted depths into clusters wherever consecutive values jump by more than ``band_m`` (a silhouette edge: the
    background is far behind the person), and returns the median of the nearest cluster holding at least
    ``min_fraction`` of the valid pixels (so isolated flying pixels in front do not win).

    Parameters
    ----------
    depth_m : (H, W) float array_like
        Depth in metres, NaN/0/negative = invalid (see :func:`pose3d_ros.core.camera.depth_to_metres`).
    uv : (..., 2) array_like
        Joint pixels (column, row). NaN pixels give NaN.
    window : int, optional
        Side of the square window in pixels (odd; even values are rounded up). 1 samples the pixel only.
    band_m : float, optional
        Depth gap (m) that separates two surfaces.
    min_fraction : float, optional
        Minimal share of the valid window pixels a cluster needs, in (0, 1].

    Returns
    -------
    (...) float64 ndarray
        Depth per joint; NaN where the pixel is unknown, outside the image, or the window has no valid depth.

    Raises
    ------
    ValueError
        On bad shapes, a non-float depth image, ``window < 1``, ``band_m <= 0`` or ``min_fraction`` outside (0, 1].
    """
    d = _check_depth(depth_m)
    q = np.asarray(uv, dtype=np.float64)
    if q.ndim < 1 or q.shape[-1] != 2:
        raise ValueError(f"uv must have shape (..., 2), got {q.shape}")
    if int(window) < 1:
        raise ValueError(f"window must be >= 1 pixel, got {window}")
    if not band_m > 0:
        raise ValueError(f"band_m must be > 0, got {band_m}")
    if not 0 < min_fraction <= 1:
        raise ValueError(f"min_fraction must be in (0, 1], got {min_fraction}")
    lead = q.shape[:-1]
    q = q.reshape(-1, 2)
    h, w = d.shape
    r = int(window) // 2
    offsets = np.arange(-r, r + 1)
    # Nearest pixel centre; unknown / outside joints are parked at (0, 0) and masked below.
    with np.errstate(invalid="ignore"):
        col = np.rint(q[:, 0])
        row = np.rint(q[:, 1])
        inside = np.isfinite(q).all(axis=1) & (col >= 0) & (col < w) & (row >= 0) & (row < h)
    col = np.where(inside, col, 0).astype(np.int64)
    row = np.where(inside, row, 0).astype(np.int64)
    rr = row[:, None, None] + offsets[None, :, None]
    cc = col[:, None, None] + offsets[None, None, :]
    in_img = (rr >= 0) & (rr < h) & (cc >= 0) & (cc < w)
    vals = d[np.clip(rr, 0, h - 1), np.clip(cc, 0, w - 1)].astype(np.float64).reshape(q.shape[0], -1)
    ok = in_img.reshape(q.shape[0], -1) & np.isfinite(vals) & (vals > 0) & inside[:, None]
    vals = np.where(ok, vals, np.inf)
    vals.sort(axis=1)  # invalid (inf) last
    valid = np.isfinite(vals)
    n_valid = valid.sum(axis=1)
    with np.errstate(invalid="ignore"):
        jump = np.diff(vals, axis=1) > band_m
    cluster = np.concatenate([np.zeros((vals.shape[0], 1), dtype=np.int64), np.cumsum(jump, axis=1)], axis=1)
    same = (cluster[:, :, None] == cluster[:, None, :]) & valid[:, None, :]
    size = same.sum(axis=2)
    need = np.maximum(1, np.ceil(min_fraction * n_valid - 1e-9))
    eligible = valid & (size >= need[:, None])
    first = np.argmax(eligible, axis=1)
    chosen = cluster[np.arange(vals.shape[0]), first]
    # Values are sorted, so a cluster is a contiguous run: its median comes from two order statistics.
    rows = np.arange(vals.shape[0])
    start = np.argmax(cluster == chosen[:, None], axis=1)
    count = size[rows, first]
    lo = vals[rows, np.minimum(start + (count - 1) // 2, vals.shape[1] - 1)]
    hi = vals[rows, np.minimum(start + count // 2, vals.shape[1] - 1)]
    out = np.where(eligible.any(axis=1), 0.5 * (lo + hi), np.nan)
    return out.reshape(lead)


def _self_occluded(
    pose: np.ndarray, uv: np.ndarray, camera: PinholeCamera, lay: SkeletonLayout, margin: float, zref: np.ndarray
) -> np.ndarray:
    """(J,) bool: the joint's pixel is covered by a body segment (capsule of the joints' surface radii, not
    incident to the joint) lying more than ``margin`` in front of the joint's reference depth ``zref`` (J,)."""
    radii = JOINT_SURFACE_DEPTH_M if lay is POSE3D16 else np.full(lay.num_joints, _DEFAULT_LIMB_RADIUS_M)
    f = 0.5 * (camera.fx + camera.fy)
    seg = np.array(lay.bones)  # (B, 2)
    pa, pb = pose[seg[:, 0]], pose[seg[:, 1]]
    ua, ub = camera.project(pa), camera.project(pb)  # (B, 2)
    d = ub - ua
    dd = np.maximum((d * d).sum(axis=1), 1e-9)
    t = np.clip(((uv[:, None, :] - ua[None]) * d[None]).sum(axis=2) / dd[None], 0.0, 1.0)  # (J, B)
    closest = ua[None] + t[..., None] * d[None]
    dist = np.linalg.norm(uv[:, None, :] - closest, axis=2)
    zc = pa[None, :, 2] + t * (pb[None, :, 2] - pa[None, :, 2])
    rc = radii[seg[:, 0]][None] + t * (radii[seg[:, 1]] - radii[seg[:, 0]])[None]
    cover = dist < rc * f / np.maximum(zc, 1e-3)
    in_front = zc < zref[:, None] - margin
    joint = np.arange(lay.num_joints)[:, None]
    incident = (seg[None, :, 0] == joint) | (seg[None, :, 1] == joint)
    with np.errstate(invalid="ignore"):
        return (cover & in_front & ~incident).any(axis=1)


def fuse_with_depth(
    prior_pose: np.ndarray,
    uv: np.ndarray,
    joint_depth: np.ndarray,
    camera: PinholeCamera,
    conf: np.ndarray | None = None,
    *,
    max_deviation_m: float = 0.25,
    bone_tolerance: float = 0.3,
    rescale: bool = True,
    surface_offset_m: np.ndarray | float | None = None,
    min_conf: float = 0.05,
    occlusion_margin_m: float | None = 0.1,
    layout: str | SkeletonLayout = POSE3D16,
) -> tuple[np.ndarray, np.ndarray]:
    """Fuse a lifted (prior) 3D pose with per-joint depth measurements.

    1. Back-project joints with valid depth (plus the surface-to-centre offset) to 3D.
    2. Align the prior pose to them robustly: a scale about the camera centre (the depth ambiguity of a lifted
       pose; keeps its projection) when ``rescale``, then a translation, each by least squares over inliers
       (deviation < ``max_deviation_m``, re-estimated twice from a median start).
    3. Walk the skeleton from the root: an inlier joint keeps its measurement unless its bone to a *measured*
       parent deviates from the aligned prior's length by more than ``bone_tolerance`` (implausible bones are
       pulled back). Other joints with a pixel (no depth, hole, occluded, outlier) go on their pixel ray (keeping
       the 2D evidence) at the prior's depth relative to a measured parent, else at the aligned prior's depth,
       moved back to the surface seen at their pixel if they are in front of it (a joint is inside the body) and
       the bone allows. Joints without a pixel hang off the fused parent with the prior's bone vector.
    4. Self-occlusion: a measured joint whose pixel is covered by another segment of the fused body (capsules of
       radius :data:`JOINT_SURFACE_DEPTH_M`) lying more than ``occlusion_margin_m`` in front of the aligned prior's
       joint saw the occluder, not itself: it is dropped and step 3 runs again.

    Defaults were chosen on lifted held-out DeepMimic poses with :func:`simulate_kinect_depth` (see
    ``bench/bench_lifting.py``).

    Parameters
    ----------
    prior_pose : (J, 3) array_like
        Pose from the lifting (camera frame, metres). Must be finite.
    uv : (J, 2) array_like
        Joint pixels; NaN = unknown.
    joint_depth : (J,) array_like
        Depth per joint (m), e.g. from :func:`sample_joint_depth`; NaN = invalid.
    camera : PinholeCamera
    conf : (J,) array_like, optional
        2D confidences; joints under ``min_conf`` are treated as unknown pixels.
    max_deviation_m : float, optional
        Largest distance (m) between a measurement and the aligned prior for the measurement to count.
    bone_tolerance : float, optional
        Largest relative bone-length deviation from the prior accepted for a measured joint.
    rescale : bool, optional
        Estimate the scale about the camera centre from depth (metric body size); else only translate.
    surface_offset_m : float or (J,) array_like, optional
        Added to the measured depth to reach the joint centre. Default :data:`JOINT_SURFACE_DEPTH_M` for pose3d16,
        0 for other layouts.
    min_conf : float, optional
    occlusion_margin_m : float or None, optional
        Depth margin of the self-occlusion test (step 4); None disables it.
    layout : str or SkeletonLayout, optional
        Skeleton of the pose (tree walked in step 3).

    Returns
    -------
    pose : (J, 3) float64 ndarray
        Fused pose, finite.
    measured : (J,) bool ndarray
        True where the position is the depth measurement, False where inferred (prior / bone constraint).

    Raises
    ------
    ValueError
        On shape mismatches, a non-finite prior pose or non-positive thresholds.
    """
    lay = get_layout(layout)
    nj = lay.num_joints
    prior = np.asarray(prior_pose, dtype=np.float64)
    q = np.asarray(uv, dtype=np.float64)
    z = np.asarray(joint_depth, dtype=np.float64)
    if prior.shape != (nj, 3):
        raise ValueError(f"prior_pose must have shape ({nj}, 3), got {prior.shape}")
    if not np.isfinite(prior).all():
        raise ValueError("prior_pose has non-finite values; lift the pose before fusing with depth")
    if q.shape != (nj, 2):
        raise ValueError(f"uv must have shape ({nj}, 2), got {q.shape}")
    if z.shape != (nj,):
        raise ValueError(f"joint_depth must have shape ({nj},), got {z.shape}")
    c = np.ones(nj) if conf is None else np.asarray(conf, dtype=np.float64)
    if c.shape != (nj,):
        raise ValueError(f"conf must have shape ({nj},), got {c.shape}")
    if not max_deviation_m > 0 or not bone_tolerance > 0:
        raise ValueError(
            f"thresholds must be > 0, got max_deviation_m={max_deviation_m}, bone_tolerance={bone_tolerance}"
        )
    if surface_offset_m is None:
        offset = JOINT_SURFACE_DEPTH_M if lay is POSE3D16 else np.zeros(nj)
    else:
        offset = np.broadcast_to(np.asarray(surface_offset_m, dtype=np.float64), (nj,))

    with np.errstate(invalid="ignore"):
        pixel_ok = np.isfinite(q).all(axis=1) & np.isfinite(c) & (c >= min_conf)
        depth_ok = pixel_ok & np.isfinite(z) & (z > 0)
    meas = camera.back_project(q, np.where(depth_ok, z + offset, np.nan))

    aligned = prior.copy()
    inlier = depth_ok.copy()
    if depth_ok.any():
        idx = np.flatnonzero(depth_ok)
        if rescale:
            ratio = meas[idx, 2] / np.maximum(prior[idx, 2], 1e-6)
            s = float(np.median(ratio)) if np.all(prior[idx, 2] > 0) else 1.0
            aligned = prior * s
        t = np.median(meas[idx] - aligned[idx], axis=0)
        for _ in range(2):
            dev = np.linalg.norm(meas - (aligned + t), axis=1)
            inlier = depth_ok & (dev < max_deviation_m)
            if not inlier.any():
                break
            ii = np.flatnonzero(inlier)
            if rescale and ii.size >= 3:
                # Least squares for s (about the camera centre) and t: min ||s P + t - M||^2.
                p0 = prior[ii] - prior[ii].mean(axis=0)
                m0 = meas[ii] - meas[ii].mean(axis=0)
                denom = float((p0 * p0).sum())
                if denom > 1e-9:
                    s_ls = float((p0 * m0).sum()) / denom
                    if 0.5 * s < s_ls < 2.0 * s:  # a wild scale means too few / degenerate inliers: keep the median
                        s = s_ls
                aligned = prior * s
            t = (meas[ii] - aligned[ii]).mean(axis=0)
        aligned = aligned + t
        inlier = depth_ok & (np.linalg.norm(meas - aligned, axis=1) < max_deviation_m)

    parents = lay.parents
    bones = aligned - aligned[np.maximum(parents, 0)]
    lengths = np.sqrt((bones * bones).sum(axis=1))
    rays = np.column_stack([(q[:, 0] - camera.cx) / camera.fx, (q[:, 1] - camera.cy) / camera.fy, np.ones(nj)])
    # Two passes: the first fuses, then joints whose pixel is covered by another fused body segment in front of
    # them (their depth is the occluder's) lose their measurement, and the second pass re-fuses without them.
    for _pass in range(1 if occlusion_margin_m is None else 2):
        pose = aligned.copy()
        measured = np.zeros(nj, dtype=bool)
        for j in lay.order:
            p = parents[j]
            if inlier[j]:
                # Bone check against a measured parent only: an inferred parent is no evidence against a measurement.
                diff = meas[j] - pose[p] if p >= 0 else None
                if diff is None or not measured[p] or (
                    abs(math.sqrt(diff @ diff) - lengths[j]) <= bone_tolerance * max(lengths[j], 1e-6)
                ):
                    pose[j] = meas[j]
                    measured[j] = True
                    continue
            if p < 0:
                continue
            if pixel_ok[j]:
                # Keep the 2D evidence: the joint on its pixel ray, at the prior's depth relative to a measured parent
                # (else the aligned prior's depth), not in front of the surface seen at its pixel (the joint is inside
                # the body) unless that surface is far behind (background through a gap) or the bone forbids it.
                zj = pose[p, 2] + bones[j, 2] if measured[p] else aligned[j, 2]
                if depth_ok[j] and zj < z[j] < zj + _BACKGROUND_GAP_M:
                    diff = rays[j] * z[j] - pose[p]
                    if abs(math.sqrt(diff @ diff) - lengths[j]) <= bone_tolerance * max(lengths[j], 1e-6):
                        zj = z[j]
                if zj > 0:
                    pose[j] = rays[j] * zj
                    continue
            pose[j] = pose[p] + bones[j]
        if occlusion_margin_m is not None and _pass == 0:
            occluded = _self_occluded(pose, q, camera, lay, occlusion_margin_m, aligned[:, 2])
            if not (occluded & measured).any():
                break
            inlier = inlier & ~occluded

    return pose, measured


def simulate_kinect_depth(
    points: np.ndarray,
    camera: PinholeCamera,
    rng: np.random.Generator,
    *,
    radii_m: np.ndarray | None = None,
    background_m: float | None = 3.5,
    noise: bool = True,
    quantise: bool = True,
    hole_fraction: float = 0.01,
    hole_radius_px: tuple[int, int] = (1, 4),
    range_m: tuple[float, float] = (0.5, 4.5),
) -> np.ndarray:
    """Render a Kinect-v1-like depth image of pose3d16 people (for benchmarks and tests).

    Each bone is a capsule whose radius interpolates ``radii_m`` of its end joints (the head a sphere); the visible
    surface depth is z-buffered over a flat background wall. Sensor effects, in order: Gaussian disparity noise
    (``sigma_z = KINECT_V1_NOISE_COEFF * z^2``), disparity quantisation to 1/8 px (depth step grows with z^2:
    ~1 cm at 2 m), out-of-range pixels invalid, and random circular holes covering about ``hole_fraction``.

    Parameters
    ----------
    points : (J, 3) or (P, J, 3) array_like
        pose3d16 joints in metres, camera frame.
    camera : PinholeCamera
        Depth registered to this camera (image size = camera size).
    rng : numpy.random.Generator
    radii_m : (J,) array_like, optional
        Body radius at each joint; default :data:`JOINT_SURFACE_DEPTH_M`.
    background_m : float or None, optional
        Depth of a fronto-parallel wall, moved back to :data:`_WALL_BEHIND_M` behind the farthest body surface when
        people stand beyond it; None = no return (NaN) where no person is.
    noise, quantise : bool, optional
    hole_fraction : float, optional
        Approximate share of pixels turned invalid by holes, in [0, 1).
    hole_radius_px : (int, int), optional
        Range of hole radii.
    range_m : (float, float), optional
        Valid depth range of the sensor.

    Returns
    -------
    (H, W) float32 ndarray
        Metres, NaN = invalid (as from ``depth_to_metres``).
    """
    pts = np.asarray(points, dtype=np.float64)
    if pts.ndim == 2:
        pts = pts[None]
    if pts.ndim != 3 or pts.shape[1:] != (POSE3D16.num_joints, 3):
        raise ValueError(f"points must have shape (16, 3) or (P, 16, 3), got {np.shape(points)}")
    radii = JOINT_SURFACE_DEPTH_M if radii_m is None else np.asarray(radii_m, dtype=np.float64)
    if radii.shape != (POSE3D16.num_joints,):
        raise ValueError(f"radii_m must have shape (16,), got {radii.shape}")
    if not 0 <= hole_fraction < 1:
        raise ValueError(f"hole_fraction must be in [0, 1), got {hole_fraction}")
    h, w = camera.height, camera.width
    zbuf = np.full((h, w), np.inf)
    f = 0.5 * (camera.fx + camera.fy)
    head = POSE3D16.index("head")
    segments = [(a, b) for a, b in POSE3D16.bones if b != head] + [(head, head)]
    for person in pts:
        if not np.isfinite(person).all():
            continue
        uv = camera.project(person)
        for a, b in segments:
            za, zb = person[a, 2], person[b, 2]
            if za <= 0.05 or zb <= 0.05:
                continue
            ra, rb = radii[a], radii[b]
            if a == b:
                ra = rb = 0.11  # head sphere (m)
            pa, pb = uv[a], uv[b]
            r_px = max(ra * f / za, rb * f / zb)
            lo = np.floor(np.minimum(pa, pb) - r_px).astype(int)
            hi = np.ceil(np.maximum(pa, pb) + r_px).astype(int)
            c0, r0 = max(lo[0], 0), max(lo[1], 0)
            c1, r1 = min(hi[0], w - 1), min(hi[1], h - 1)
            if c1 < c0 or r1 < r0:
                continue
            vv, uu = np.mgrid[r0 : r1 + 1, c0 : c1 + 1]
            seg = pb - pa
            seg2 = float(seg @ seg)
            if seg2 > 1e-12:
                t = np.clip(((uu - pa[0]) * seg[0] + (vv - pa[1]) * seg[1]) / seg2, 0.0, 1.0)
            else:
                t = np.zeros(uu.shape)
            du = uu - (pa[0] + t * seg[0])
            dv = vv - (pa[1] + t * seg[1])
            dist = np.sqrt(du * du + dv * dv)
            zc = za + t * (zb - za)
            rm = ra + t * (rb - ra)
            rp = rm * f / zc
            inside = dist < rp
            if not inside.any():
                continue
            surf = zc - rm * np.sqrt(np.clip(1.0 - (dist / rp) ** 2, 0.0, 1.0))
            sub = zbuf[r0 : r1 + 1, c0 : c1 + 1]
            np.minimum(sub, np.where(inside, surf, np.inf), out=sub)
    if background_m is not None:
        # a wall stands behind the people: one standing beyond background_m would otherwise be seen through it
        body = zbuf[np.isfinite(zbuf)]
        wall = max(float(background_m), float(body.max()) + _WALL_BEHIND_M) if body.size else float(background_m)
        zbuf[np.isinf(zbuf)] = wall
    depth = np.where(np.isinf(zbuf), np.nan, zbuf)

    fb = KINECT_V1_IR_FOCAL_PX * KINECT_V1_BASELINE_M
    with np.errstate(divide="ignore", invalid="ignore"):
        disparity = fb / depth
        if noise:
            # sigma_d = fb * sigma_z / z^2 = fb * coeff: constant in disparity.
            disparity = disparity + rng.normal(0.0, fb * KINECT_V1_NOISE_COEFF, size=depth.shape)
        if quantise:
            disparity = np.round(disparity / KINECT_V1_DISPARITY_STEP_PX) * KINECT_V1_DISPARITY_STEP_PX
        depth = fb / disparity
    depth[~np.isfinite(depth) | (depth < range_m[0]) | (depth > range_m[1])] = np.nan

    if hole_fraction > 0:
        rmin, rmax = hole_radius_px
        mean_area = np.pi * ((rmin + rmax) / 2.0) ** 2
        n_holes = rng.poisson(hole_fraction * h * w / max(mean_area, 1.0))
        if n_holes:
            cu = rng.integers(0, w, n_holes)
            cv = rng.integers(0, h, n_holes)
            rad = rng.integers(rmin, rmax + 1, n_holes)
            for u0, v0, rr in zip(cu, cv, rad, strict=True):
                vv, uu = np.ogrid[max(v0 - rr, 0) : min(v0 + rr + 1, h), max(u0 - rr, 0) : min(u0 + rr + 1, w)]
                disk = (uu - u0) ** 2 + (vv - v0) ** 2 <= rr * rr
                depth[max(v0 - rr, 0) : min(v0 + rr + 1, h), max(u0 - rr, 0) : min(u0 + rr + 1, w)][disk] = np.nan
    return depth.astype(np.float32)
