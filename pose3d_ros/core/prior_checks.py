"""Is a pose prior usable? One set of checks for the prior file loader and for every solver that takes a prior.

A corrupt or hand-edited prior (all-zero mixture weights, NaN, negative variances, a mean with another joint count,
zero bone lengths, a body size in millimetres) must be refused where it is loaded, with a message that names the
problem, not accepted and turned into NaN skeletons (or no skeletons) on every frame.
:meth:`pose3d_ros.core.prior.PosePrior.load` prefixes the file name; :class:`pose3d_ros.core.lifting.PoseLifter`
and :class:`pose3d_ros.core.bone_refinement.BoneRefiner` run the same checks on a prior built in memory.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["MIN_BODY_SIZE_M", "MAX_BODY_SIZE_M", "check_prior_parameters", "check_bone_lengths"]

#: Plausible summed bone length (m) of a pose3d16 skeleton: 3.9 m for the shipped prior's adult bodies (~1.75 m
#: tall); 1 m is a toddler's, 8 m a body twice the tallest person's. Outside: a prior in other units (mm, cm).
MIN_BODY_SIZE_M = 1.0
MAX_BODY_SIZE_M = 8.0
#: Largest deviation of a component's basis rows from orthonormal (the Woodbury likelihood assumes U U^T = I).
_ORTHONORMAL_TOL = 1e-3
#: Largest tolerated offset (m) of a mean's pelvis from the origin (the normalised space is root-centred).
_ROOT_TOL_M = 1e-6
#: Relative difference allowed between ``body_size`` and the summed ``bone_lengths`` (they are the same number).
_SIZE_REL_TOL = 0.01


def _where(mask: np.ndarray) -> str:
    """Index of the first True entry of ``mask``, as text (``"component 2"``, ``"component 2, basis 5"``)."""
    idx = np.argwhere(mask)[0]
    names = ("component", "basis")
    return ", ".join(f"{names[i] if i < len(names) else 'axis'} {int(v)}" for i, v in enumerate(idx))


def check_bone_lengths(bone_lengths: np.ndarray, bone_names: Sequence[str] | None = None,
                       what: str = "bone lengths") -> None:
    """Raise ValueError unless every bone length is finite and > 0 (metres).

    Parameters
    ----------
    bone_lengths : (B,) array_like
    bone_names : sequence of str, optional
        Name of each bone for the message (e.g. ``"left_knee-left_hip"``).
    what : str
        What the lengths are, for the message.
    """
    bones = np.asarray(bone_lengths, dtype=np.float64).reshape(-1)
    bad = ~(np.isfinite(bones) & (bones > 0))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        name = f" ({bone_names[i]})" if bone_names is not None and i < len(bone_names) else ""
        raise ValueError(f"{what} must be finite and > 0 m; {int(bad.sum())} of {len(bones)} are not, e.g. bone "
                         f"{i}{name} = {bones[i]}")


def check_prior_parameters(means: np.ndarray, components: np.ndarray, variances: np.ndarray,
                           noise_variance: np.ndarray, weights: np.ndarray, bone_lengths: np.ndarray,
                           body_size: float | np.ndarray, num_joints: int, layout: str = "pose3d16",
                           bone_names: Sequence[str] | None = None) -> None:
    """Raise ValueError naming the first problem of a PPCA mixture prior's parameters.

    Parameters
    ----------
    means : (K, J, 3) ndarray
        Component means (normalised space: pelvis at the origin).
    components : (K, B, 3 J) ndarray
        Orthonormal principal directions per component (the non-root part must be orthonormal).
    variances : (K, B) ndarray
        Variances along the directions (m^2, > 0, >= the component's noise variance).
    noise_variance : (K,) ndarray
        Isotropic residual variance (m^2, > 0).
    weights : (K,) ndarray
        Mixture weights (>= 0, not all zero; normalised by the loader).
    bone_lengths : (J - 1,) ndarray
        Mean bone lengths (m, > 0).
    body_size : float
        Summed bone length (m) = ``bone_lengths.sum()``, in [:data:`MIN_BODY_SIZE_M`, :data:`MAX_BODY_SIZE_M`].
    num_joints : int
        J of ``layout``.
    layout : str
        Layout name, for messages.
    bone_names : sequence of str, optional
        Name of each bone, for messages.

    Raises
    ------
    ValueError
        Shapes that disagree with each other or with the layout, NaN / inf, negative or all-zero weights,
        non-positive variances, variances below the noise variance, a basis that is not orthonormal, a mean whose
        pelvis is not at the origin, non-positive bone lengths, or a body size that is not the summed bone length
        or is implausible for a human body in metres.
    """
    arrays = {"means": np.asarray(means), "components": np.asarray(components), "variances": np.asarray(variances),
              "noise_variance": np.asarray(noise_variance), "weights": np.asarray(weights),
              "bone_lengths": np.asarray(bone_lengths), "body_size": np.asarray(body_size)}
    m = arrays["means"]
    if m.ndim != 3 or m.shape[2] != 3:
        raise ValueError(f"inconsistent array shapes: means must be (K, {num_joints}, 3), got {m.shape}")
    if m.shape[1] != num_joints:
        raise ValueError(f"means have {m.shape[1]} joints but layout {layout!r} has {num_joints} "
                         f"(inconsistent array shapes: means {m.shape})")
    k = m.shape[0]
    if k < 1:
        raise ValueError("the mixture has no components (means of shape (0, J, 3))")
    comps = arrays["components"]
    if comps.ndim != 3 or comps.shape[0] != k or comps.shape[2] != 3 * num_joints or comps.shape[1] < 1:
        raise ValueError(f"inconsistent array shapes: components {comps.shape}, expected ({k}, B, {3 * num_joints})"
                         f" for means {m.shape}")
    expected = {"variances": comps.shape[:2], "noise_variance": (k,), "weights": (k,),
                "bone_lengths": (num_joints - 1,), "body_size": ()}
    for key, shape in expected.items():
        if arrays[key].shape != shape:
            raise ValueError(f"inconsistent array shapes: {key} {arrays[key].shape}, expected {shape} for means "
                             f"{m.shape} and components {comps.shape}")
    for key, value in arrays.items():
        if not np.issubdtype(value.dtype, np.number) or not np.all(np.isfinite(value)):
            raise ValueError(f"array {key!r} holds NaN or inf" if np.issubdtype(value.dtype, np.number)
                             else f"array {key!r} is not numeric ({value.dtype})")
    w = arrays["weights"].astype(np.float64)
    if np.any(w < 0):
        raise ValueError(f"negative mixture weights ({_where(w < 0)}: {w[w < 0][0]})")
    if not w.sum() > 0:
        raise ValueError(f"mixture weights are all zero (weights of {k} components sum to {w.sum()})")
    var, noise = arrays["variances"].astype(np.float64), arrays["noise_variance"].astype(np.float64)
    if np.any(var <= 0):
        raise ValueError(f"non-positive variances ({_where(var <= 0)}: {var[var <= 0][0]} m^2)")
    if np.any(noise <= 0):
        raise ValueError(f"non-positive noise variances ({_where(noise <= 0)}: {noise[noise <= 0][0]} m^2)")
    low = var < noise[:, None] * (1.0 - 1e-9)
    if low.any():
        raise ValueError(f"variances below the component's noise variance ({_where(low)}: "
                         f"{var[low][0]} < {np.broadcast_to(noise[:, None], var.shape)[low][0]} m^2)")
    u = comps[:, :, 3:].astype(np.float64)  # the root's coordinates are fixed at 0 and not modelled
    gram = np.einsum("kbd,kcd->kbc", u, u) - np.eye(u.shape[1])
    if np.abs(gram).max() > _ORTHONORMAL_TOL:
        bad = int(np.abs(gram).max(axis=(1, 2)).argmax())
        raise ValueError(f"principal directions of component {bad} are not orthonormal (|U U^T - I| = "
                         f"{np.abs(gram[bad]).max():.3g})")
    root = np.abs(m[:, 0]).max(axis=1)
    if np.any(root > _ROOT_TOL_M):
        raise ValueError(f"means are not root-centred (component {int(root.argmax())}: pelvis {root.max():.3g} m "
                         "from the origin)")
    check_bone_lengths(arrays["bone_lengths"], bone_names, "mean bone lengths")
    size, total = float(arrays["body_size"]), float(arrays["bone_lengths"].sum())
    if not size > 0:
        raise ValueError(f"body_size must be > 0 m (summed bone length), got {size}")
    if not MIN_BODY_SIZE_M <= size <= MAX_BODY_SIZE_M:
        raise ValueError(f"body_size {size:.4g} is implausible for a human body in metres (summed bone length, "
                         f"expected {MIN_BODY_SIZE_M}-{MAX_BODY_SIZE_M} m; a prior in millimetres or centimetres?)")
    if abs(size - total) > _SIZE_REL_TOL * total:
        raise ValueError(f"body_size {size:.4g} m is not the summed bone lengths {total:.4g} m")
