"""``pose3d-ros train-prior``: fit the probabilistic 3D pose prior (mixture of PPCA) on 3D skeleton data.

Inputs (any mix, all pose3d16 joints in metres):

* ``.npz``: every array of shape (N, 16, 3) or (N, 48) (e.g. the mocap file, one array per clip);
* ``.csv``: one pose per row, 48 numbers (x, y, z per joint in the ``Skeleton3D`` order); a header row and
  non-numeric columns (labels) are skipped;
* ``.jsonl``: lines in the ``estimate`` / ``lift`` output format ``{"frame": i, "skeletons": [{"joints":
  {"<joint_name>": [x, y, z], ...}}]}`` (recorded ``Skeleton3D`` data); skeletons with missing joints are skipped.

``--mocap all|real|deepmimic`` adds the shipped takes (:mod:`pose3d_ros.data.takes`) minus ``--exclude-takes``
(default: the test takes of the held-out protocol; ``--exclude-validation`` also leaves out the validation takes, for
choosing hyperparameters). Each take contributes its distinct poses (a joint moved >= 1 cm since the last kept
frame), so long slow takes do not outweigh short fast ones. Training data are augmented (mirroring, limb
recombination, joint-angle perturbation, small tilts, body proportions) to ``--augment`` poses.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import numpy as np

NUM_JOINTS = 16


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", nargs="*", default=[], type=Path, help="3D pose files: .npz, .csv, .jsonl")
    parser.add_argument("--mocap", choices=("all", "real", "deepmimic"), default=None,
                        help="add the shipped mocap takes: all, the real captures only, or DeepMimic only")
    parser.add_argument("--exclude-takes", nargs="*", default=None,
                        help="shipped takes to leave out (default: the protocol's test takes)")
    parser.add_argument("--exclude-validation", action="store_true",
                        help="also leave out the protocol's validation takes (to choose K, B, augmentation)")
    parser.add_argument("--components", type=int, default=12, help="mixture components K")
    parser.add_argument("--bases", type=int, default=12, help="principal directions per component B")
    parser.add_argument("--augment", type=int, default=20000, help="poses after augmentation (0 = none)")
    parser.add_argument("--max-iter", type=int, default=60, help="EM iterations")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path, required=True, help="prior .npz to write")


def read_poses(path: Path) -> np.ndarray:
    """Read pose3d16 skeletons from one file.

    Parameters
    ----------
    path : Path
        ``.npz``, ``.csv`` or ``.jsonl`` (see the module docstring).

    Returns
    -------
    poses : (N, 16, 3) float64 ndarray

    Raises
    ------
    ValueError
        If the suffix is unknown or the file holds no usable pose.
    """
    from pose3d_ros.core.skeleton import JOINT_NAMES

    suffix = path.suffix.lower()
    poses: list[np.ndarray] = []
    if suffix == ".npz":
        with np.load(path, allow_pickle=False) as data:
            for key in data.files:
                arr = data[key]
                if arr.dtype.kind != "f":
                    continue
                if arr.ndim == 2 and arr.shape[1] == 3 * NUM_JOINTS:
                    arr = arr.reshape(-1, NUM_JOINTS, 3)
                if arr.ndim == 3 and arr.shape[1:] == (NUM_JOINTS, 3):
                    poses.append(arr.astype(np.float64))
    elif suffix == ".csv":
        with path.open(newline="") as fh:
            for row in csv.reader(fh):
                values = []
                for cell in row:
                    try:
                        values.append(float(cell))
                    except ValueError:
                        continue  # header or label cells
                if len(values) == 3 * NUM_JOINTS:
                    poses.append(np.asarray(values).reshape(1, NUM_JOINTS, 3))
    elif suffix in (".jsonl", ".json"):
        with path.open() as fh:
            for line_no, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    doc = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{path}:{line_no}: not JSON ({exc.msg})") from exc
                for skel in doc.get("skeletons", []):
                    joints = skel.get("joints", {})
                    if all(name in joints for name in JOINT_NAMES):
                        poses.append(np.array([joints[n][:3] for n in JOINT_NAMES], dtype=np.float64)[None])
    else:
        raise ValueError(f"{path}: unknown 3D data format {suffix!r} (use .npz, .csv or .jsonl)")
    if not poses:
        raise ValueError(f"{path}: no (N, 16, 3) pose3d16 skeletons found")
    out = np.concatenate(poses)
    return out[np.isfinite(out).all((1, 2))]


def run(args: argparse.Namespace) -> int:
    from pose3d_ros.core.prior import PosePrior
    from pose3d_ros.data.augment import augment

    sets = []
    for path in args.data:
        try:
            sets.append(read_poses(path))
        except (OSError, ValueError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(f"{path}: {len(sets[-1])} poses")
    if args.mocap:
        from pose3d_ros.data import takes as tk

        try:
            takes = tk.load_takes(real=args.mocap != "deepmimic", deepmimic=args.mocap != "real")
            excluded = list(tk.TEST_TAKES if args.exclude_takes is None else args.exclude_takes)
            excluded += list(tk.VALIDATION_TAKES) if args.exclude_validation else []
            kept, _ = tk.split_takes(takes, [n for n in excluded if n in {t.name for t in takes}])
            unknown = set(excluded) - {t.name for t in tk.load_takes()}
            if unknown:
                raise ValueError(f"unknown takes {sorted(unknown)}")
        except (OSError, ValueError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        for take in kept:
            sets.append(take.joints[tk.distinct_poses(take.joints)].astype(np.float64))
        print(f"mocap takes: {', '.join(t.name for t in kept)} ({sum(len(s) for s in sets)} distinct poses); "
              f"left out: {', '.join(excluded) or 'none'}")
    if not sets:
        print("error: no training data: give --data files and/or --mocap", file=sys.stderr)
        return 2
    poses = np.concatenate(sets)
    per_param = len(poses) / (args.components * (args.bases + 1))
    if per_param < 10:
        print(f"warning: {len(poses)} poses before augmentation are few for K={args.components} x B={args.bases} "
              f"({per_param:.1f} per component-basis; aim for >= 10): components will fit single takes",
              file=sys.stderr)
    rng = np.random.default_rng(args.seed)
    train = augment(poses, rng, args.augment) if args.augment > 0 else poses
    print(f"fitting K={args.components} B={args.bases} on {len(train)} poses ({len(poses)} before augmentation)")
    try:
        prior = PosePrior(n_components=args.components, n_bases=args.bases, max_iter=args.max_iter,
                          random_state=args.seed).fit(train)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    args.output.parent.mkdir(parents=True, exist_ok=True)
    prior.save(args.output)
    print(f"wrote {args.output}: {prior.n_iter_} EM iterations, mean log-likelihood {prior.lower_bound_:.2f}, "
          f"body size {prior.body_size_:.3f} m (summed bone length)")
    return 0
