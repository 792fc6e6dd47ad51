"""A Kinect v1 depth simulator for tests and benchmarks (not used at run time): pose3d16 bodies as capsules over a
wall, with the sensor's disparity noise, quantisation, range and holes.

The body radii are :data:`pose3d_ros.core.depth.JOINT_SURFACE_DEPTH_M`, the offsets the lift adds back: a bench
that must not share the runtime's assumptions renders with ``bench/depth_sim.py`` instead.
"""

from __future__ import annotations

import numpy as np

from pose3d_ros.core.camera import PinholeCamera
from pose3d_ros.core.depth import JOINT_SURFACE_DEPTH_M
from pose3d_ros.core.skeleton import POSE3D16

__all__ = ["KINECT_V1_BASELINE_M", "KINECT_V1_IR_FOCAL_PX", "KINECT_V1_DISPARITY_STEP_PX", "KINECT_V1_NOISE_COEFF",
           "simulate_kinect_depth"]

#: Kinect v1 stereo baseline between IR projector and camera (m), IR focal length (px) and disparity quantisation
#: step (px): Khoshelham & Elberink 2012, "Accuracy and resolution of Kinect depth data" (1/8 px sub-pixel disparity).
KINECT_V1_BASELINE_M = 0.075
KINECT_V1_IR_FOCAL_PX = 580.0
KINECT_V1_DISPARITY_STEP_PX = 1.0 / 8.0
#: Random depth error of Kinect v1 grows with z^2: sigma_z ~= coeff * z^2 (about 4 cm at 5 m; same reference).
KINECT_V1_NOISE_COEFF = 1.5e-3  # 1/m
#: Smallest gap (m) between the farthest body surface and the simulated background wall.
_WALL_BEHIND_M = 0.5



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
