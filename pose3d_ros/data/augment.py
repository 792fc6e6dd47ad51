"""Augmentation of pose3d16 skeletons for the pose prior: mirroring, rotations, limb recombination, joint-angle
perturbation within anatomical limits and bone-length scaling.

All functions take and return ``(N, 16, 3)`` float arrays in metres (package axes, y down) and use an explicit
``numpy.random.Generator`` so results are reproducible. The few mocap clips (DESIGN.md section 4: the nearest pose of
another clip is 90-180 mm away) are widened this way before :class:`pose3d_ros.core.prior.PosePrior` is fitted.
"""

from __future__ import annotations

import numpy as np

from pose3d_ros.core.limb_prior import LIMBS, torso_frames
from pose3d_ros.core.prior import rotate_y
from pose3d_ros.core.skeleton import POSE3D16
from pose3d_ros.core.skeleton import mirror as _mirror_layout

_MAX_FLEXION = np.deg2rad(160.0)  # elbow / knee: 0 = straight, no hyperextension


def _check(poses: np.ndarray) -> np.ndarray:
    x = np.asarray(poses, dtype=np.float64)
    if x.ndim != 3 or x.shape[1:] != (16, 3):
        raise ValueError(f"poses must be (N, 16, 3), got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("poses contain NaN or inf")
    return x


def mirror(poses: np.ndarray) -> np.ndarray:
    """Left-right mirror: reflect x and swap left/right joints, so the result is again a valid (not chirally
    flipped) body.

    Parameters
    ----------
    poses : (N, 16, 3) array_like

    Returns
    -------
    mirrored : (N, 16, 3) ndarray
    """
    return _mirror_layout(_check(poses), POSE3D16)


def rotate_vertical(poses: np.ndarray, rng: np.random.Generator, max_angle: float = np.pi) -> np.ndarray:
    """Rotate each pose about the vertical (y) axis through its pelvis by a uniform angle in [-max_angle, max_angle]."""
    x = _check(poses)
    root = x[:, :1]
    return rotate_y(x - root, rng.uniform(-max_angle, max_angle, len(x))) + root


def tilt(poses: np.ndarray, rng: np.random.Generator, max_deg: float = 15.0) -> np.ndarray:
    """Small rotations about the horizontal axes (x, z) through the pelvis: camera pitch / roll variety."""
    x = _check(poses)
    a, b = np.deg2rad(rng.uniform(-max_deg, max_deg, (2, len(x))))
    ca, sa, cb, sb = np.cos(a), np.sin(a), np.cos(b), np.sin(b)
    one, zero = np.ones_like(a), np.zeros_like(a)
    rx = np.stack([np.stack([one, zero, zero], -1), np.stack([zero, ca, -sa], -1), np.stack([zero, sa, ca], -1)], -2)
    rz = np.stack([np.stack([cb, -sb, zero], -1), np.stack([sb, cb, zero], -1), np.stack([zero, zero, one], -1)], -2)
    root = x[:, :1]
    return np.einsum("nij,nkj->nki", rz @ rx, x - root) + root


def recombine_limbs(poses: np.ndarray, rng: np.random.Generator, n: int, p_swap: float = 0.5) -> np.ndarray:
    """New poses whose limbs come from other random poses (limb bone directions carried in the torso frame).

    Parameters
    ----------
    poses : (N, 16, 3) array_like
    rng : numpy.random.Generator
    n : int
        Number of poses to make.
    p_swap : float
        Probability that each of the four limbs is taken from another pose.

    Returns
    -------
    recombined : (n, 16, 3) ndarray
        Bone lengths are those of the torso's pose.
    """
    x = _check(poses)
    base = x[rng.integers(len(x), size=n)].copy()
    f_base = torso_frames(base)
    for root, mid, end in LIMBS.values():
        swap = rng.random(n) < p_swap
        if not swap.any():
            continue
        donor = x[rng.integers(len(x), size=int(swap.sum()))]
        f_don = torso_frames(donor)
        b = base[swap]
        fb = f_base[swap]
        lengths = [np.linalg.norm(b[:, c] - b[:, p], axis=-1) for p, c in ((root, mid), (mid, end))]
        for (parent, child), length in zip(((root, mid), (mid, end)), lengths, strict=True):
            local = np.einsum("nji,nj->ni", f_don, donor[:, child] - donor[:, parent])  # donor bone in torso frame
            local *= (length / np.maximum(np.linalg.norm(local, axis=-1), 1e-9))[:, None]  # keep the base's length
            b[:, child] = b[:, parent] + np.einsum("nij,nj->ni", fb, local)
        base[swap] = b
    return base


def _rodrigues(axis: np.ndarray, angle: np.ndarray) -> np.ndarray:
    axis = axis / np.maximum(np.linalg.norm(axis, axis=-1, keepdims=True), 1e-12)
    k = np.zeros(axis.shape[:-1] + (3, 3))
    k[..., 0, 1], k[..., 0, 2], k[..., 1, 2] = -axis[..., 2], axis[..., 1], -axis[..., 0]
    k = k - np.swapaxes(k, -1, -2)
    s, c = np.sin(angle)[..., None, None], np.cos(angle)[..., None, None]
    return np.eye(3) + s * k + (1 - c) * (k @ k)


def perturb_joint_angles(poses: np.ndarray, rng: np.random.Generator, max_deg: float = 20.0) -> np.ndarray:
    """Rotate each upper limb about its root (random axis, up to ``max_deg``) and change each elbow / knee flexion by
    up to ``max_deg`` within [0, 160] degrees (no hyperextension).

    Parameters
    ----------
    poses : (N, 16, 3) array_like
    rng : numpy.random.Generator
    max_deg : float

    Returns
    -------
    perturbed : (N, 16, 3) ndarray
        Bone lengths are unchanged.
    """
    x = _check(poses).copy()
    n = len(x)
    max_rad = np.deg2rad(max_deg)
    for root, mid, end in LIMBS.values():
        rot = _rodrigues(rng.standard_normal((n, 3)), rng.uniform(-max_rad, max_rad, n))
        for j in (mid, end):
            x[:, j] = x[:, root] + np.einsum("nij,nj->ni", rot, x[:, j] - x[:, root])
        upper, lower = x[:, mid] - x[:, root], x[:, end] - x[:, mid]
        cosang = (upper * lower).sum(-1) / np.maximum(
            np.linalg.norm(upper, axis=-1) * np.linalg.norm(lower, axis=-1), 1e-12)
        flexion = np.arccos(np.clip(cosang, -1.0, 1.0))
        axis = np.cross(upper, lower)
        # nearly straight limbs have no defined hinge axis: bend them about the torso's left-right axis
        straight = np.linalg.norm(axis, axis=-1) < 1e-6
        if straight.any():
            axis[straight] = torso_frames(x[straight])[:, :, 0]
        target = np.clip(flexion + rng.uniform(-max_rad, max_rad, n), 0.0, _MAX_FLEXION)
        rot = _rodrigues(axis, target - flexion)
        x[:, end] = x[:, mid] + np.einsum("nij,nj->ni", rot, lower)
    return x


def scale_bones(poses: np.ndarray, rng: np.random.Generator, size_range: tuple[float, float] = (0.85, 1.15),
                proportion_sd: float = 0.04) -> np.ndarray:
    """Body-size variety: one overall factor per pose times a left/right-symmetric factor per bone.

    Parameters
    ----------
    poses : (N, 16, 3) array_like
    rng : numpy.random.Generator
    size_range : (float, float)
        Uniform range of the overall size factor.
    proportion_sd : float
        Standard deviation of the per-bone factor around 1.

    Returns
    -------
    scaled : (N, 16, 3) ndarray
        Rebuilt from the pelvis outwards with the same bone directions; the pelvis keeps its position.
    """
    x = _check(poses)
    lo, hi = size_range
    if not 0 < lo <= hi:
        raise ValueError(f"size_range must satisfy 0 < low <= high, got {size_range}")
    n = len(x)
    per_bone = 1.0 + proportion_sd * rng.standard_normal((n, POSE3D16.num_joints))
    per_bone = 0.5 * (per_bone + per_bone[:, POSE3D16.mirror_index])  # same proportions left and right
    factor = rng.uniform(lo, hi, n)[:, None] * np.clip(per_bone, 0.8, 1.2)
    out = x.copy()
    for j in POSE3D16.order[1:]:  # parents before children, the root kept
        p = POSE3D16.parents[j]
        out[:, j] = out[:, p] + (x[:, j] - x[:, p]) * factor[:, j : j + 1]
    return out


def augment(poses: np.ndarray, rng: np.random.Generator, n_out: int, mirror_half: bool = True) -> np.ndarray:
    """The standard augmentation for prior training: originals (+ mirrored), limb recombinations, joint-angle
    perturbations, tilts and bone scaling, ``n_out`` poses in all (at least the originals).

    Parameters
    ----------
    poses : (N, 16, 3) array_like
    rng : numpy.random.Generator
    n_out : int
    mirror_half : bool
        Add the mirrored originals.

    Returns
    -------
    augmented : (M, 16, 3) ndarray, M = max(n_out, N or 2N)
    """
    x = _check(poses)
    base = np.concatenate([x, mirror(x)]) if mirror_half else x
    extra = max(n_out - len(base), 0)
    if extra == 0:
        return base
    new = recombine_limbs(base, rng, extra, p_swap=0.5)
    new = perturb_joint_angles(new, rng, max_deg=15.0)
    new = tilt(new, rng, max_deg=10.0)
    new = scale_bones(new, rng)
    return np.concatenate([base, new])
