"""Probabilistic 3D human pose prior: a mixture of probabilistic PCA (Tipping & Bishop 1999) fitted with EM.

Poses are modelled after three normalisations (:meth:`PosePrior.normalize`): root-centred (pelvis at the origin),
scale-normalised (each skeleton rescaled so that its summed bone length equals the training mean, so the model
space is "metres of an average body"), and turned about the vertical (y) axis to face the camera (-z, the person's
left at +x). The lifter searches the rotation about the vertical axis, so the prior only models articulation.

Each component ``k`` is a Gaussian ``N(mean_k, C_k)`` with ``C_k = U_k^T diag(variances_k - noise_k) U_k +
noise_k I`` over the ``3 (J - 1)`` non-root coordinates; ``components_[k]`` holds the ``B`` orthonormal rows ``U_k``.
Likelihoods use the matrix inversion lemma (Woodbury) so no ``D x D`` matrix is ever inverted.

References
----------
M. E. Tipping and C. M. Bishop, "Mixtures of probabilistic principal component analyzers", Neural Computation 1999.
D. Tome, C. Russell and L. Agapito, "Lifting from the Deep", CVPR 2017 (the prior as a layer of a 2D pose CNN).
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path

import numpy as np

from pose3d_ros.core.limb_prior import LimbPrior
from pose3d_ros.core.npz_files import read_npz
from pose3d_ros.core.prior_checks import check_prior_parameters
from pose3d_ros.core.skeleton import POSE3D16, bone_lengths, skeleton_size  # also re-exported: see below

# Topology lives in core.skeleton. bone_lengths, skeleton_size (imported above) and pose3d16_parents (below) stay
# importable from here for the callers not yet switched: core.lifting, core.subspace_fit, core.bone_refinement,
# test/test_core_lifting.py, test/test_core_bone_refinement.py.

#: file format version written by :meth:`PosePrior.save` (2 added the limb density); :meth:`PosePrior.load` reads
#: the versions in :data:`READABLE_FORMAT_VERSIONS` and refuses others.
PRIOR_FORMAT_VERSION = 2
READABLE_FORMAT_VERSIONS = (1, 2)
PRIOR_RESOURCE = ("resources", "prior", "pose_prior_pose3d16.npz")
LAYOUT_NAME = "pose3d16"

_L_HIP, _R_HIP = POSE3D16.index("left_hip"), POSE3D16.index("right_hip")
_L_SHO, _R_SHO = POSE3D16.index("left_shoulder"), POSE3D16.index("right_shoulder")
_BONE_NAMES = tuple(f"{POSE3D16.names[c]}-{POSE3D16.names[p]}" for p, c in POSE3D16.bones)
#: the arrays of a prior file in the order of :func:`~pose3d_ros.core.prior_checks.check_prior_parameters`
_PARAMETER_ARRAYS = ("means", "components", "variances", "noise_variance", "weights", "bone_lengths", "body_size")
_MIN_VARIANCE = 1e-6  # m^2: floor for PPCA variances (a degenerate component must not get infinite density)


class PriorFileError(ValueError):
    """A prior file is unreadable, corrupt, of another layout or of an unsupported format version."""


def pose3d16_parents() -> np.ndarray:
    """Parent index per pose3d16 joint (-1 for the pelvis root), shape (16,): a writable copy of
    ``core.skeleton.POSE3D16.parents``, kept for the callers not yet switched to the layout."""
    return POSE3D16.parents.copy()


def _check_poses(poses: np.ndarray, num_joints: int) -> np.ndarray:
    x = np.asarray(poses, dtype=np.float64)
    if x.ndim == 2 and x.shape[1] == 3 * num_joints:
        x = x.reshape(len(x), num_joints, 3)
    if x.ndim != 3 or x.shape[1:] != (num_joints, 3):
        raise ValueError(f"poses must be (N, {num_joints}, 3) or (N, {3 * num_joints}), got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("poses contain NaN or inf")
    return x


def facing_angle(poses: np.ndarray) -> np.ndarray:
    """Rotation about y (rad) that turns each pose to face the camera (its left-right axis onto +x).

    Parameters
    ----------
    poses : (N, 16, 3) ndarray

    Returns
    -------
    theta : (N,) ndarray
        ``rotate_y(poses, theta)`` faces -z. Uses hips + shoulders so one twisted limb pair does not decide.
    """
    across = poses[:, _L_HIP] - poses[:, _R_HIP] + poses[:, _L_SHO] - poses[:, _R_SHO]
    return np.arctan2(across[:, 2], across[:, 0])


def rotate_y(poses: np.ndarray, theta: np.ndarray | float) -> np.ndarray:
    """Rotate points about the y axis: ``x' = c x + s z``, ``z' = -s x + c z``.

    Parameters
    ----------
    poses : (N, J, 3) ndarray
    theta : float or (N,) ndarray, radians

    Returns
    -------
    rotated : (N, J, 3) ndarray
    """
    theta = np.broadcast_to(np.asarray(theta, dtype=np.float64), poses.shape[:1])[:, None]
    c, s = np.cos(theta), np.sin(theta)
    x, y, z = poses[..., 0], poses[..., 1], poses[..., 2]
    return np.stack([c * x + s * z, y, -s * x + c * z], axis=-1)


def _kmeans(x: np.ndarray, k: int, rng: np.random.Generator, n_iter: int = 30) -> np.ndarray:
    """k-means++ seeding + Lloyd iterations; returns labels (N,)."""
    centres = [x[rng.integers(len(x))]]
    d2 = ((x - centres[0]) ** 2).sum(1)
    for _ in range(1, k):
        p = d2 / d2.sum() if d2.sum() > 0 else None
        centres.append(x[rng.choice(len(x), p=p)])
        d2 = np.minimum(d2, ((x - centres[-1]) ** 2).sum(1))
    c = np.array(centres)
    labels = np.zeros(len(x), dtype=int)
    for _ in range(n_iter):
        dist = (x**2).sum(1)[:, None] - 2 * x @ c.T + (c**2).sum(1)[None]
        new = dist.argmin(1)
        if np.array_equal(new, labels) and _ > 0:  # converged
            break
        labels = new
        for j in range(k):
            members = x[labels == j]
            c[j] = members.mean(0) if len(members) else x[rng.integers(len(x))]
    return labels


def _logsumexp(a: np.ndarray, axis: int) -> np.ndarray:
    m = a.max(axis=axis, keepdims=True)
    return (m + np.log(np.exp(a - m).sum(axis=axis, keepdims=True))).squeeze(axis)


class PosePrior:
    """Mixture of probabilistic PCA over normalised pose3d16 skeletons.

    Parameters
    ----------
    n_components : int
        Mixture components K.
    n_bases : int
        Principal directions B per component (B < 3 (J - 1)).
    max_iter : int
        EM iterations.
    tol : float
        Stop when the mean log-likelihood improves by less than this.
    random_state : int
        Seed of the k-means initialisation.

    Attributes
    ----------
    layout : str
        Joint layout name (``"pose3d16"``).
    means_ : (K, J, 3) ndarray
        Component means, normalised space (metres of the average body, pelvis at 0, facing -z).
    components_ : (K, B, J*3) ndarray
        Orthonormal principal directions per component (rows; pelvis entries are 0).
    variances_ : (K, B) ndarray
        Variance (m^2) along each principal direction (eigenvalues, >= ``noise_variance_``).
    noise_variance_ : (K,) ndarray
        Isotropic residual variance (m^2) per component.
    weights_ : (K,) ndarray
        Mixing weights, sum 1.
    bone_lengths_ : (J-1,) ndarray
        Mean training bone length (m) from joint j+1 to its parent.
    body_size_ : float
        Mean summed bone length (m) of the training skeletons: the metric scale of the normalised space.
    limbs_ : LimbPrior or None
        Density of limb configurations in the torso frame, fitted on the same poses (None for format-1 files).
    n_iter_ : int
    lower_bound_ : float
        Final mean log-likelihood per training sample.

    Examples
    --------
    >>> prior = PosePrior(n_components=8, n_bases=10).fit(poses)          # poses (N, 16, 3) metres
    >>> prior.save("prior.npz"); prior = PosePrior.load("prior.npz")
    >>> ll = prior.score_samples(poses)                                    # (N,)
    """

    def __init__(self, n_components: int = 8, n_bases: int = 10, max_iter: int = 100, tol: float = 1e-4,
                 random_state: int = 0) -> None:
        self.n_components = n_components
        self.n_bases = n_bases
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state
        self.layout = LAYOUT_NAME
        self.limbs_: LimbPrior | None = None

    # ----------------------------------------------------------------------------------------- normalisation
    @property
    def num_joints(self) -> int:
        return POSE3D16.num_joints

    def normalize(self, poses: np.ndarray, body_size: float | None = None) -> np.ndarray:
        """Root-centre, rescale to ``body_size`` summed bone length and turn to face the camera.

        Parameters
        ----------
        poses : (N, 16, 3) or (N, 48) array_like
            Metres, package axes (y down).
        body_size : float, optional
            Target summed bone length; default the fitted ``body_size_``.

        Returns
        -------
        normalised : (N, 16, 3) ndarray

        Raises
        ------
        ValueError
            On bad shapes, NaN/inf, a degenerate (zero-size) skeleton or a ``body_size`` that is not > 0.
        """
        x = _check_poses(poses, self.num_joints)
        target = self.body_size_ if body_size is None else float(body_size)
        if not (np.isfinite(target) and target > 0):
            raise ValueError(f"body_size must be a finite summed bone length > 0 m, got {target}")
        x = x - x[:, :1]
        size = skeleton_size(x)
        if np.any(size < 1e-6):
            raise ValueError(f"degenerate skeleton (summed bone length {size.min():.2e})")
        x = x * (target / size)[:, None, None]
        return rotate_y(x, facing_angle(x))

    # ----------------------------------------------------------------------------------------- fitting
    def fit(self, poses: np.ndarray) -> PosePrior:
        """Fit the mixture with EM (k-means initialisation).

        Parameters
        ----------
        poses : (N, 16, 3) or (N, 48) array_like
            Training skeletons in metres (any position / heading; normalised here).

        Returns
        -------
        self : PosePrior

        Raises
        ------
        ValueError
            On bad hyperparameters, shapes, NaN/inf, or fewer samples than ``n_components * (n_bases + 1)``.
        """
        k, b = int(self.n_components), int(self.n_bases)
        j = self.num_joints
        d = 3 * (j - 1)  # the root is fixed at 0: model the other joints only
        if k < 1 or not 1 <= b < d:
            raise ValueError(f"need n_components >= 1 and 1 <= n_bases < {d}, got {self.n_components}, {self.n_bases}")
        raw = _check_poses(poses, j)
        if len(raw) < k * (b + 1):
            raise ValueError(f"{len(raw)} poses are too few for {k} components x {b} bases")
        self.bone_lengths_ = bone_lengths(raw).mean(0)
        self.body_size_ = float(self.bone_lengths_.sum())
        x = self.normalize(raw)[:, 1:].reshape(len(raw), d)

        rng = np.random.default_rng(self.random_state)
        resp = np.eye(k)[_kmeans(x, k, rng)]
        prev, it = -np.inf, 0
        while it < self.max_iter:
            it += 1
            self._m_step(x, resp, d)
            log_prob = self._component_log_prob(x)  # (N, K)
            total = _logsumexp(log_prob, 1)
            resp = np.exp(log_prob - total[:, None])
            ll = float(total.mean())
            if ll - prev < self.tol:
                break
            prev = ll
        self.n_iter_ = it
        self.lower_bound_ = ll
        self.limbs_ = LimbPrior().fit(raw, random_state=self.random_state)
        return self

    def _m_step(self, x: np.ndarray, resp: np.ndarray, d: int) -> None:
        k, b = int(self.n_components), int(self.n_bases)
        nk = resp.sum(0) + 1e-10
        self.weights_ = nk / nk.sum()
        mu = (resp.T @ x) / nk[:, None]
        comps = np.zeros((k, b, d))
        variances = np.zeros((k, b))
        noise = np.zeros(k)
        for c in range(k):
            xc = (x - mu[c]) * np.sqrt(resp[:, c : c + 1])
            evals, evecs = np.linalg.eigh(xc.T @ xc / nk[c])
            evals, evecs = np.maximum(evals[::-1], _MIN_VARIANCE), evecs[:, ::-1]
            noise[c] = max(evals[b:].mean(), _MIN_VARIANCE)
            variances[c] = np.maximum(evals[:b], noise[c])
            comps[c] = evecs[:, :b].T
        self._mu, self._comps, self.noise_variance_ = mu, comps, noise
        self.variances_ = variances
        pad = np.zeros((k, 3))
        self.means_ = np.concatenate([pad, mu], 1).reshape(k, self.num_joints, 3)
        self.components_ = np.concatenate([np.zeros((k, b, 3)), comps], 2)

    def _component_log_prob(self, x: np.ndarray) -> np.ndarray:
        """log(w_k N(x; mu_k, C_k)) for flattened non-root coordinates x (N, D), Woodbury form. Returns (N, K)."""
        d = x.shape[1]
        diff = x[:, None, :] - self._mu[None]  # (N, K, D)
        proj = np.einsum("nkd,kbd->nkb", diff, self._comps)  # coordinates in the principal subspace
        sq = (diff**2).sum(-1)
        noise = self.noise_variance_[None]
        # diff^T C^-1 diff = |diff|^2 / s2 - sum_b proj_b^2 (1/s2 - 1/lambda_b)
        maha = sq / noise - (proj**2 * (1.0 / noise[..., None] - 1.0 / self.variances_[None])).sum(-1)
        logdet = np.log(self.variances_).sum(1) + (d - self.variances_.shape[1]) * np.log(self.noise_variance_)
        return np.log(self.weights_)[None] - 0.5 * (maha + logdet[None] + d * np.log(2 * np.pi))

    # ----------------------------------------------------------------------------------------- scoring
    def _check_fitted(self) -> None:
        if not hasattr(self, "means_"):
            raise RuntimeError("this PosePrior is not fitted: call fit() or PosePrior.load()")

    def validate(self) -> PosePrior:
        """Check that the fitted parameters are usable (what :meth:`load` checks in a file); return ``self``.

        Raises
        ------
        RuntimeError
            The prior is not fitted.
        ValueError
            Naming the problem (:func:`pose3d_ros.core.prior_checks.check_prior_parameters`): all-zero or
            negative weights, NaN, non-positive variances, another joint count, non-positive bone lengths or body
            size...
        """
        self._check_fitted()
        check_prior_parameters(self.means_, self.components_, self.variances_, self.noise_variance_, self.weights_,
                               self.bone_lengths_, self.body_size_, num_joints=self.num_joints, layout=self.layout,
                               bone_names=_BONE_NAMES)
        return self

    def score_samples(self, poses: np.ndarray, normalized: bool = False) -> np.ndarray:
        """Log-likelihood of each pose under the mixture.

        Parameters
        ----------
        poses : (N, 16, 3) or (N, 48) array_like
            Metres. Unless ``normalized``, they are root-centred, rescaled and turned to face the camera first, so
            the score measures articulation only.
        normalized : bool
            ``poses`` are already in the prior's normalised space (no rescaling or turning).

        Returns
        -------
        log_likelihood : (N,) ndarray
            ``log p(pose)`` over the 45 non-root coordinates of the normalised pose.
        """
        self._check_fitted()
        x = _check_poses(poses, self.num_joints)
        x = (x - x[:, :1]) if normalized else self.normalize(x)
        return _logsumexp(self._component_log_prob(x[:, 1:].reshape(len(x), -1)), 1)

    def score(self, poses: np.ndarray) -> float:
        """Mean log-likelihood of ``poses`` (see :meth:`score_samples`)."""
        return float(self.score_samples(poses).mean())

    def predict(self, poses: np.ndarray) -> np.ndarray:
        """Most responsible component of each pose, shape (N,)."""
        self._check_fitted()
        x = self.normalize(poses)
        return self._component_log_prob(x[:, 1:].reshape(len(x), -1)).argmax(1)

    def sample(self, n: int, random_state: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Draw poses from the mixture (subspace part only, without the isotropic noise).

        Returns
        -------
        poses : (n, 16, 3) ndarray
            Normalised space (pelvis at 0, facing the camera).
        component : (n,) int ndarray
        """
        self._check_fitted()
        rng = np.random.default_rng(random_state)
        comp = rng.choice(len(self.weights_), size=n, p=self.weights_)
        coef = rng.standard_normal((n, self.variances_.shape[1])) * np.sqrt(self.variances_[comp])
        flat = self.means_[comp].reshape(n, -1) + np.einsum("nb,nbd->nd", coef, self.components_[comp])
        return flat.reshape(n, self.num_joints, 3), comp

    # ----------------------------------------------------------------------------------------- persistence
    def save(self, path: str | Path) -> None:
        """Write a versioned ``.npz`` (format :data:`PRIOR_FORMAT_VERSION`, with the layout name)."""
        self._check_fitted()
        np.savez_compressed(
            path, format_version=np.int64(PRIOR_FORMAT_VERSION), layout=np.array(self.layout),
            means=self.means_, components=self.components_, variances=self.variances_,
            noise_variance=self.noise_variance_, weights=self.weights_, bone_lengths=self.bone_lengths_,
            body_size=np.float64(self.body_size_),
            hyperparameters=np.array([self.n_components, self.n_bases, self.max_iter, self.random_state]),
            **({} if self.limbs_ is None else {"limb_samples": self.limbs_.samples_,
                                               "limb_bandwidth": np.float64(self.limbs_.bandwidth)}),
        )  # fmt: skip

    @classmethod
    def load(cls, path: str | Path, layout: str = LAYOUT_NAME) -> PosePrior:
        """Read a prior written by :meth:`save`.

        Raises
        ------
        FileNotFoundError
            If ``path`` does not exist.
        PriorFileError
            If the file is corrupt, has another format version, another layout than ``layout``, or parameters that
            :func:`~pose3d_ros.core.prior_checks.check_prior_parameters` refuses (inconsistent shapes, another
            joint count, NaN, all-zero or negative weights, non-positive variances, bone lengths or body size);
            the message starts with the file's path.
        """
        path = Path(path)
        arrays = read_npz(path, "prior", PriorFileError)
        needed = {"format_version", "layout", "means", "components", "variances", "noise_variance", "weights",
                  "bone_lengths", "body_size"}  # fmt: skip
        if missing := needed - arrays.keys():
            raise PriorFileError(f"{path}: missing arrays {sorted(missing)}")
        try:
            version = int(arrays["format_version"])
        except (TypeError, ValueError):
            raise PriorFileError(f"{path}: format_version is not an integer ({arrays['format_version']!r})") from None
        if version not in READABLE_FORMAT_VERSIONS:
            raise PriorFileError(f"{path}: prior format version {version}, this code reads {READABLE_FORMAT_VERSIONS}")
        file_layout = str(arrays["layout"])
        if file_layout != layout:
            raise PriorFileError(f"{path}: prior is for layout {file_layout!r}, expected {layout!r}")
        try:
            check_prior_parameters(*(arrays[key] for key in _PARAMETER_ARRAYS), num_joints=POSE3D16.num_joints,
                                   layout=layout, bone_names=_BONE_NAMES)
        except ValueError as exc:
            raise PriorFileError(f"{path}: {exc}") from None
        means, comps, var = arrays["means"], arrays["components"], arrays["variances"]
        k = means.shape[0]
        prior = cls(n_components=k, n_bases=comps.shape[1])
        prior.layout = file_layout
        prior.means_, prior.components_, prior.variances_ = means, comps, var
        prior.noise_variance_, prior.weights_ = arrays["noise_variance"], arrays["weights"] / arrays["weights"].sum()
        prior.bone_lengths_, prior.body_size_ = arrays["bone_lengths"], float(arrays["body_size"])
        prior._mu = means[:, 1:].reshape(k, -1)
        prior._comps = comps[:, :, 3:]
        prior.limbs_ = None
        if version >= 2:
            try:
                samples, bandwidth = arrays["limb_samples"], float(arrays["limb_bandwidth"])
                if not (np.all(np.isfinite(samples)) and np.isfinite(bandwidth)):
                    raise ValueError("limb arrays hold NaN or inf")
                prior.limbs_ = LimbPrior.from_samples(samples, bandwidth)
            except (KeyError, TypeError, ValueError) as exc:
                raise PriorFileError(f"{path}: bad limb density ({exc})") from None
        return prior


def default_prior_path() -> Path:
    """Path of the prior shipped in ``pose3d_ros/resources/prior/`` (trained by ``pose3d-ros train-prior``)."""
    return Path(str(importlib.resources.files("pose3d_ros").joinpath(*PRIOR_RESOURCE)))


def load_default_prior() -> PosePrior:
    """Load the shipped prior (see :func:`default_prior_path`)."""
    return PosePrior.load(default_prior_path())
