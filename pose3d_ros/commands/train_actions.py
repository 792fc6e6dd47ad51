"""``pose3d-ros train-actions``: train the skeleton-sequence action classifier and write a versioned ``.npz`` model.

Data: ``--data`` files (JSONL from ``estimate`` / ``lift``, one label per file with ``--label`` or per line /
skeleton with a ``"label"`` field; or ``.npz`` of ``(T, 16, 3)`` arrays, key = label), ``--mocap`` (every shipped
take, label = its action class; whole takes ``--holdout-takes`` held out) or ``--deepmimic`` (the DeepMimic clips
only, label = clip name). ``--idle N`` adds N generated standing-in-place sequences labelled ``idle``.
``--holdout F`` keeps the last fraction F of the other sequences out of training. Held-out windows (other
augmentation seeds) give accuracy, a confusion matrix, per-class precision / recall and the calibrated reporting
confidence (``--target-precision``); all go into the model's provenance.

Example (the shipped default model)::

    pose3d-ros train-actions --mocap --idle 60 --holdout 0.25 --windows 12000 --epochs 15 --channels 32 \\
        --target-precision 0.8 --output pose3d_ros/resources/actions/action_tcn_pose3d16.npz
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", nargs="*", default=[], help="labelled JSONL (estimate/lift output) or .npz files")
    parser.add_argument("--label", default=None, help="label for every sequence in --data (else per-line labels)")
    parser.add_argument("--fps", type=float, default=30.0, help="frame rate of --data files without stamps / fps")
    parser.add_argument("--deepmimic", action="store_true", help="add the shipped DeepMimic mocap clips")
    parser.add_argument("--mocap", action="store_true",
                        help="add every shipped mocap take (real + DeepMimic), label = the take's action class")
    parser.add_argument("--holdout-takes", nargs="*", default=None,
                        help="with --mocap: whole takes held out (default: the protocol's action test takes)")
    parser.add_argument("--target-precision", type=float, default=0.9,
                        help="calibrate the reporting confidence to this precision on the held-out windows")
    parser.add_argument("--idle", type=int, default=0, help="add N generated standing-in-place sequences ('idle')")
    parser.add_argument("--holdout", type=float, default=0.25,
                        help="fraction at the end of each sequence kept out of training for evaluation (0 = none)")
    parser.add_argument("--windows", type=int, default=16000, help="augmented training windows")
    parser.add_argument("--eval-windows", type=int, default=3200, help="evaluation windows from the held-out parts")
    parser.add_argument("--window-frames", type=int, default=16, help="frames per classifier window")
    parser.add_argument("--window-s", type=float, default=1.0, help="window duration (s)")
    parser.add_argument("--channels", type=int, default=48, help="conv channels")
    parser.add_argument("--epochs", type=int, default=25)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--weight-decay", type=float, default=1e-4, help="L2 penalty on the weights")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", required=True, help="model .npz to write")


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, k: int) -> np.ndarray:
    """(k, k) counts, rows = true class, columns = predicted."""
    cm = np.zeros((k, k), dtype=np.int64)
    np.add.at(cm, (y_true, y_pred), 1)
    return cm


def format_confusion(cm: np.ndarray, labels: list[str]) -> str:
    """Markdown confusion matrix (rows true, columns predicted) with per-class recall."""
    short = [lab[:8] for lab in labels]
    lines = ["| true \\ pred | " + " | ".join(short) + " | recall |", "|---" * (len(labels) + 2) + "|"]
    for i, lab in enumerate(labels):
        rec = cm[i, i] / max(cm[i].sum(), 1)
        lines.append(f"| {lab} | " + " | ".join(str(v) for v in cm[i]) + f" | {rec:.2f} |")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from pose3d_ros.actions.classifier import ActionClassifier
    from pose3d_ros.actions.training import (
        ACTION_TEST_TAKES,
        AugmentConfig,
        calibrate_min_confidence,
        idle_sequences,
        mocap_sequences,
        read_jsonl,
        read_npz,
        sample_windows,
        split_by_take,
        take_sequences,
        windows_to_features,
    )

    seqs = []
    try:
        for f in args.data:
            p = Path(f)
            if not p.is_file():
                raise FileNotFoundError(f"--data file not found: {p}")
            seqs += read_npz(p, args.label, args.fps) if p.suffix == ".npz" else read_jsonl(p, args.label, args.fps)
    except (OSError, ValueError) as exc:
        print(f"train-actions: {exc}", file=sys.stderr)
        return 2
    if args.deepmimic and not args.mocap:
        seqs += mocap_sequences()
    if args.mocap:
        seqs += take_sequences()
    if args.idle > 0:
        seqs += idle_sequences(args.idle, seed=args.seed + 1000)
    labels = sorted({s.label for s in seqs})
    if len(labels) < 2:
        print(f"train-actions: need sequences of at least 2 labels, got {labels} "
              "(give --data with labels, --deepmimic or --idle)", file=sys.stderr)
        return 2
    whole: set[str] = set()
    if args.mocap:
        held = tuple(ACTION_TEST_TAKES if args.holdout_takes is None else args.holdout_takes)
        train, test, whole = split_by_take(seqs, held, args.holdout)
        print(f"held out whole takes: {', '.join(held)} (classes {', '.join(sorted(whole))}); "
              f"other classes: last {args.holdout:.0%} of each sequence")
    elif args.holdout > 0:
        pairs = [s.split(args.holdout) if len(s.times) >= 4 else (s, None) for s in seqs]
        train = [a for a, _ in pairs]
        test = [b for _, b in pairs if b is not None]
    else:
        train, test = seqs, []
    print(f"{len(seqs)} sequences, {len(labels)} labels: {', '.join(labels)}")
    aug = AugmentConfig()
    t0 = time.monotonic()
    win, y = sample_windows(train, labels, args.windows, args.window_frames, args.window_s, args.seed, aug)
    dt = args.window_s / (args.window_frames - 1)
    x, keep = windows_to_features(win, dt)
    y = y[keep]
    print(f"{len(x)} training windows ({time.monotonic() - t0:.1f} s)")
    model = ActionClassifier.init(labels, x.shape[2], channels=args.channels, window_frames=args.window_frames,
                                  window_s=args.window_s, seed=args.seed)
    hist = model.fit(x, y, epochs=args.epochs, lr=args.lr, weight_decay=args.weight_decay, seed=args.seed, log=print)
    prov = {"command": "pose3d-ros train-actions " + " ".join(sys.argv[2:] if sys.argv[1:2] == ["train-actions"]
                                                                else sys.argv[1:]),
            "sources": sorted({s.source.split("[")[0] for s in seqs}), "labels": labels,
            "holdout_fraction": args.holdout, "train_windows": int(len(x)), "epochs": args.epochs,
            "weight_decay": args.weight_decay,
            "final_train_loss": round(hist[-1], 4), "seed": args.seed, "augmentation": vars(aug)}
    if test:
        tw, ty = sample_windows(test, labels, args.eval_windows, args.window_frames, args.window_s,
                                args.seed + 7919, aug)
        tx, tk = windows_to_features(tw, dt)
        ty = ty[tk]
        prob = model.predict_proba(tx)
        pred = prob.argmax(axis=1)
        acc = float((pred == ty).mean())
        cm = confusion_matrix(ty, pred, len(labels))
        print(f"held-out accuracy (augmented, other seeds): {acc:.3f} on {len(ty)} windows")
        print(format_confusion(cm, labels))
        idle = labels.index("idle") if "idle" in labels else None
        threshold = calibrate_min_confidence(prob, ty, args.target_precision, idle)
        sel = prob.max(1) >= threshold
        per_class = {}
        for k, name in enumerate(labels):
            tp = int(((pred == k) & (ty == k) & sel).sum())
            per_class[name] = {"precision": round(tp / max(int(((pred == k) & sel).sum()), 1), 3),
                               "recall": round(tp / max(int((ty == k).sum()), 1), 3),
                               "whole_take_held_out": name in whole}
        print(f"reporting confidence calibrated for precision >= {args.target_precision}: {threshold:.2f}")
        for name, r in per_class.items():
            print(f"  {name:16s} precision {r['precision']:.3f} recall {r['recall']:.3f} "
                  f"({'unseen takes' if r['whole_take_held_out'] else 'unseen frames of training takes'})")
        prov["heldout_accuracy"] = round(acc, 4)
        prov["heldout_windows"] = int(len(ty))
        prov["calibrated_min_confidence"] = threshold
        prov["heldout_per_class"] = per_class
    model.provenance = prov
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    model.save(out)
    print(f"wrote {out}")
    return 0
