"""Small temporal-convolution action classifier: numpy forward pass at run time, numpy training (manual backprop, Adam).

Network on a window of ``T`` frames of ``F`` features (:func:`pose3d_ros.actions.features.window_features`)::

    x (T, F) -> standardise -> conv1d(k1, F->C) -> ReLU -> conv1d(k2, dilation d2, C->C) -> ReLU
             -> [mean over T, max over T] (2C) -> linear (K) -> softmax

Convolutions use "same" zero padding and are computed as one matrix product on unfolded windows (im2col), so a
forward pass for one person is a few small GEMMs (well below 1 ms). Training is deterministic for a given seed.

Model file (``.npz``, ``MODEL_FORMAT_VERSION``): weights ``w1 b1 w2 b2 w3 b3``, ``kernel1 kernel2 dilation2``,
``feat_mean feat_std``, ``labels``, ``layout`` (must be ``"pose3d16"``), ``window_frames``, ``window_s`` and a JSON
``provenance`` string.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pose3d_ros.core.npz_files import read_npz

MODEL_FORMAT_VERSION = 1
MODEL_LAYOUT = "pose3d16"


class ModelFormatError(ValueError):
    """An action model file that cannot be used (wrong version, layout or contents)."""


def _unfold(x: np.ndarray, k: int, d: int) -> np.ndarray:
    """(N, T, C) -> (N, T, k*C) "same"-padded dilated windows (im2col)."""
    n, t, c = x.shape
    pad = (k - 1) // 2 * d
    xp = np.zeros((n, t + 2 * pad, c), dtype=x.dtype)
    xp[:, pad:pad + t] = x
    return np.concatenate([xp[:, i * d:i * d + t] for i in range(k)], axis=2)


def _fold(g: np.ndarray, k: int, d: int, c: int) -> np.ndarray:
    """Adjoint of :func:`_unfold`: (N, T, k*C) gradients -> (N, T, C)."""
    n, t, _ = g.shape
    pad = (k - 1) // 2 * d
    gp = np.zeros((n, t + 2 * pad, c), dtype=g.dtype)
    for i in range(k):
        gp[:, i * d:i * d + t] += g[:, :, i * c:(i + 1) * c]
    return gp[:, pad:pad + t]


@dataclass
class ActionClassifier:
    """Temporal-conv action classifier (see the module docstring).

    Attributes
    ----------
    labels : tuple of str
        Class names, in output order.
    params : dict of str -> ndarray
        ``w1 (k1*F, C)``, ``b1 (C,)``, ``w2 (k2*C, C)``, ``b2 (C,)``, ``w3 (2C, K)``, ``b3 (K,)``.
    feat_mean, feat_std : (F,) ndarray
        Feature standardisation.
    window_frames : int
        T, frames per window.
    window_s : float
        Window duration in seconds (frames are ``window_s / (T - 1)`` apart).
    kernel1, kernel2, dilation2 : int
    provenance : dict
        Free-form training record (data, held-out split, metrics).
    """

    labels: tuple[str, ...]
    params: dict[str, np.ndarray]
    feat_mean: np.ndarray
    feat_std: np.ndarray
    window_frames: int = 16
    window_s: float = 1.0
    kernel1: int = 5
    kernel2: int = 3
    dilation2: int = 2
    provenance: dict = field(default_factory=dict)

    @property
    def dt(self) -> float:
        """Frame spacing of a window (s)."""
        return self.window_s / (self.window_frames - 1)

    @property
    def num_features(self) -> int:
        return int(self.feat_mean.shape[0])

    @classmethod
    def init(cls, labels: tuple[str, ...] | list[str], num_features: int, channels: int = 48, window_frames: int = 16,
             window_s: float = 1.0, seed: int = 0, kernel1: int = 5, kernel2: int = 3,
             dilation2: int = 2) -> ActionClassifier:
        """A randomly initialised (He) classifier."""
        if len(labels) < 2:
            raise ValueError(f"need at least 2 labels, got {list(labels)}")
        if window_frames < 2 or window_s <= 0:
            raise ValueError(f"window_frames must be >= 2 and window_s > 0, got {window_frames}, {window_s}")
        rng = np.random.default_rng(seed)
        f, c, k = num_features, channels, len(labels)

        def he(n_in: int, n_out: int) -> np.ndarray:
            return (rng.standard_normal((n_in, n_out)) * np.sqrt(2.0 / n_in)).astype(np.float32)

        params = {"w1": he(kernel1 * f, c), "b1": np.zeros(c, np.float32), "w2": he(kernel2 * c, c),
                  "b2": np.zeros(c, np.float32), "w3": he(2 * c, k) * 0.5, "b3": np.zeros(k, np.float32)}
        return cls(tuple(labels), params, np.zeros(f, np.float32), np.ones(f, np.float32), window_frames, window_s,
                   kernel1, kernel2, dilation2)

    # ----------------------------------------------------------------------------------------------------- forward
    def _forward(self, x: np.ndarray) -> tuple[np.ndarray, dict]:
        p = self.params
        xs = ((x - self.feat_mean) / self.feat_std).astype(np.float32)
        u1 = _unfold(xs, self.kernel1, 1)
        h1 = np.maximum(u1 @ p["w1"] + p["b1"], 0.0)
        u2 = _unfold(h1, self.kernel2, self.dilation2)
        h2 = np.maximum(u2 @ p["w2"] + p["b2"], 0.0)
        arg = h2.argmax(axis=1)  # (N, C)
        g = np.concatenate([h2.mean(axis=1), h2.max(axis=1)], axis=1)
        logits = g @ p["w3"] + p["b3"]
        return logits, {"u1": u1, "h1": h1, "u2": u2, "h2": h2, "arg": arg, "g": g}

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        """Class probabilities.

        Parameters
        ----------
        features : (N, T, F) or (T, F) array_like
            Window features, ``T == window_frames``, ``F == num_features``.

        Returns
        -------
        (N, K) or (K,) float32 ndarray
        """
        x = np.asarray(features, dtype=np.float32)
        single = x.ndim == 2
        if single:
            x = x[None]
        if x.ndim != 3 or x.shape[1:] != (self.window_frames, self.num_features):
            raise ValueError(f"features must have shape (N, {self.window_frames}, {self.num_features}), got {x.shape}")
        logits, _ = self._forward(x)
        z = logits - logits.max(axis=1, keepdims=True)
        e = np.exp(z)
        prob = (e / e.sum(axis=1, keepdims=True)).astype(np.float32)
        return prob[0] if single else prob

    # ----------------------------------------------------------------------------------------------------- training
    def loss_and_grads(self, x: np.ndarray, y: np.ndarray, weight_decay: float = 1e-4
                       ) -> tuple[float, dict[str, np.ndarray]]:
        """Mean cross-entropy (+ L2 on weights) of a batch and its gradients w.r.t. ``params``.

        Parameters
        ----------
        x : (N, T, F) float32 ndarray
        y : (N,) int ndarray
            Class indices.
        """
        p = self.params
        n = x.shape[0]
        logits, c = self._forward(x)
        z = logits - logits.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        loss = float(-logp[np.arange(n), y].mean())
        dlog = np.exp(logp)
        dlog[np.arange(n), y] -= 1.0
        dlog /= n
        grads = {"w3": c["g"].T @ dlog, "b3": dlog.sum(axis=0)}
        dg = dlog @ p["w3"].T
        ch = p["b2"].shape[0]
        t = x.shape[1]
        dh2 = np.repeat((dg[:, None, :ch] / t), t, axis=1)
        np.add.at(dh2, (np.arange(n)[:, None], c["arg"], np.arange(ch)[None, :]), dg[:, ch:])
        dh2 *= c["h2"] > 0
        grads["w2"] = c["u2"].reshape(-1, c["u2"].shape[2]).T @ dh2.reshape(-1, ch)
        grads["b2"] = dh2.sum(axis=(0, 1))
        dh1 = _fold(dh2 @ p["w2"].T, self.kernel2, self.dilation2, ch)
        dh1 *= c["h1"] > 0
        grads["w1"] = c["u1"].reshape(-1, c["u1"].shape[2]).T @ dh1.reshape(-1, ch)
        grads["b1"] = dh1.sum(axis=(0, 1))
        for k in ("w1", "w2", "w3"):
            loss += 0.5 * weight_decay * float((p[k] ** 2).sum())
            grads[k] = grads[k] + weight_decay * p[k]
        return loss, {k: v.astype(np.float32) for k, v in grads.items()}

    def fit(self, x: np.ndarray, y: np.ndarray, epochs: int = 30, batch_size: int = 128, lr: float = 3e-3,
            weight_decay: float = 1e-4, seed: int = 0, log=None) -> list[float]:
        """Train in place with Adam (cosine learning-rate decay); sets the feature standardisation from ``x``.

        Parameters
        ----------
        x : (N, T, F) array_like
            Training window features.
        y : (N,) int array_like
            Class indices in ``range(len(labels))``.
        log : callable, optional
            Called with one line per epoch.

        Returns
        -------
        list of float
            Mean training loss per epoch.
        """
        x = np.asarray(x, dtype=np.float32)
        y = np.asarray(y, dtype=np.int64)
        if x.ndim != 3 or x.shape[1:] != (self.window_frames, self.num_features) or y.shape != (x.shape[0],):
            raise ValueError(f"x must be (N, {self.window_frames}, {self.num_features}) and y (N,), "
                             f"got {x.shape} and {y.shape}")
        if y.size and (y.min() < 0 or y.max() >= len(self.labels)):
            raise ValueError(f"labels must be in [0, {len(self.labels)}), got range [{y.min()}, {y.max()}]")
        flat = x.reshape(-1, x.shape[2])
        self.feat_mean = flat.mean(axis=0).astype(np.float32)
        self.feat_std = np.maximum(flat.std(axis=0), 1e-3).astype(np.float32)
        rng = np.random.default_rng(seed)
        m = {k: np.zeros_like(v) for k, v in self.params.items()}
        v2 = {k: np.zeros_like(v) for k, v in self.params.items()}
        b1, b2, eps, step = 0.9, 0.999, 1e-8, 0
        steps_per_epoch = max(1, int(np.ceil(len(x) / batch_size)))
        total = epochs * steps_per_epoch
        history = []
        for epoch in range(epochs):
            order = rng.permutation(len(x))
            losses = []
            for i in range(0, len(x), batch_size):
                idx = order[i:i + batch_size]
                loss, grads = self.loss_and_grads(x[idx], y[idx], weight_decay)
                losses.append(loss)
                step += 1
                rate = lr * 0.5 * (1 + np.cos(np.pi * step / total))
                for k, g in grads.items():
                    m[k] = b1 * m[k] + (1 - b1) * g
                    v2[k] = b2 * v2[k] + (1 - b2) * g * g
                    mh = m[k] / (1 - b1**step)
                    vh = v2[k] / (1 - b2**step)
                    self.params[k] -= (rate * mh / (np.sqrt(vh) + eps)).astype(np.float32)
            history.append(float(np.mean(losses)))
            if log is not None:
                log(f"epoch {epoch + 1}/{epochs}: loss {history[-1]:.4f}")
        return history

    # ----------------------------------------------------------------------------------------------------- files
    def save(self, path: str | Path) -> None:
        """Write the versioned ``.npz`` model."""
        np.savez_compressed(
            path, format_version=np.int64(MODEL_FORMAT_VERSION), layout=np.array(MODEL_LAYOUT),
            labels=np.array(self.labels), window_frames=np.int64(self.window_frames),
            window_s=np.float64(self.window_s), kernel1=np.int64(self.kernel1), kernel2=np.int64(self.kernel2),
            dilation2=np.int64(self.dilation2), feat_mean=self.feat_mean, feat_std=self.feat_std,
            provenance=np.array(json.dumps(self.provenance, sort_keys=True)), **self.params)

    @classmethod
    def load(cls, path: str | Path) -> ActionClassifier:
        """Read a model written by :meth:`save`.

        Raises
        ------
        FileNotFoundError
            When ``path`` does not exist.
        ModelFormatError
            When the file is not an action model, has another format version, or was trained on another joint
            layout than pose3d16.
        """
        path = Path(path)
        d = read_npz(path, "action model", ModelFormatError)
        need = {"format_version", "layout", "labels", "w1", "b1", "w2", "b2", "w3", "b3", "feat_mean", "feat_std"}
        missing = sorted(need - set(d))
        if missing:
            raise ModelFormatError(f"{path}: not an action model, missing {missing}")
        version = int(d["format_version"])
        if version != MODEL_FORMAT_VERSION:
            raise ModelFormatError(f"{path}: model format version {version}, this code reads {MODEL_FORMAT_VERSION}")
        layout = str(d["layout"])
        if layout != MODEL_LAYOUT:
            raise ModelFormatError(f"{path}: model was trained on joint layout {layout!r}; the recognizer needs "
                                   f"{MODEL_LAYOUT!r} skeletons (retrain with `pose3d-ros train-actions`)")
        params = {k: d[k].astype(np.float32) for k in ("w1", "b1", "w2", "b2", "w3", "b3")}
        model = cls(tuple(str(s) for s in d["labels"]), params, d["feat_mean"].astype(np.float32),
                    d["feat_std"].astype(np.float32), int(d.get("window_frames", 16)), float(d.get("window_s", 1.0)),
                    int(d.get("kernel1", 5)), int(d.get("kernel2", 3)), int(d.get("dilation2", 2)),
                    json.loads(str(d["provenance"])) if "provenance" in d else {})
        k1f = model.kernel1 * model.num_features
        if params["w1"].shape[0] != k1f or params["w3"].shape[1] != len(model.labels):
            raise ModelFormatError(f"{path}: weight shapes {params['w1'].shape}, {params['w3'].shape} do not match "
                                   f"{model.num_features} features and {len(model.labels)} labels")
        return model


def default_model_path() -> Path:
    """The shipped default model (``pose3d_ros/resources/actions/action_tcn_pose3d16.npz``)."""
    from importlib.resources import files

    return Path(str(files("pose3d_ros") / "resources" / "actions" / "action_tcn_pose3d16.npz"))
