"""An independent Kinect v1 depth simulator for the benchmarks: ray casting against a body of swept spheres.

It shares nothing with the lifter's depth model (``core.depth``: ``JOINT_SURFACE_DEPTH_M``, the ``c z^2`` noise
law): its own body radii (adult segment radii from circumference tables, scaled with the person's bone lengths),
its own sensor model (disparity from a 7.5 cm baseline and 580 px focal length, Gaussian disparity noise, 1/8 px
quantisation, shadow holes at silhouette edges) and its own geometry (every pixel's ray hits spheres swept along
each bone, 4 per radius, surface error < 3 % of the radius).
"""

from __future__ import annotations

import numpy as np

# segment radii (m) of a 1.75 m adult: (joint a, joint b, radius), pose3d16 indices
_SEGMENTS = (
    (10, 4, 0.085), (13, 7, 0.085), (0, 2, 0.115),  # torso sides + core
    (2, 3, 0.055), (3, 3, 0.095),  # neck, head
    (4, 5, 0.047), (7, 8, 0.047), (5, 6, 0.036), (8, 9, 0.036),  # upper arms, forearms
    (10, 11, 0.078), (13, 14, 0.078), (11, 12, 0.052), (14, 15, 0.052),  # thighs, shins
    (6, 6, 0.045), (9, 9, 0.045), (12, 12, 0.05), (15, 15, 0.05),  # hands, feet
)
_REFERENCE_THIGH_M = 0.43
BASELINE_M = 0.075
FOCAL_PX = 580.0
DISPARITY_SIGMA_PX = 0.08
RANGE_M = (0.5, 4.5)


def _spheres(pose: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centres (S, 3) and radii (S,) of the swept-sphere body of one pose3d16 pose (metres, camera frame)."""
    size = np.linalg.norm(pose[11] - pose[10]) / _REFERENCE_THIGH_M  # radii follow the body's size
    centres, radii = [], []
    for a, b, r in _SEGMENTS:
        r = r * float(np.clip(size, 0.7, 1.3))
        n = max(int(np.ceil(np.linalg.norm(pose[b] - pose[a]) / (r / 4))), 1)
        f = np.linspace(0.0, 1.0, n + 1)[:, None]
        centres.append(pose[a] + f * (pose[b] - pose[a]))
        radii.append(np.full(n + 1, r))
    return np.concatenate(centres), np.concatenate(radii)


def render_depth(people: np.ndarray, fx: float, fy: float, cx: float, cy: float, size: tuple[int, int],
                 rng: np.random.Generator, wall_m: float = 4.0) -> np.ndarray:
    """Depth image (H, W) float32 metres, NaN = no reading, of ``people`` (P, 16, 3) in front of a wall.

    Sensor: disparity ``d = f b / z`` + N(0, 0.08 px), rounded to 1/8 px, back to depth; outside 0.5-4.5 m invalid;
    pixels next to a depth step of more than 10 cm lose their reading with probability 0.5 (the projector's
    shadow)."""
    h, w = size
    z = np.full((h, w), float(wall_m))
    for pose in np.asarray(people, dtype=np.float64).reshape(-1, 16, 3):
        for c, r in zip(*_spheres(pose), strict=True):
            if c[2] <= r:
                continue
            u0, v0 = fx * c[0] / c[2] + cx, fy * c[1] / c[2] + cy
            ru, rv = fx * r / (c[2] - r), fy * r / (c[2] - r)
            x0, x1 = int(max(np.floor(u0 - ru), 0)), int(min(np.ceil(u0 + ru) + 1, w))
            y0, y1 = int(max(np.floor(v0 - rv), 0)), int(min(np.ceil(v0 + rv) + 1, h))
            if x0 >= x1 or y0 >= y1:
                continue
            uu, vv = np.meshgrid(np.arange(x0, x1), np.arange(y0, y1))
            d = np.stack([(uu - cx) / fx, (vv - cy) / fy, np.ones_like(uu, dtype=float)], -1)  # ray, z = 1
            dc, dd = d @ c, (d * d).sum(-1)
            disc = dc * dc - dd * (c @ c - r * r)
            hit = disc >= 0
            t = np.where(hit, (dc - np.sqrt(np.maximum(disc, 0.0))) / dd, np.inf)  # t = z, the ray has z = 1
            z[y0:y1, x0:x1] = np.minimum(z[y0:y1, x0:x1], t)
    disparity = FOCAL_PX * BASELINE_M / z + DISPARITY_SIGMA_PX * rng.standard_normal(z.shape)
    z = FOCAL_PX * BASELINE_M / np.maximum(np.round(disparity * 8.0) / 8.0, 1e-3)
    step = np.zeros((h, w), bool)
    step[:, 1:] |= np.abs(np.diff(z, axis=1)) > 0.1
    step[1:, :] |= np.abs(np.diff(z, axis=0)) > 0.1
    z[step & (rng.random((h, w)) < 0.5)] = np.nan
    z[(z < RANGE_M[0]) | (z > RANGE_M[1])] = np.nan
    return z.astype(np.float32)
