"""Temporal-conv classifier: gradients, learning, model files (pose3d_ros.actions.classifier)."""

import numpy as np
import pytest
from numpy.testing import assert_allclose

from pose3d_ros.actions.classifier import ActionClassifier, ModelFormatError, default_model_path


def _toy(seed=0, n=240, t=8, f=6):
    """Two classes that differ only in their temporal pattern (rising vs falling ramp in feature 0)."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    ramp = np.linspace(-1, 1, t)
    x = rng.normal(0, 0.3, (n, t, f)).astype(np.float32)
    x[:, :, 0] += np.where(y[:, None] == 0, ramp, -ramp)
    return x, y


def test_gradients_match_finite_differences():
    m = ActionClassifier.init(["a", "b", "c"], 5, channels=4, window_frames=6, seed=1)
    m.params = {k: v.astype(np.float64) for k, v in m.params.items()}
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((4, 6, 5)), np.array([0, 1, 2, 1])
    _, g = m.loss_and_grads(x, y, 1e-3)
    for k in ("w1", "b1", "w2", "b2", "w3", "b3"):
        p = m.params[k]
        idx = tuple(int(rng.integers(s)) for s in p.shape)
        old = p[idx]
        p[idx] = old + 1e-5
        lp, _ = m.loss_and_grads(x, y, 1e-3)
        p[idx] = old - 1e-5
        lm, _ = m.loss_and_grads(x, y, 1e-3)
        p[idx] = old
        assert_allclose(g[k][idx], (lp - lm) / 2e-5, rtol=1e-3, atol=1e-6)


def test_fit_learns_a_temporal_pattern_deterministically():
    x, y = _toy()
    xt, yt = _toy(seed=1)
    a = ActionClassifier.init(["up", "down"], 6, channels=8, window_frames=8, seed=0)
    b = ActionClassifier.init(["up", "down"], 6, channels=8, window_frames=8, seed=0)
    la = a.fit(x, y, epochs=30, batch_size=32, seed=0)
    lb = b.fit(x, y, epochs=30, batch_size=32, seed=0)
    assert la == lb
    assert la[-1] < la[0]
    assert (a.predict_proba(xt).argmax(1) == yt).mean() > 0.95


def test_save_load_round_trip(tmp_path):
    x, y = _toy(n=40)
    m = ActionClassifier.init(["up", "down"], 6, channels=4, window_frames=8, window_s=0.5, seed=0)
    m.fit(x, y, epochs=1)
    m.provenance = {"note": "test"}
    m.save(tmp_path / "m.npz")
    r = ActionClassifier.load(tmp_path / "m.npz")
    assert r.labels == ("up", "down") and r.window_s == 0.5 and r.provenance == {"note": "test"}
    assert_allclose(r.predict_proba(x[:3]), m.predict_proba(x[:3]), rtol=1e-6)


def test_model_for_another_layout_is_a_clear_error(tmp_path):
    m = ActionClassifier.init(["a", "b"], 6, channels=4, window_frames=8)
    m.save(tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz") as z:
        d = dict(z)
    d["layout"] = np.array("coco17")
    np.savez(tmp_path / "coco.npz", **d)
    with pytest.raises(ModelFormatError, match="coco17"):
        ActionClassifier.load(tmp_path / "coco.npz")
    d["layout"], d["format_version"] = np.array("pose3d16"), np.int64(99)
    np.savez(tmp_path / "v99.npz", **d)
    with pytest.raises(ModelFormatError, match="version 99"):
        ActionClassifier.load(tmp_path / "v99.npz")


def test_missing_or_foreign_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        ActionClassifier.load(tmp_path / "nope.npz")
    np.savez(tmp_path / "other.npz", a=np.zeros(3))
    with pytest.raises(ModelFormatError, match="missing"):
        ActionClassifier.load(tmp_path / "other.npz")


def test_wrong_feature_shape_raises():
    m = ActionClassifier.init(["a", "b"], 6, channels=4, window_frames=8)
    with pytest.raises(ValueError, match=r"\(N, 8, 6\)"):
        m.predict_proba(np.zeros((2, 7, 6)))


def test_shipped_model_loads_with_its_labels():
    m = ActionClassifier.load(default_model_path())
    assert {"walk", "run", "idle"} <= set(m.labels)
    assert m.provenance["holdout_fraction"] > 0


def test_truncated_model_file_is_a_format_error(tmp_path):
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(default_model_path().read_bytes()[:500])
    with pytest.raises(ModelFormatError, match="not a readable .npz action model"):
        ActionClassifier.load(truncated)
