#!/usr/bin/env python3
"""Choose the anatomical refinement's settings on validation clips, never on the test clips.

(Wave 1, on the DeepMimic clips alone. The current bone tolerances were chosen on the validation takes of
``pose3d_ros.data.takes`` with the independent depth simulator: see ``BoneRefinementParams``.)

A prior is fitted without the test clips (walk, punch, dance_b) *and* without the validation clips (run, kick,
spinkick), the same way as the shipped one (``pose3d-ros train-prior``: augmentation to 20000 poses, K = B = 16).
Each setting of :class:`pose3d_ros.core.bone_refinement.BoneRefinementParams` is scored on the validation clips
(3 distances x 2 camera pitches, random headings) by MPJPE (mm, root-aligned) in three conditions:

* ``exact``: ground-truth 2D, ``precise_2d`` lifter;
* ``10px``: 10 px 2D noise, ``precise_2d`` lifter (shows why the step stays off without depth for detector output);
* ``depth``: ground-truth 2D + simulated Kinect v1 depth, default lifter.

    OMP_NUM_THREADS=1 .venv/bin/python bench/tune_refinement.py       # ~6 min on one core
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import itertools  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_lifting import DISTANCES_M, HELD_OUT, PITCHES_DEG, make_views, mpjpe, project  # noqa: E402

from pose3d_ros.core.bone_refinement import BoneRefinementParams  # noqa: E402
from pose3d_ros.core.camera import PinholeCamera  # noqa: E402
from pose3d_ros.core.depth import JOINT_SURFACE_DEPTH_M, sample_joint_depth, simulate_kinect_depth  # noqa: E402
from pose3d_ros.core.lifting import PoseLifter  # noqa: E402
from pose3d_ros.core.prior import PosePrior  # noqa: E402
from pose3d_ros.data.augment import augment  # noqa: E402
from pose3d_ros.data.deepmimic import load_mocap_clips  # noqa: E402

VALIDATION = ("run", "kick", "spinkick")
GRID = {"prior_weight": (0.01, 0.03, 0.1, 0.3), "bone_rel_sigma": (0.03, 0.06), "depth_robust_scale": (1.0, 2.0),
        "depth_noise_m": (0.01, 0.02)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frame-step", type=int, default=3, help="use every n-th validation frame")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    clips = load_mocap_clips()
    excluded = set(HELD_OUT) | set(VALIDATION)
    train = np.concatenate([clips[c] for c in sorted(clips) if c not in excluded]).astype(np.float64)
    prior = PosePrior(n_components=16, n_bases=16, max_iter=50, random_state=0).fit(
        augment(train, np.random.default_rng(0), 20000))
    val = np.concatenate([clips[c][:: args.frame_step] for c in VALIDATION]).astype(np.float64)
    rng = np.random.default_rng(args.seed)
    gt, _ = make_views(val, rng, DISTANCES_M, PITCHES_DEG)
    cam = PinholeCamera.default(640, 480)
    pix = project(gt, cam)
    ones = np.ones(gt.shape[:2])
    noisy = pix + 10.0 * rng.standard_normal(pix.shape)
    sub = slice(None, None, 3)  # depth rendering is the slow part
    depth = np.stack([sample_joint_depth(simulate_kinect_depth(p, cam, rng), pix[sub][i])
                      for i, p in enumerate(gt[sub])]) + JOINT_SURFACE_DEPTH_M

    def score(params: BoneRefinementParams | None) -> tuple[float, float, float]:
        precise = PoseLifter(prior, anatomical=params, precise_2d=True)
        default = PoseLifter(prior, anatomical=params)
        exact = mpjpe(precise.lift(pix, ones, cam).poses, gt).mean()
        noise = mpjpe(precise.lift(noisy, ones, cam).poses, gt).mean()
        with_depth = mpjpe(default.lift(pix[sub], ones[sub], cam, joint_depth=depth).poses, gt[sub]).mean()
        return 1000 * exact, 1000 * noise, 1000 * with_depth

    print(f"validation clips {', '.join(VALIDATION)}: {len(gt)} views ({len(depth)} with depth); MPJPE mm\n")
    print("| setting | exact 2D, precise_2d | 10 px, precise_2d | GT 2D + Kinect depth |")
    print("|---|---|---|---|")
    print("| no anatomical step | {:.1f} | {:.1f} | {:.1f} |".format(*score(None)))
    for values in itertools.product(*GRID.values()):
        setting = dict(zip(GRID, values, strict=True))
        print("| {} | {:.1f} | {:.1f} | {:.1f} |".format(
            ", ".join(f"{k}={v}" for k, v in setting.items()), *score(BoneRefinementParams(**setting))), flush=True)
    print(f"\ndefaults: {BoneRefinementParams()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
