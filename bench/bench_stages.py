#!/usr/bin/env python3
"""Do the 3D-prior stages (lift -> project -> projected belief maps -> fusion -> decode) help?

Held-out 3D poses (the DeepMimic takes of ``pose3d_ros.data.takes.TEST_TAKES``: ``deepmimic_walk``,
``deepmimic_punch``, ``deepmimic_dance_b``, never seen by the shipped prior) are placed in front of the default 640x480
camera (random yaw, 2.5-4 m), projected, and turned into what the 2D network and its
grouping would give on a hard frame:

* ``noisy``: every joint displaced by Gaussian noise (``--noise-px``); the CNN heatmap peaks sit at the noisy
  positions (confidence 0.4-0.9);
* ``occluded``: like noisy, plus ``--n-occluded`` limb joints that the grouping missed (NaN) whose heatmap evidence
  is weak (peak 0.1-0.3) at the true position;
* ``distractor``: like noisy, plus ``--n-occluded`` joints assigned by the grouping to a wrong place 40-80 px away
  (e.g. another person's limb) with a strong peak there, while a weaker peak (0.3-0.5) stays at the true position.

The maps live on the grid the pipeline uses (192x256 input, upsampled x4: 5 image pixels per cell). For 0..3 stages
it reports the 2D error of the 12 limb joints (px, median over joints and poses), the share of joints within 10 px,
and the 3D error of the final lift: MPJPE after root alignment and scale normalisation (N-MPJPE, mm; monocular
scale is not observable) and PA-MPJPE (mm).

Usage::

    .venv/bin/python bench/bench_stages.py [--poses 150] [--seed 0]

Writes ``out/bench/stages.json``; prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from metrics import n_mpjpe, pa_error  # noqa: E402

from pose3d_ros.core.belief_maps import render_belief_maps  # noqa: E402
from pose3d_ros.core.camera import PinholeCamera  # noqa: E402
from pose3d_ros.core.lifting import PoseLifter  # noqa: E402
from pose3d_ros.core.prior import load_default_prior  # noqa: E402
from pose3d_ros.core.skeleton import OPENPOSE18, POSE3D16  # noqa: E402
from pose3d_ros.data import takes as tk  # noqa: E402
from pose3d_ros.models.cpm_stages import SHARED_JOINTS, PriorStages, StageParams  # noqa: E402

#: the DeepMimic test takes, in TEST_TAKES order (the bench's poses are drawn from their concatenation): the real
#: mocap test takes are other bodies and motions, left to bench_lifting.py
HELD_OUT = tuple(name for name in tk.TEST_TAKES if name.startswith("deepmimic_"))
CELL_PX = 5.0  # image pixels per map cell (192x256 input on 640x480, x4 upsampling)
LIMBS = np.array([POSE3D16.index(n) for n in POSE3D16.names
                  if n.split("_")[-1] in ("shoulder", "elbow", "wrist", "hip", "knee", "ankle")])
LIMB_OP = [int(SHARED_JOINTS[SHARED_JOINTS[:, 1] == j, 0][0]) for j in LIMBS]


def to_map(px):
    return (np.asarray(px, dtype=np.float64) + 0.5) / CELL_PX - 0.5


def to_image(cells):
    return (np.asarray(cells, dtype=np.float64) + 0.5) * CELL_PX - 0.5


def yaw(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def make_case(pose: np.ndarray, cam: PinholeCamera, kind: str, rng, noise_px: float, n_bad: int):
    """Return (true 2D (16,2), grouped OpenPose-18 kp (18,2), conf (18,), heatmaps (19,H,W))."""
    true16 = cam.project(pose)
    kp = np.full((18, 2), np.nan)
    conf = np.zeros(18)
    op_idx, p16_idx = SHARED_JOINTS[:, 0], SHARED_JOINTS[:, 1]
    kp[op_idx] = true16[p16_idx] + rng.normal(0, noise_px, (len(op_idx), 2))
    conf[op_idx] = rng.uniform(0.4, 0.9, len(op_idx))
    kp[OPENPOSE18.index("nose")] = true16[POSE3D16.index("head")] + rng.normal(0, noise_px, 2)
    conf[OPENPOSE18.index("nose")] = 0.8
    h, w = int(cam.height / CELL_PX), int(cam.width / CELL_PX)
    peaks = [(kp[j], conf[j]) for j in range(18)]
    extra = []
    bad = rng.choice(len(LIMBS), n_bad, replace=False) if kind != "noisy" else []
    for b in bad:
        j_op, j16 = LIMB_OP[b], LIMBS[b]
        if kind == "occluded":
            extra.append((j_op, true16[j16], rng.uniform(0.1, 0.3)))
            kp[j_op] = np.nan
            conf[j_op] = 0.0
            peaks[j_op] = (np.full(2, np.nan), 0.0)
        else:  # distractor
            ang = rng.uniform(0, 2 * np.pi)
            wrong = true16[j16] + rng.uniform(40, 80) * np.array([np.cos(ang), np.sin(ang)])
            kp[j_op] = wrong
            conf[j_op] = rng.uniform(0.6, 0.9)
            peaks[j_op] = (wrong, conf[j_op])
            extra.append((j_op, true16[j16], rng.uniform(0.3, 0.5)))
    pts = np.array([p for p, _ in peaks])
    cf = np.array([c for _, c in peaks])
    heat = np.zeros((19, h, w), np.float32)
    heat[:18] = render_belief_maps(to_map(pts), cf, (h, w), 1.5)
    for j_op, p, c in extra:
        heat[j_op] = np.maximum(heat[j_op], render_belief_maps(to_map(p[None]), np.array([c]), (h, w), 1.5)[0])
    return true16, kp, conf, heat


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--poses", type=int, default=150)
    parser.add_argument("--noise-px", type=float, default=6.0)
    parser.add_argument("--n-occluded", type=int, default=3)
    parser.add_argument("--stages", type=int, nargs="+", default=[0, 1, 2, 3])
    parser.add_argument("--weights", type=float, nargs="+", default=[0.3, 0.5])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path, default=REPO / "out" / "bench" / "stages.json")
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    takes = {t.name: t for t in tk.deepmimic_takes()}
    pool = np.concatenate([takes[name].joints for name in HELD_OUT])
    idx = rng.choice(len(pool), args.poses, replace=len(pool) < args.poses)
    cam = PinholeCamera.default(640, 480)
    poses = []
    for i in idx:
        p = pool[i] - pool[i][0]
        p = p @ yaw(rng.uniform(-np.pi, np.pi)).T
        poses.append(p + np.array([rng.uniform(-0.6, 0.6), 0.0, rng.uniform(2.5, 4.0)]))
    lifter = PoseLifter(load_default_prior())
    rows = []
    for kind in ("noisy", "occluded", "distractor"):
        case_rng = np.random.default_rng(args.seed + 1)
        cases = [make_case(p, cam, kind, case_rng, args.noise_px, args.n_occluded) for p in poses]
        for weight in args.weights:
            for n_st in args.stages:
                if n_st == 0 and weight != args.weights[0]:
                    continue
                stages = PriorStages(lifter, StageParams(n_stages=n_st, fusion_weight=weight))
                err2d, e3n, e3pa, ms = [], [], [], []
                for (true16, kp, conf, heat), pose in zip(cases, poses, strict=True):
                    t = time.perf_counter()
                    res = stages.run(kp[None], conf[None], heat, cam, to_map, to_image)
                    ms.append((time.perf_counter() - t) * 1e3)
                    err2d.append(np.linalg.norm(res.pixels[0, LIMBS] - true16[LIMBS], axis=1))
                    e3n.append(float(n_mpjpe(res.poses[:1], pose[None])[0]))
                    e3pa.append(pa_error(res.poses[0], pose))
                e2 = np.concatenate(err2d)
                rows.append({"case": kind, "n_stages": n_st, "fusion_weight": weight if n_st else None,
                             "err2d_median_px": float(np.median(e2)), "err2d_mean_px": float(np.mean(e2)),
                             "pck10px": float((e2 < 10).mean()), "n_mpjpe_mm": 1e3 * float(np.mean(e3n)),
                             "pa_mpjpe_mm": 1e3 * float(np.mean(e3pa)), "ms_per_person": float(np.median(ms))})
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({"args": vars(args) | {"output": str(args.output)}, "rows": rows}, indent=2))
    print(f"\n{args.poses} held-out poses ({', '.join(HELD_OUT)}), noise {args.noise_px} px, "
          f"{args.n_occluded} bad joints per person\n")
    print("| case | 3D stages | fusion weight | 2D err median px | 2D err mean px | 2D within 10 px | "
          "N-MPJPE mm | PA-MPJPE mm | ms/person |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        wt = "-" if r["fusion_weight"] is None else f"{r['fusion_weight']:.1f}"
        print(f"| {r['case']} | {r['n_stages']} | {wt} | {r['err2d_median_px']:.1f} | {r['err2d_mean_px']:.1f} | "
              f"{r['pck10px']:.3f} | {r['n_mpjpe_mm']:.0f} | {r['pa_mpjpe_mm']:.0f} | {r['ms_per_person']:.1f} |")
    print(f"-> {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
