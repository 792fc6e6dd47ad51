#!/usr/bin/env python3
"""Lifting video, not single images: does a track's previous pose keep each person on the right side?

Every held-out take (``pose3d_ros.data.takes.TEST_TAKES``; ``--validation`` for the validation takes, where
``temporal_sigma_m`` is chosen) is played at 30 fps in front of a virtual 640x480 Kinect-v1 camera (one random
heading per take, 3.5 m away), projected, optionally given 2D noise, and lifted frame by frame:

* ``single image``: every frame alone (what the pipeline did before);
* ``previous pose``: each frame also gets the previous frame's output (``PoseLifter.lift(previous_3d=...)``): the
  hypothesis nearest to it is preferred; with ``--depth`` also the track's running bone estimate
  (``core.temporal.PreviousPoses``, as the pipeline does).

``--depth`` adds joint depths from the independent simulator (``bench/depth_sim.py``) to every frame.

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

from depth_sim import render_depth  # noqa: E402
from metrics import mpjpe, pa_mpjpe  # noqa: E402

from pose3d_ros.core.camera import PinholeCamera  # noqa: E402
from pose3d_ros.core.depth import sample_joint_depth  # noqa: E402
from pose3d_ros.core.lifting import PoseLifter  # noqa: E402
from pose3d_ros.core.prior import PosePrior, default_prior_path, facing_angle, rotate_y  # noqa: E402
from pose3d_ros.core.rgbd_lift import lift_with_depth  # noqa: E402
from pose3d_ros.core.temporal import PreviousPoses  # noqa: E402
from pose3d_ros.data import takes as tk  # noqa: E402


def play(lifter: PoseLifter, pix: np.ndarray, conf: np.ndarray, cam: PinholeCamera, temporal: bool,
         surface: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """Lift a take frame by frame (the pipeline's path: ``lift_with_depth`` + ``PreviousPoses``); returns the poses
    (T, 16, 3) and the median CPU ms per frame."""
    out, cpu, track = np.full((len(pix), 16, 3), np.nan), [], PreviousPoses()
    for t in range(len(pix)):
        c0 = time.thread_time()
        prev = track.match(pix[t : t + 1]) if temporal else None
        bones = track.bones() if temporal and surface is not None else None
        _, poses, measured = lift_with_depth(lifter, pix[t : t + 1], conf[t : t + 1], cam,
                                             None if surface is None else surface[t : t + 1], None, prev, bones)
        track.remember(pix[t : t + 1], poses, measured)
        cpu.append(1000 * (time.thread_time() - c0))
        out[t] = poses[0]
    return out, float(np.median(cpu))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prior", type=Path, default=None)
    parser.add_argument("--validation", action="store_true")
    parser.add_argument("--sigmas", type=float, nargs="+", default=[0.2])
    parser.add_argument("--noise-px", type=float, nargs="+", default=[0.0, 5.0])
    parser.add_argument("--max-frames", type=int, default=300, help="frames per take at most (the first ones)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--depth", action="store_true", help="add joint depths from bench/depth_sim.py")
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
        surface = None
        if args.depth:
            surface = np.stack([sample_joint_depth(render_depth(p[None], cam.fx, cam.fy, cam.cx, cam.cy,
                                                                (cam.height, cam.width), rng), cam.project(p))
                                for p in x])
        views.append((take.name, x, surface))
    print(f"## Lifting video: {'validation' if args.validation else 'test'} takes {', '.join(names)} "
          f"({sum(len(v) for _, v, _ in views)} frames at 30 fps{', independent depth' if args.depth else ''})\n")
    print("| 2D noise px | method | MPJPE mm | PA-MPJPE mm | side flips | jitter mm | CPU ms / person |")
    print("|---|---|---|---|---|---|---|")
    for noise in args.noise_px:
        methods = [("single image", PoseLifter(prior), False)]
        methods += [(f"previous pose{' + track bones' if args.depth else ''}, sigma {s:g} m",
                     PoseLifter(prior, temporal_sigma_m=s), True) for s in args.sigmas]
        for name, lifter, temporal in methods:
            preds, gts, cpus = [], [], []
            noise_rng = np.random.default_rng(args.seed + 1)
            for _, x, surface in views:
                pix = cam.project(x) + noise * noise_rng.standard_normal(x.shape[:2] + (2,))
                pred, cpu = play(lifter, pix, np.ones(x.shape[:2]), cam, temporal, surface)
                preds.append(pred)
                gts.append(x)
                cpus.append(cpu)
            p, g = np.concatenate(preds), np.concatenate(gts)
            ok = np.isfinite(p).all((1, 2))
            turn = np.abs(np.angle(np.exp(1j * (facing_angle(p[ok]) - facing_angle(g[ok])))))
            rel_p = np.concatenate([q - q[:, :1] for q in preds])  # jitter: root-relative steps vs the truth's
            rel_g = np.concatenate([q - q[:, :1] for q in gts])
            step = np.linalg.norm(np.diff(rel_p, axis=0) - np.diff(rel_g, axis=0), axis=-1).mean(-1)
            print(f"| {noise:g} | {name} | {1000 * mpjpe(p[ok], g[ok]).mean():.1f} | "
                  f"{1000 * pa_mpjpe(p[ok], g[ok]).mean():.1f} | {(turn > np.pi / 2).mean():.3f} | "
                  f"{1000 * np.nanmedian(step):.1f} | {np.median(cpus):.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
