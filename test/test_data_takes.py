"""Tests of the shipped takes, their file format and the held-out protocol."""

from __future__ import annotations

import numpy as np
import pytest

from pose3d_ros.data import takes as tk
from pose3d_ros.data.mocap import MocapFileError, MocapTake


def _take(name: str = "t", n: int = 10, fps: float = 30.0) -> MocapTake:
    rng = np.random.default_rng(0)
    base = tk.deepmimic_takes()[0].joints[:n]
    return MocapTake(name, "s", "walk", fps, base + 0.001 * rng.standard_normal(base.shape), "test")


def test_shipped_takes_have_several_bodies_and_every_protocol_take():
    takes = tk.load_takes()
    names = {t.name for t in takes}
    assert set(tk.TEST_TAKES) <= names and set(tk.VALIDATION_TAKES) <= names
    assert not set(tk.TEST_TAKES) & set(tk.VALIDATION_TAKES)
    assert len({t.subject for t in takes}) >= 6
    real = [t for t in takes if t.subject != "deepmimic_humanoid"]
    assert sum(len(t.joints) for t in real) > 5000
    assert all(t.fps == tk.COMMON_FPS for t in real)
    for t in takes:  # package axes: head above pelvis (y down), ground at y = 0
        assert np.median(t.joints[:, 3, 1] - t.joints[:, 0, 1]) < 0
        assert np.isfinite(t.joints).all()


def test_held_out_bodies_are_not_in_any_training_take():
    takes = tk.load_takes()
    train, _ = tk.split_takes(takes, tk.TEST_TAKES + tk.VALIDATION_TAKES)
    for unseen in ("boxing_toes", "vicon_fencing", "holosoma_climb_seq_4"):
        subject = next(t.subject for t in takes if t.name == unseen)
        assert subject not in {t.subject for t in train}


def test_save_and_read_round_trip(tmp_path):
    a, b = _take("a", 5), _take("b", 7)
    tk.save_takes(tmp_path / "x.npz", [a, b])
    back = tk.read_takes(tmp_path / "x.npz")
    assert [t.name for t in back] == ["a", "b"]
    np.testing.assert_allclose(back[1].joints, b.joints)


def test_a_corrupt_or_inconsistent_take_file_names_the_file(tmp_path):
    (tmp_path / "bad.npz").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(MocapFileError, match="bad.npz"):
        tk.read_takes(tmp_path / "bad.npz")
    np.savez(tmp_path / "odd.npz", joints=np.zeros((5, 16, 3)), take_lengths=np.array([3]),
             take_names=np.array(["a"]), take_subjects=np.array(["s"]), take_labels=np.array(["l"]),
             take_sources=np.array([""]), fps=30.0)
    with pytest.raises(MocapFileError, match="odd.npz.*take lengths"):
        tk.read_takes(tmp_path / "odd.npz")


def test_mixed_rates_cannot_be_saved(tmp_path):
    with pytest.raises(ValueError, match="frame rate"):
        tk.save_takes(tmp_path / "x.npz", [_take("a", 4, 30.0), _take("b", 4, 120.0)])


def test_split_refuses_unknown_take_names():
    with pytest.raises(ValueError, match="unknown takes"):
        tk.split_takes(tk.deepmimic_takes(), ["deepmimic_walkk"])


def test_resample_drops_repeated_frames_without_leaving_gaps():
    t = _take("r", 9, 120.0)
    j = t.joints.copy()
    j[4] = j[3]  # a held sample
    res, dropped = tk.resample(MocapTake("r", "s", "walk", 120.0, j), 30.0)
    assert dropped == 1
    assert len(res.joints) == 3  # 0, 1/30, 2/30 s of a 8/120 s take
    # t = 1/30 s is source frame 4, the held one: interpolated between the true samples 3 and 5, not the repeat
    np.testing.assert_allclose(res.joints[1], 0.5 * (j[3] + j[5]), atol=1e-5)


def test_distinct_poses_skip_holds():
    j = np.repeat(tk.deepmimic_takes()[0].joints[:3], 4, axis=0)
    assert tk.distinct_poses(j, 0.01).tolist() == [0, 4, 8]
