"""The benches share one set of metrics (bench/metrics.py), the skeleton layout and the take split."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from numpy.testing import assert_allclose, assert_array_equal

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import metrics  # noqa: E402

from pose3d_ros.data import takes as tk  # noqa: E402


def _old_n_mpjpe(pred: np.ndarray, gt: np.ndarray) -> float:
    """bench_stages' own N-MPJPE before it moved to bench/metrics.py."""
    p, g = pred - pred[0], gt - gt[0]
    s = (p * g).sum() / max((p * p).sum(), 1e-12)
    return float(np.linalg.norm(s * p - g, axis=1).mean())


def test_n_mpjpe_matches_the_former_copy_and_ignores_scale_and_position():
    rng = np.random.default_rng(0)
    gt, pred = rng.normal(size=(2, 20, 16, 3))
    got = metrics.n_mpjpe(pred, gt)
    assert_allclose(got, [_old_n_mpjpe(p, g) for p, g in zip(pred, gt, strict=True)], rtol=0, atol=1e-15)
    assert_allclose(metrics.n_mpjpe(2.5 * gt + 1.0, gt), 0.0, atol=1e-12)
    assert (metrics.n_mpjpe(pred, gt) <= metrics.mpjpe(pred, gt) + 1e-12).all()  # the best scale can only help
    assert (metrics.pa_mpjpe(pred, gt) <= metrics.n_mpjpe(pred, gt) + 1e-12).all()  # and a rotation more so


def test_fuzz_bone_table_comes_from_the_layout_with_the_same_numbers():
    import fuzz_node as fuzz  # bench/ is on the path (above)
    adult = {"spine": 0.25, "neck": 0.25, "head": 0.20, "shoulder": 0.18, "elbow": 0.30, "wrist": 0.26, "hip": 0.09,
             "knee": 0.43, "ankle": 0.43}
    kinds = ["spine", "neck", "head", "shoulder", "elbow", "wrist", "shoulder", "elbow", "wrist", "hip", "knee",
             "ankle", "hip", "knee", "ankle"]  # the bench's former table, bone by bone
    assert_array_equal(fuzz.BONE_RANGE_M, [(0.4 * adult[k], 2.0 * adult[k]) for k in kinds])
    joints = np.zeros((16, 3))
    joints[:, 2] = 3.0
    assert fuzz.absurd_reason(joints) == "bone_length"  # every bone 0 m long


def test_bench_stages_holds_out_the_deepmimic_test_takes():
    import bench_stages as stages
    assert stages.HELD_OUT == ("deepmimic_walk", "deepmimic_punch", "deepmimic_dance_b")
    assert set(stages.HELD_OUT) <= set(tk.TEST_TAKES)
    assert not set(stages.HELD_OUT) & set(tk.VALIDATION_TAKES)
