"""Training data readers, window sampling and the train-actions command."""

import json

import numpy as np
import pytest

from pose3d_ros.actions.classifier import ActionClassifier
from pose3d_ros.actions.training import (
    AugmentConfig,
    LabelledSequence,
    read_jsonl,
    read_npz,
    sample_windows,
    windows_to_features,
)
from pose3d_ros.cli import main
from pose3d_ros.core.skeleton import JOINT_NAMES
from pose3d_ros.sim.gestures import make_sequence


def _write_jsonl(path, seq, label_at=None, stamp=True):
    with open(path, "w") as f:
        for i, (t, p) in enumerate(zip(seq.times, seq.poses, strict=True)):
            sk = {"id": 1, "joints": {n: list(map(float, p[j])) for j, n in enumerate(JOINT_NAMES)}}
            doc = {"frame": i, "skeletons": [sk]}
            if stamp:
                doc["stamp"] = float(t)
            if label_at is not None:
                sk["label"] = label_at(i)
            f.write(json.dumps(doc) + "\n")


def test_read_jsonl_splits_segments_by_label(tmp_path):
    seq = make_sequence("idle", hold_s=1.0)
    _write_jsonl(tmp_path / "a.jsonl", seq, label_at=lambda i: "x" if i < 30 else "y")
    got = read_jsonl(tmp_path / "a.jsonl")
    assert [(s.label, len(s.times)) for s in got] == [("x", 30), ("y", len(seq.times) - 30)]
    np.testing.assert_allclose(got[0].poses, seq.poses[:30], atol=1e-9)


def test_read_jsonl_file_label_and_malformed_line(tmp_path):
    seq = make_sequence("idle", hold_s=0.5)
    _write_jsonl(tmp_path / "a.jsonl", seq, stamp=False)
    got = read_jsonl(tmp_path / "a.jsonl", label="wave", fps=10.0)
    assert got[0].label == "wave" and got[0].times[1] == pytest.approx(0.1)
    (tmp_path / "bad.jsonl").write_text('{"frame": 0, "skeletons": [}\n')
    with pytest.raises(ValueError, match="bad.jsonl:1"):
        read_jsonl(tmp_path / "bad.jsonl", label="x")


def test_read_npz_rejects_other_layouts(tmp_path):
    np.savez(tmp_path / "ok.npz", walk=np.zeros((5, 16, 3)), fps=np.float64(20.0))
    assert read_npz(tmp_path / "ok.npz")[0].times[1] == pytest.approx(0.05)
    np.savez(tmp_path / "coco.npz", walk=np.zeros((5, 17, 3)))
    with pytest.raises(ValueError, match=r"\(5, 17, 3\)"):
        read_npz(tmp_path / "coco.npz")


def test_split_holds_out_the_end():
    s = LabelledSequence("a", np.arange(8.0), np.zeros((8, 16, 3)))
    train, test = s.split(0.25)
    assert len(train.times) == 6 and test.times[0] == 6.0


def test_sampled_windows_are_balanced_and_survive_dropout():
    seqs = [LabelledSequence(lab, make_sequence(k).times, make_sequence(k).poses)
            for lab, k in (("a", "wave"), ("b", "t_pose"))]
    w, y = sample_windows(seqs, ["a", "b"], 40, 8, 0.5, seed=0,
                          augment=AugmentConfig(dropout_prob=1.0, dropout_rate=(0.2, 0.2)))
    assert w.shape == (40, 8, 16, 3) and np.bincount(y).tolist() == [20, 20]
    assert np.isnan(w).any()
    x, keep = windows_to_features(w, 0.5 / 7)
    assert np.isfinite(x).all() and x.shape[0] == keep.sum() > 30


def test_train_actions_command_on_jsonl(tmp_path, capsys):
    for k in ("wave", "t_pose"):
        _write_jsonl(tmp_path / f"{k}.jsonl", make_sequence(k, rng=np.random.default_rng(0), noise_m=0.01),
                     label_at=lambda i, k=k: k)
    out = tmp_path / "m.npz"
    rc = main(["train-actions", "--data", str(tmp_path / "wave.jsonl"), str(tmp_path / "t_pose.jsonl"),
               "--windows", "200", "--eval-windows", "40", "--epochs", "3", "--channels", "8",
               "--output", str(out)])
    assert rc == 0
    m = ActionClassifier.load(out)
    assert m.labels == ("t_pose", "wave") and "heldout_accuracy" in m.provenance
    assert "held-out accuracy" in capsys.readouterr().out


def test_train_actions_needs_two_labels(tmp_path, capsys):
    _write_jsonl(tmp_path / "a.jsonl", make_sequence("idle"))
    rc = main(["train-actions", "--data", str(tmp_path / "a.jsonl"), "--label", "x", "--output",
               str(tmp_path / "m.npz")])
    assert rc == 2 and "at least 2 labels" in capsys.readouterr().err


def test_whole_takes_are_held_out_and_single_take_classes_split_by_time():
    from pose3d_ros.actions.training import split_by_take, take_sequences

    seqs = take_sequences()
    train, test, whole = split_by_take(seqs, ("deepmimic_walk", "boxing_toes"), 0.25)
    assert {"walk", "punch"} <= whole
    assert "take:deepmimic_walk" in {s.source for s in test}
    assert "take:deepmimic_walk" not in {s.source for s in train}
    assert all(not s.source.startswith("take:boxing_toes") for s in train)
    fence = [s for s in test if s.label == "fence"]  # one take only: its last quarter is held out
    assert fence and fence[0].source.endswith("[held-out]")
    assert "dance" not in {s.label for s in seqs}  # not a class (single simulated performances)


def test_calibrated_confidence_reaches_the_target_precision():
    from pose3d_ros.actions.training import calibrate_min_confidence

    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 400)
    conf = rng.uniform(0.4, 1.0, 400)
    right = conf > 0.7  # confident windows are right, the others wrong
    pred = np.where(right, y, (y + 1) % 3)
    prob = np.full((400, 3), 0.0)
    prob[np.arange(400), pred] = conf
    t = calibrate_min_confidence(prob, y, 0.9)
    assert 0.6 <= t <= 0.72
    assert calibrate_min_confidence(prob, (y + 2) % 3, 0.9) == 1.0  # never right: never reported
