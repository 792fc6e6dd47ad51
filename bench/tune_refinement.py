#!/usr/bin/env python3
"""Choose the anatomical refinement's settings on validation takes, never on the test takes.

A prior is fitted without the test takes *and* without the validation takes of ``pose3d_ros.data.takes`` (the same
way as the shipped one: augmentation to 20000 poses, K = B = 16). Each setting of
:class:`pose3d_ros.core.bone_refinement.BoneRefinementParams` (the depth-noise model's fields under ``depth.``) is
scored on the validation takes (3 distances x 2 camera pitches, random headings) by MPJPE (mm, root-aligned) in three
conditions:

* ``exact``: ground-truth 2D, ``precise_2d`` lifter;
* ``10px``: 10 px 2D noise, ``precise_2d`` lifter (shows why the step stays off without depth for detector output);
* ``depth``: ground-truth 2D + simulated Kinect v1 depth, default lifter.

    OMP_NUM_THREADS=1 .venv/bin/python bench/tune_refinement.py [--max-poses 100]
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

from bench_lifting import DISTANCES_M, PITCHES_DEG, make_views, project  # noqa: E402
from metrics import mpjpe  # noqa: E402

from pose3d_ros.core.bone_refinement import BoneRefinementParams  # noqa: E402
from pose3d_ros.core.camera import PinholeCamera  # noqa: E402
from pose3d_ros.core.depth import JOINT_SURFACE_DEPTH_M, sample_joint_depth  # noqa: E402
from pose3d_ros.core.depth_noise import DepthNoiseModel  # noqa: E402
from pose3d_ros.core.lifting import PoseLifter  # noqa: E402
from pose3d_ros.core.prior import PosePrior  # noqa: E402
from pose3d_ros.data import takes as tk  # noqa: E402
from pose3d_ros.data.augment import augment  # noqa: E402
from pose3d_ros.sim.kinect_depth import simulate_kinect_depth  # noqa: E402

GRID = {"prior_weight": (0.01, 0.03, 0.1), "bone_rel_sigma": (0.15, 0.25), "depth.robust_scale": (1.0, 2.0),
        "depth.floor_m": (0.01, 0.02)}


def params_of(setting: dict) -> BoneRefinementParams:
    """``BoneRefinementParams`` from a grid point (``depth.<field>`` keys go to its DepthNoiseModel)."""
    depth = {k.split(".", 1)[1]: v for k, v in setting.items() if k.startswith("depth.")}
    rest = {k: v for k, v in setting.items() if not k.startswith("depth.")}
    return BoneRefinementParams(**rest, depth=DepthNoiseModel(**depth))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max-poses", type=int, default=100, help="validation poses per take at most (evenly spaced)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    train_takes, val_takes = tk.split_takes(tk.load_takes(), tk.VALIDATION_TAKES)
    train = np.concatenate([t.joints for t in train_takes if t.name not in tk.TEST_TAKES]).astype(np.float64)
    prior = PosePrior(n_components=16, n_bases=16, max_iter=50, random_state=0).fit(
        augment(train, np.random.default_rng(0), 20000))
    val = np.concatenate([t.joints[np.linspace(0, len(t.joints) - 1, min(args.max_poses, len(t.joints))).astype(int)]
                          for t in val_takes]).astype(np.float64)
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

    print(f"validation takes {', '.join(tk.VALIDATION_TAKES)}: {len(gt)} views ({len(depth)} with depth); MPJPE mm\n")
    print("| setting | exact 2D, precise_2d | 10 px, precise_2d | GT 2D + Kinect depth |")
    print("|---|---|---|---|")
    print("| no anatomical step | {:.1f} | {:.1f} | {:.1f} |".format(*score(None)))
    for values in itertools.product(*GRID.values()):
        setting = dict(zip(GRID, values, strict=True))
        print("| {} | {:.1f} | {:.1f} | {:.1f} |".format(
            ", ".join(f"{k}={v}" for k, v in setting.items()), *score(params_of(setting))), flush=True)
    print(f"\ndefaults: {BoneRefinementParams()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
