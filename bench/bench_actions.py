#!/usr/bin/env python3
"""Action classifier and gesture benchmark: held-out accuracy, accuracy after 2D -> 3D lifting, gesture precision /
recall / latency on generated sequences, and per-person cost.

(1) Held-out action accuracy: windows of the whole held-out takes (``actions.training.ACTION_TEST_TAKES``: a
    DeepMimic walk, a climb sequence of a climber no training take has, the boxer, a spin kick), of the last
    ``--holdout`` of every take of the classes with a single take (unseen frames, not unseen takes: reported apart),
    and of generated idle sequences with a seed never used in training - classified from clean 3D and from 3D with
    estimator-like noise (2 cm joint noise, 5 % missing joints). Per class: recall, and precision / recall of what
    is *reported* (confidence >= the model's calibrated ``calibrated_min_confidence``, as the recognizer does).
(2) The same windows after the project's own 2D -> 3D path: the held-out 3D is turned to a random heading, put 3.5 m
    in front of a 640x480 Kinect-v1 camera, projected, given 3 px Gaussian 2D noise, lifted frame by frame with
    ``core.lifting.PoseLifter`` and the shipped prior, then classified.
(3) Gestures: ``--gesture-reps`` generated sequences per gesture kind and per look-alike kind (random side, heading
    within +-0.4 rad, frequency 1-2.5 Hz, 1 cm noise, 2 % missing joints) run through ``ActionRecognizer`` frame by
    frame at 30 fps. A positive is recalled when its label is announced; precision counts every gesture event;
    latency = event time - time the gesture is complete (pose reached, or second direction change for wave /
    come here).
(4) Cost per person per frame: classifier (resample + features + network, batched over P people) and gestures.

    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_actions.py            # ~3 min on 2 cores
    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_actions.py --quick
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pose3d_ros.actions.classifier import ActionClassifier, default_model_path  # noqa: E402
from pose3d_ros.actions.features import resample_track, rotation_y  # noqa: E402
from pose3d_ros.actions.gestures import detect_gestures  # noqa: E402
from pose3d_ros.actions.recognizer import ActionRecognizer  # noqa: E402
from pose3d_ros.actions.training import (  # noqa: E402
    ACTION_TEST_TAKES,
    IDLE_LABEL,
    idle_sequences,
    split_by_take,
    take_sequences,
    windows_to_features,
)
from pose3d_ros.commands.train_actions import confusion_matrix, format_confusion  # noqa: E402
from pose3d_ros.sim.gestures import NEGATIVE_KINDS, POSITIVE_KINDS, make_sequence  # noqa: E402


@dataclass
class _Track:
    id: int
    pose: np.ndarray
    misses: int = 0


def heldout_sequences(holdout: float, idle_n: int, seed: int):
    """Test sequences of the action protocol and the labels tested on whole unseen takes."""
    _, test, whole = split_by_take(take_sequences(), ACTION_TEST_TAKES, holdout)
    test += [s.split(holdout)[1] for s in idle_sequences(idle_n, seed)]
    return test, whole


def windows_at(seq_times, seq_poses, model, step):
    """Windows ending at every ``step``-th frame of a sequence (history clamped at its start)."""
    t = seq_times - seq_times[0]
    ends = t[::step]
    return np.stack([resample_track(t, seq_poses, e, model.window_s, model.window_frames) for e in ends])


def classify(model, windows):
    """Top label (-1 = unclassifiable window) and its probability."""
    x, keep = windows_to_features(windows, model.dt)
    pred, conf = np.full(len(windows), -1), np.zeros(len(windows))
    if keep.any():
        prob = model.predict_proba(x)
        pred[keep], conf[keep] = prob.argmax(axis=1), prob.max(axis=1)
    return pred, conf


def lift_sequence(poses, rng, lifter, camera, noise_px):
    """Held-out 3D -> random heading, 3.5 m away -> 2D + noise -> lifted 3D (NaN where the lifter declines)."""
    root = poses[:, 0].mean(axis=0)
    p = (poses - root) @ rotation_y(rng.uniform(-np.pi, np.pi)).T + np.array([0.0, 0.0, 3.5])
    uv = camera.project(p) + rng.normal(0.0, noise_px, p.shape[:2] + (2,))
    res = lifter.lift(uv, np.ones(p.shape[:2]), camera)
    out = np.asarray(res.poses, dtype=np.float64)
    out[~res.valid] = np.nan
    return out, float(np.mean(res.valid))


def bench_accuracy(model, args, rng):
    labels = list(model.labels)
    seqs, whole = heldout_sequences(args.holdout, args.idle, seed=args.seed)
    seqs = [s for s in seqs if s.label in labels]
    threshold = float(model.provenance.get("calibrated_min_confidence", 0.0))
    rows = {}
    conds = ["clean 3D", "noisy 3D (2 cm, 5 % missing)"]
    lifter = camera = None
    if not args.no_lift:
        from pose3d_ros.core.camera import PinholeCamera
        from pose3d_ros.core.lifting import PoseLifter
        from pose3d_ros.core.prior import load_default_prior

        lifter = PoseLifter(load_default_prior())
        camera = PinholeCamera.default(640, 480)
        conds.append(f"2D ({args.noise_px:g} px) -> lifted 3D")
    y_all = {c: [] for c in conds}
    p_all = {c: [] for c in conds}
    c_all = {c: [] for c in conds}
    valid_frac = []
    lift_ms = []
    for s in seqs:
        y = labels.index(s.label)
        for c in conds:
            if c == "clean 3D":
                poses = s.poses
            elif c.startswith("noisy"):
                poses = s.poses + rng.normal(0.0, 0.02, s.poses.shape)
                poses[rng.random(poses.shape[:2]) < 0.05] = np.nan
            else:
                t0 = time.perf_counter()
                poses, vf = lift_sequence(s.poses, rng, lifter, camera, args.noise_px)
                lift_ms.append(1000 * (time.perf_counter() - t0) / len(poses))
                valid_frac.append(vf)
            w = windows_at(s.times, poses, model, args.step)
            pred, conf = classify(model, w)
            y_all[c] += [y] * len(pred)
            p_all[c] += list(pred)
            c_all[c] += list(conf)
    for c in conds:
        yt, yp = np.array(y_all[c]), np.array(p_all[c])
        ok = yp >= 0
        acc = float((yp == yt).mean())
        cm = confusion_matrix(yt[ok], yp[ok], len(labels))
        recall = [cm[i, i] / cm[i].sum() for i in range(len(labels)) if cm[i].sum() > 0]
        mocap = yt != labels.index(IDLE_LABEL) if IDLE_LABEL in labels else np.ones(len(yt), bool)
        shown = ok & (np.array(c_all[c]) >= threshold)
        reported = {}
        for i, lab in enumerate(labels):
            tp = int(((yp == i) & (yt == i) & shown).sum())
            reported[lab] = {"precision": tp / max(int(((yp == i) & shown).sum()), 1),
                             "recall": tp / max(int((yt == i).sum()), 1), "whole_take_held_out": lab in whole}
        rows[c] = {"accuracy": acc, "balanced_accuracy": float(np.mean(recall)), "reported": reported,
                   "threshold": threshold,
                   "mocap_accuracy": float((yp[mocap] == yt[mocap]).mean()),
                   "windows": int(len(yt)), "unclassified": int((~ok).sum()),
                   "confusion": cm.tolist(),
                   "per_class_recall": {lab: float(cm[i, i] / max(cm[i].sum(), 1)) for i, lab in enumerate(labels)}}
    extra = {"lift_valid_fraction": float(np.mean(valid_frac)) if valid_frac else None,
             "lift_ms_per_frame": float(np.median(lift_ms)) if lift_ms else None}
    return rows, extra


def bench_gestures(args, rng):
    rec = ActionRecognizer({"classifier": False})
    kinds = [(k, True) for k in POSITIVE_KINDS] + [(k, False) for k in NEGATIVE_KINDS]
    per_kind = {}
    tp = fp = fn = 0
    latencies = []
    for kind, positive in kinds:
        hits = false = 0
        kind_lat = []
        for _ in range(args.gesture_reps):
            side = ("left", "right")[int(rng.integers(2))]
            # pointing sideways / forward, but >= ~55 deg away from the camera axis (pointing at the camera = stop)
            pdir = [rng.uniform(0.8, 1.0), rng.uniform(-0.3, 0.3), rng.uniform(-0.4, 0.0)]
            seq = make_sequence(kind, side=side, heading=float(rng.uniform(-0.4, 0.4)),
                                freq_hz=float(rng.uniform(1.0, 2.5)), noise_m=0.01, nan_prob=0.02, rng=rng,
                                point_dir=pdir)
            rec.reset()
            events = []
            for t, p in zip(seq.times, seq.poses, strict=True):
                events += rec.update([_Track(1, p)], float(t))[1]
            good = [e for e in events if e.label == seq.label] if positive else []
            bad = [e for e in events if e.label != seq.label] if positive else events
            if positive:
                if good:
                    hits += 1
                    tp += 1
                    latencies.append(good[0].stamp - seq.performed)
                    kind_lat.append(latencies[-1])
                else:
                    fn += 1
            fp += len(bad)
            false += len(bad)
        per_kind[kind] = {"positive": positive, "sequences": args.gesture_reps, "recalled": hits,
                          "false_events": false, "latency_max_s": max(kind_lat) if kind_lat else None}
    lat = np.array(latencies) if latencies else np.zeros(1)
    return {"precision": tp / max(tp + fp, 1), "recall": tp / max(tp + fn, 1), "true_events": tp,
            "false_events": fp, "missed": fn, "latency_median_s": float(np.median(lat)),
            "latency_p95_s": float(np.percentile(lat, 95)), "latency_max_s": float(lat.max()),
            "per_kind": per_kind}


def _timed(fn, n):
    """(wall ms, process CPU ms) per call: CPU time is what a call costs when the machine is shared."""
    fn()
    w0, c0 = time.perf_counter(), time.process_time()
    for _ in range(n):
        fn()
    return 1000 * (time.perf_counter() - w0) / n, 1000 * (time.process_time() - c0) / n


def bench_cost(model, args):
    seq = make_sequence("wave", noise_m=0.01)
    t, p = seq.times[-45:], seq.poses[-45:]
    out = {}
    for persons in (1, 4, 8):
        def run_classifier(persons=persons):
            w = np.stack([resample_track(t, p, t[-1], model.window_s, model.window_frames)] * persons)
            x, _ = windows_to_features(w, model.dt)
            model.predict_proba(x)
        wall, cpu = _timed(run_classifier, args.repeats)
        out[f"classifier_P{persons}"] = (wall / persons, cpu / persons)
    for name, (tt, pp) in {"at_rest": (t, p), "waving": (seq.times[40:85], seq.poses[40:85])}.items():
        out[f"gestures_{name}"] = _timed(lambda tt=tt, pp=pp: detect_gestures(tt, pp), args.repeats)
    rec = ActionRecognizer()
    frames = [(float(t), p) for t, p in zip(seq.times, seq.poses, strict=True)]
    state = {"i": 0}

    def step():
        i = state["i"] % len(frames)
        if i == 0:
            rec.reset()
        t, p = frames[i]
        rec.update([_Track(1, p)], t + 100.0 * (state["i"] // len(frames)))
        state["i"] += 1
    out["recognizer_update"] = _timed(step, args.repeats)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=str(default_model_path()), help="action model .npz")
    ap.add_argument("--holdout", type=float, default=0.25, help="must match the model's training hold-out")
    ap.add_argument("--idle", type=int, default=30, help="held-out generated idle sequences")
    ap.add_argument("--step", type=int, default=2, help="a window ends at every STEP-th held-out frame")
    ap.add_argument("--noise-px", type=float, default=3.0, help="2D noise before lifting (px, 1 sigma)")
    ap.add_argument("--no-lift", action="store_true", help="skip the 2D -> lift condition")
    ap.add_argument("--gesture-reps", type=int, default=10, help="sequences per gesture / look-alike kind")
    ap.add_argument("--repeats", type=int, default=300, help="timing repetitions")
    ap.add_argument("--seed", type=int, default=4242, help="seed (idle hold-out, noise, headings)")
    ap.add_argument("--quick", action="store_true", help="fewer sequences and repetitions")
    ap.add_argument("--output", default="out/bench/actions.json")
    args = ap.parse_args(argv)
    if args.quick:
        args.idle, args.step, args.gesture_reps, args.repeats = 10, 4, 3, 50
    rng = np.random.default_rng(args.seed)
    model = ActionClassifier.load(args.model)
    if model.provenance.get("holdout_fraction") not in (None, args.holdout):
        print(f"warning: model was trained with hold-out {model.provenance['holdout_fraction']}, "
              f"evaluating with {args.holdout}", file=sys.stderr)
    t0 = time.monotonic()
    acc, extra = bench_accuracy(model, args, rng)
    gest = bench_gestures(args, rng)
    cost = bench_cost(model, args)
    print("## Action classifier, held-out windows\n")
    print("| condition | accuracy | balanced accuracy | accuracy, mocap clips only | windows |\n|---|---|---|---|---|")
    for c, r in acc.items():
        print(f"| {c} | {r['accuracy']:.3f} | {r['balanced_accuracy']:.3f} | {r['mocap_accuracy']:.3f} "
              f"| {r['windows']} |")
    if extra["lift_valid_fraction"] is not None:
        print(f"\nlifting: {100 * extra['lift_valid_fraction']:.1f} % of frames valid, "
              f"{extra['lift_ms_per_frame']:.2f} ms/frame")
    for c, r in acc.items():
        print(f"\n### Reported labels (confidence >= {r['threshold']:.2f}): {c}\n")
        print("| class | precision | recall | held out as |\n|---|---|---|---|")
        for lab, q in r["reported"].items():
            print(f"| {lab} | {q['precision']:.3f} | {q['recall']:.3f} | "
                  f"{'whole unseen takes' if q['whole_take_held_out'] else 'unseen frames of training takes'} |")
    for c, r in acc.items():
        print(f"\n### Confusion matrix: {c}\n")
        print(format_confusion(np.array(r["confusion"]), list(model.labels)))
    print("\n## Gestures (generated sequences)\n")
    print(f"precision {gest['precision']:.3f}, recall {gest['recall']:.3f} ({gest['true_events']} true events, "
          f"{gest['false_events']} false, {gest['missed']} missed); latency median {gest['latency_median_s']:.2f} s, "
          f"p95 {gest['latency_p95_s']:.2f} s, max {gest['latency_max_s']:.2f} s\n")
    print("| kind | positive | recalled | false events | max latency (s) |\n|---|---|---|---|---|")
    for k, r in gest["per_kind"].items():
        lat = "" if r["latency_max_s"] is None else f"{r['latency_max_s']:.2f}"
        print(f"| {k} | {r['positive']} | {r['recalled']}/{r['sequences']} | {r['false_events']} | {lat} |")
    print("\n## Cost per person per frame (ms)\n\n| stage | wall ms | CPU ms |\n|---|---|---|")
    for k, (wall, cpu) in cost.items():
        print(f"| {k} | {wall:.3f} | {cpu:.3f} |")
    result = {"model": args.model, "model_provenance": model.provenance, "args": vars(args), "accuracy": acc,
              "lifting": extra, "gestures": gest, "cost_ms": cost, "idle_label": IDLE_LABEL,
              "wall_s": time.monotonic() - t0}
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print(f"\nwrote {out} ({result['wall_s']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
