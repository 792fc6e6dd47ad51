"""Tests of the limb density (pose-conditioned joint limits) and its place in the prior file."""

from __future__ import annotations

import numpy as np
import pytest

from pose3d_ros.core.limb_prior import LIMBS, LimbPrior, limb_features, torso_frames
from pose3d_ros.core.prior import PosePrior, PriorFileError, default_prior_path, rotate_y
from pose3d_ros.core.skeleton import POSE3D16
from pose3d_ros.data.augment import mirror
from pose3d_ros.data.deepmimic import load_mocap_clips


@pytest.fixture(scope="module")
def mocap() -> np.ndarray:
    return np.concatenate([c for c in load_mocap_clips().values()]).astype(np.float64)


def test_torso_frames_are_orthonormal_and_follow_the_body(mocap):
    frames = torso_frames(mocap[:50])
    np.testing.assert_allclose(np.einsum("nji,njk->nik", frames, frames), np.broadcast_to(np.eye(3), (50, 3, 3)),
                               atol=1e-9)
    left = mocap[:50, POSE3D16.index("left_hip")] - mocap[:50, POSE3D16.index("right_hip")]
    assert ((left * frames[..., 0]).sum(-1) > 0).all()


def test_features_ignore_position_heading_and_size_and_mirror_left_onto_right(mocap):
    x = mocap[::20]
    moved = 1.3 * rotate_y(x, np.linspace(0, 6, len(x))) + np.array([0.5, -0.2, 3.0])
    np.testing.assert_allclose(limb_features(moved), limb_features(x), atol=1e-9)
    f, fm = limb_features(x), limb_features(mirror(x))
    order = list(LIMBS)
    for a, b in (("left_arm", "right_arm"), ("left_leg", "right_leg")):
        np.testing.assert_allclose(fm[:, order.index(a)], f[:, order.index(b)], atol=1e-9)
    np.testing.assert_allclose(np.linalg.norm(f.reshape(*f.shape[:-1], 2, 3), axis=-1), 1.0, atol=1e-9)


def test_a_forward_bent_knee_scores_below_a_real_one(mocap):
    lp = LimbPrior().fit(mocap[::2], random_state=0)
    x = mocap[1::40]  # frames the density was not fitted on
    bent = x.copy()
    hip, knee, ankle = LIMBS["left_leg"]
    frames = torso_frames(x)
    # reflect the shin about the thigh axis within the sagittal plane: the knee now bends forwards
    thigh = x[:, knee] - x[:, hip]
    thigh /= np.linalg.norm(thigh, axis=-1, keepdims=True)
    shin = x[:, ankle] - x[:, knee]
    normal = np.cross(thigh, frames[..., 0])
    normal /= np.linalg.norm(normal, axis=-1, keepdims=True)
    bent[:, ankle] = x[:, knee] + shin - 2 * (shin * normal).sum(-1, keepdims=True) * normal
    flexed = np.abs((shin * normal).sum(-1)) / np.linalg.norm(shin, axis=-1) > 0.3  # clearly bent knees only
    real, wrong = lp.score_limbs(x)[:, 2], lp.score_limbs(bent)[:, 2]
    assert flexed.sum() >= 5
    assert (real[flexed] > wrong[flexed]).mean() > 0.9


def test_bad_samples_and_bandwidth_are_refused():
    with pytest.raises(ValueError, match="bandwidth"):
        LimbPrior(bandwidth=0.0)
    with pytest.raises(ValueError, match=r"\(2, N, 6\)"):
        LimbPrior.from_samples(np.zeros((3, 4, 6)), 0.1)
    with pytest.raises(ValueError, match="no finite limb"):
        LimbPrior().fit(np.full((4, 16, 3), np.nan))


def test_shipped_prior_carries_the_limb_density_through_save_and_load(tmp_path):
    prior = PosePrior.load(default_prior_path())
    assert prior.limbs_ is not None and prior.limbs_.samples_.shape[0] == 2
    path = tmp_path / "p.npz"
    prior.save(path)
    again = PosePrior.load(path)
    np.testing.assert_array_equal(again.limbs_.samples_, prior.limbs_.samples_)
    assert again.limbs_.bandwidth == prior.limbs_.bandwidth


def test_format_1_files_still_load_without_limbs_and_a_broken_density_is_refused(tmp_path):
    prior = PosePrior.load(default_prior_path())
    with np.load(default_prior_path()) as f:
        arrays = {k: f[k] for k in f.files}
    old = {k: v for k, v in arrays.items() if not k.startswith("limb_")} | {"format_version": np.int64(1)}
    np.savez(tmp_path / "v1.npz", **old)
    v1 = PosePrior.load(tmp_path / "v1.npz")
    assert v1.limbs_ is None
    np.testing.assert_array_equal(v1.means_, prior.means_)
    broken = arrays | {"limb_samples": np.full_like(arrays["limb_samples"], np.nan)}
    np.savez(tmp_path / "nan.npz", **broken)
    with pytest.raises(PriorFileError, match="limb density"):
        PosePrior.load(tmp_path / "nan.npz")
    missing = {k: v for k, v in arrays.items() if k != "limb_bandwidth"}
    np.savez(tmp_path / "missing.npz", **missing)
    with pytest.raises(PriorFileError, match="limb density"):
        PosePrior.load(tmp_path / "missing.npz")
