#!/usr/bin/env python3
"""Lifting video, not single images: does a track's previous pose keep each person on the right side?

Every held-out take (``pose3d_ros.data.takes.TEST_TAKES``; ``--validation`` for the validation takes, where
``temporal_sigma_m`` is chosen) is played at 30 fps in front of a virtual 640x480 Kinect-v1 camera (one random
heading per take, 3.5 m away), projected, optionally given 2D noise, and lifted frame by frame:

* ``single image``: every frame alone (what the pipeline did before);
* ``previous pose``: each frame also gets the previous frame's output (``PoseLifter.lift(previous_3d=...)``): the
  hypothesis nearest to it is preferred.

Reports MPJPE / PA-MPJPE (mm), the fraction of frames whose facing is off by more than 90 degrees (the global side
flip), frame-to-frame jitter of the root-relative joints (mm, against the truth's own motion) and the lift time per
person (one core), in one run::

    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_lifting_video.py [--validation] [--sigmas 0.1 0.15 0.3]
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from metrics import mpjpe, pa_mpjpe  # noqa: E402

from pose3d_ros.core.camera import PinholeCamera  # noqa: E402
from pose3d_ros.core.lifting import PoseLifter  # noqa: E402
from pose3d_ros.core.prior import PosePrior, default_prior_path, facing_angle, rotate_y  # noqa: E402
from pose3d_ros.data import takes as tk  # noqa: E402


def play(lifter: PoseLifter, pix: np.ndarray, conf: np.ndarray, cam: PinholeCamera, temporal: bool
         ) -> tuple[np.ndarray, float]:
    """Lift a take frame by frame; returns the poses (T, 16, 3) and the median CPU ms per frame."""
    out, cpu, prev = np.full((len(pix), 16, 3), np.nan), [], None
    for t in range(len(pix)):
        c0 = time.thread_time()
        res = lifter.lift(pix[t : t + 1], conf[t : t + 1], cam, previous_3d=prev if temporal else None)
        cpu.append(1000 * (time.thread_time() - c0))
        out[t] = res.poses[0]
        prev = res.poses[:1] if res.valid[0] else None
    return out, float(np.median(cpu))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prior", type=Path, default=None)
    parser.add_argument("--validation", action="store_true")
    parser.add_argument("--sigmas", type=float, nargs="+", default=[0.2])
    parser.add_argument("--noise-px", type=float, nargs="+", default=[0.0, 5.0])
    parser.add_argument("--max-frames", type=int, default=300, help="frames per take at most (the first ones)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    prior = PosePrior.load(args.prior or default_prior_path())
    names = tk.VALIDATION_TAKES if args.validation else tk.TEST_TAKES
    _, takes = tk.split_takes(tk.load_takes(), names)
    cam = PinholeCamera.default(640, 480)
    rng = np.random.default_rng(args.seed)
    views = []
    for take in takes:
        x = take.joints[: args.max_frames].astype(np.float64)
        x = rotate_y(x - x[:1, :1], np.full(len(x), rng.uniform(-np.pi, np.pi))) + [0.0, 0.0, 3.5]
        views.append((take.name, x))
    print(f"## Lifting video: {'validation' if args.validation else 'test'} takes {', '.join(names)} "
          f"({sum(len(v) for _, v in views)} frames at 30 fps)\n")
    print("| 2D noise px | method | MPJPE mm | PA-MPJPE mm | side flips | jitter mm | CPU ms / person |")
    print("|---|---|---|---|---|---|---|")
    for noise in args.noise_px:
        methods = [("single image", PoseLifter(prior), False)]
        methods += [(f"previous pose, sigma {s:g} m", PoseLifter(prior, temporal_sigma_m=s), True) for s in args.sigmas]
        for name, lifter, temporal in methods:
            preds, gts, cpus = [], [], []
            noise_rng = np.random.default_rng(args.seed + 1)
            for _, x in views:
                pix = cam.project(x) + noise * noise_rng.standard_normal(x.shape[:2] + (2,))
                pred, cpu = play(lifter, pix, np.ones(x.shape[:2]), cam, temporal)
                preds.append(pred)
                gts.append(x)
                cpus.append(cpu)
            p, g = np.concatenate(preds), np.concatenate(gts)
            ok = np.isfinite(p).all((1, 2))
            turn = np.abs(np.angle(np.exp(1j * (facing_angle(p[ok]) - facing_angle(g[ok])))))
            rel_p = np.concatenate([q - q[:, :1] for q in preds])
            rel_g = np.concatenate([q - q[:, :1] for q in gts])
            step = np.linalg.norm(np.diff(rel_p, axis=0) - np.diff(rel_g, axis=0), axis=-1).mean(-1)
            print(f"| {noise:g} | {name} | {1000 * mpjpe(p[ok], g[ok]).mean():.1f} | "
                  f"{1000 * pa_mpjpe(p[ok], g[ok]).mean():.1f} | {(turn > np.pi / 2).mean():.3f} | "
                  f"{1000 * np.nanmedian(step):.1f} | {np.median(cpus):.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
