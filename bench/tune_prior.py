#!/usr/bin/env python3
"""Choose the prior's K, B, augmentation and the lifter's bone source on the VALIDATION takes (never the test ones).

Each candidate prior must be fitted without the validation takes::

    pose3d-ros train-prior --mocap all --exclude-validation --components K --bases B --augment N \\
        --output out/priors/val_kKbB.npz
    OMP_NUM_THREADS=1 .venv/bin/python bench/tune_prior.py out/priors/val_*.npz

Conditions: exact 2D and 5 px noise + 20 % dropped joints (the held-out views of ``bench_lifting.py``), per lifter
mode (default; ``precise_2d``) and bone source (prior mean body; each person's own lifted proportions). Prints MPJPE
and PA-MPJPE (mm) on all validation poses and on the unseen body (the fencer).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_lifting import make_views, project  # noqa: E402
from metrics import mpjpe, pa_mpjpe  # noqa: E402

from pose3d_ros.core.camera import PinholeCamera  # noqa: E402
from pose3d_ros.core.lifting import PoseLifter  # noqa: E402
from pose3d_ros.core.prior import PosePrior  # noqa: E402
from pose3d_ros.data import takes as tk  # noqa: E402


def validation_views(max_poses: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    _, val = tk.split_takes(tk.load_takes(), tk.VALIDATION_TAKES)
    sets, unseen = [], []
    for take in val:
        idx = tk.distinct_poses(take.joints, 0.05)
        idx = idx[np.linspace(0, len(idx) - 1, min(max_poses, len(idx))).round().astype(int)]
        sets.append(take.joints[idx].astype(np.float64))
        unseen += [take.name == "vicon_fencing"] * len(idx)
    gt, _ = make_views(np.concatenate(sets), np.random.default_rng(seed), (3.5,), (0.0, 15.0))
    return gt, np.tile(np.asarray(unseen), 2)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("priors", nargs="+", type=Path)
    parser.add_argument("--max-poses", type=int, default=120)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    gt, unseen = validation_views(args.max_poses, args.seed)
    cam = PinholeCamera.default(640, 480)
    rng = np.random.default_rng(args.seed + 1)
    pix = project(gt, cam)
    noisy = pix + 5.0 * rng.standard_normal(pix.shape)
    drop = (rng.random(gt.shape[:2]) >= 0.2).astype(float)
    print(f"{len(gt)} validation views ({unseen.sum()} of the unseen body)\n")
    print("| prior | lifter | bones | exact 2D MPJPE / PA | unseen body exact | 5 px + 20 % MPJPE / PA |")
    print("|---|---|---|---|---|---|")
    for path in args.priors:
        prior = PosePrior.load(path)
        for mode in ("default", "precise_2d"):
            for own in (False, True):
                lifter = PoseLifter(prior, precise_2d=mode == "precise_2d", bones_from_lift=own)
                a = lifter.lift(pix, np.ones(gt.shape[:2]), cam).poses
                b = lifter.lift(noisy, drop, cam).poses
                ok_a, ok_b = np.isfinite(a).all((1, 2)), np.isfinite(b).all((1, 2))
                e = 1000 * mpjpe(a[ok_a], gt[ok_a])
                print(f"| {path.stem} | {mode} | {'own' if own else 'mean'} | {e.mean():.1f} / "
                      f"{1000 * pa_mpjpe(a[ok_a], gt[ok_a]).mean():.1f} | "
                      f"{1000 * mpjpe(a[ok_a & unseen], gt[ok_a & unseen]).mean():.1f} | "
                      f"{1000 * mpjpe(b[ok_b], gt[ok_b]).mean():.1f} / "
                      f"{1000 * pa_mpjpe(b[ok_b], gt[ok_b]).mean():.1f} |",
                      flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
