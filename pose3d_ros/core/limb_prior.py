"""A learned density of limb configurations in the torso frame: pose-conditioned joint limits from 3D data.

A whole-body prior fitted on a few motion clips is too narrow to tell, for a pose it never saw, whether a forearm
points towards the camera or away from it (the two 3D poses that project to the same 2D). A single limb has only
four degrees of freedom (the directions of its two bones), which a few thousand mocap frames cover well, and the
same body constraints hold in every activity: knees do not bend forwards, elbows do not bend backwards, a thigh
cannot swing far behind the hip. So each limb is described by the unit directions of its upper and lower bone in
the torso frame (left, up, forward); right limbs are mirrored onto left ones so both sides share one model, and a
Gaussian kernel density over the training limbs scores a candidate (Akhter & Black, "Pose-conditioned joint angle
limits for 3D human pose reconstruction", CVPR 2015, learn such limits from mocap the same way).

References
----------
I. Akhter and M. J. Black, CVPR 2015.
"""

from __future__ import annotations

import numpy as np

from pose3d_ros.core.skeleton import POSE3D16

# Limbs as (root, middle, end) joints of the pose3d16 layout; the middle joint is a hinge (elbow / knee).
LIMBS = {name: tuple(POSE3D16.index(f"{side}_{joint}") for joint in chain)
         for name, side, chain in (("left_arm", "left", ("shoulder", "elbow", "wrist")),
                                   ("right_arm", "right", ("shoulder", "elbow", "wrist")),
                                   ("left_leg", "left", ("hip", "knee", "ankle")),
                                   ("right_leg", "right", ("hip", "knee", "ankle")))}  # fmt: skip
#: model (0 = arm, 1 = leg) and mirroring of each limb of :data:`LIMBS`, in its order
_LIMB_KIND = np.array([0, 0, 1, 1])
_LIMB_RIGHT = np.array([False, True, False, True])
_I = POSE3D16.index


def torso_frames(poses: np.ndarray) -> np.ndarray:
    """Orthonormal torso frames, columns = (person's left, up along the spine, forward).

    Parameters
    ----------
    poses : (..., 16, 3) ndarray
        pose3d16 joints.

    Returns
    -------
    frames : (..., 3, 3) ndarray
        ``frames[..., :, 0]`` is the left axis (hips + shoulders), ``[..., :, 1]`` the pelvis-to-neck direction made
        orthogonal to it, ``[..., :, 2]`` their cross product.
    """
    across = poses[..., _I("left_hip"), :] - poses[..., _I("right_hip"), :] + poses[..., _I("left_shoulder"), :] \
        - poses[..., _I("right_shoulder"), :]
    up = poses[..., _I("neck"), :] - poses[..., _I("pelvis"), :]
    e1 = across / np.maximum(np.linalg.norm(across, axis=-1, keepdims=True), 1e-9)
    up = up - (up * e1).sum(-1, keepdims=True) * e1
    e2 = up / np.maximum(np.linalg.norm(up, axis=-1, keepdims=True), 1e-9)
    return np.stack([e1, e2, np.cross(e1, e2)], -1)


def limb_features(poses: np.ndarray) -> np.ndarray:
    """Unit directions of each limb's two bones in the torso frame, right limbs mirrored onto the left.

    Parameters
    ----------
    poses : (..., 16, 3) ndarray

    Returns
    -------
    features : (..., 4, 6) ndarray
        Per limb of :data:`LIMBS`: upper bone direction (3) then lower bone direction (3).
    """
    frames = torso_frames(poses)
    joints = np.array(list(LIMBS.values()))  # (4, 3)
    bones = np.stack([poses[..., joints[:, 1], :] - poses[..., joints[:, 0], :],
                      poses[..., joints[:, 2], :] - poses[..., joints[:, 1], :]], -2)  # (..., 4, 2, 3)
    local = np.einsum("...ji,...lbj->...lbi", frames, bones)
    local = local / np.maximum(np.linalg.norm(local, axis=-1, keepdims=True), 1e-9)
    local[..., _LIMB_RIGHT, :, 0] *= -1.0  # mirror: the right limb seen as a left one
    return local.reshape(*local.shape[:-2], 6)


class LimbPrior:
    """Gaussian kernel density over limb features (see the module docstring).

    Parameters
    ----------
    bandwidth : float
        Kernel width in feature units (a difference of unit vectors: 0.2 is about 11 degrees per bone).
    max_samples : int
        Training limbs kept per model (random subset; bounds the cost of scoring).

    Attributes
    ----------
    samples_ : (2, N, 6) ndarray
        Arm and leg training features.
    """

    def __init__(self, bandwidth: float = 0.1, max_samples: int = 3000) -> None:
        if not (np.isfinite(bandwidth) and bandwidth > 0):
            raise ValueError(f"bandwidth must be positive, got {bandwidth}")
        self.bandwidth = float(bandwidth)
        self.max_samples = int(max_samples)

    def fit(self, poses: np.ndarray, random_state: int = 0) -> LimbPrior:
        """Collect the arm and leg features of ``poses`` (N, 16, 3), both sides pooled."""
        feats = limb_features(np.asarray(poses, dtype=np.float64))  # (N, 4, 6)
        rng = np.random.default_rng(random_state)
        models = []
        for kind in (0, 1):
            pooled = feats[:, _LIMB_KIND == kind].reshape(-1, 6)
            pooled = pooled[np.isfinite(pooled).all(1)]
            if len(pooled) == 0:
                raise ValueError("no finite limb in the training poses")
            take = rng.choice(len(pooled), size=min(self.max_samples, len(pooled)), replace=False)
            models.append(pooled[take])
        n = min(len(m) for m in models)
        self.samples_ = np.stack([m[:n] for m in models])
        return self

    @classmethod
    def from_samples(cls, samples: np.ndarray, bandwidth: float) -> LimbPrior:
        """Rebuild from stored :attr:`samples_` (2, N, 6)."""
        samples = np.asarray(samples, dtype=np.float64)
        if samples.ndim != 3 or samples.shape[0] != 2 or samples.shape[2] != 6 or samples.shape[1] == 0:
            raise ValueError(f"limb samples must be (2, N, 6), got shape {samples.shape}")
        prior = cls(bandwidth=float(bandwidth), max_samples=samples.shape[1])
        prior.samples_ = samples
        return prior

    def score_limbs(self, poses: np.ndarray, limbs: np.ndarray | None = None) -> np.ndarray:
        """Log kernel density of limbs of ``poses`` (..., 16, 3), up to a constant shared by all poses.

        Parameters
        ----------
        limbs : (L,) int array_like, optional
            Indices into :data:`LIMBS` to score (default all four).

        Returns
        -------
        log_density : (..., L) ndarray
        """
        which = np.arange(4) if limbs is None else np.asarray(limbs)
        feats = limb_features(poses)[..., which, :]  # (..., L, 6)
        out = np.empty(feats.shape[:-1])
        h2 = 2.0 * self.bandwidth**2
        for li, limb in enumerate(which):
            ref = self.samples_[_LIMB_KIND[limb]]  # (N, 6)
            f = feats[..., li, :].reshape(-1, 6)
            d2 = np.maximum((f**2).sum(1)[:, None] - 2.0 * f @ ref.T + (ref**2).sum(1)[None], 0.0) / h2
            m = d2.min(1)
            out[..., li] = (-m + np.log(np.exp(-(d2 - m[:, None])).mean(1))).reshape(feats.shape[:-2])
        return out
