#!/usr/bin/env python3
"""Accuracy and speed of the prior-based 2D -> 3D lifting on held-out mocap takes and bodies.

Whole takes are held out (``pose3d_ros.data.takes.TEST_TAKES``: one CMU take, the boxer — a body no training take
has —, one climb sequence, three DeepMimic clips; never seen by the prior's fit nor by any tuning). Rows are given
for all of them and per group (unseen body / real mocap / DeepMimic). ``--validation`` runs on the validation takes
instead (for choosing settings). Each held-out pose is turned to a random heading and seen by a virtual 640x480
camera (Kinect v1 colour intrinsics) from several
distances and camera pitches. Conditions:

(a) ground-truth 2D projections;
(b) 2D noise of 5 / 10 / 20 px (Gaussian, per coordinate) with 20 % of the joints dropped;
(c) simulated Kinect v1 depth (capsule body rendering, disparity noise, quantisation, holes, the sensor's 4.5 m
    range: ``sim.kinect_depth.simulate_kinect_depth``), joint depths sampled with ``core.depth.sample_joint_depth``;
(d) as (c) with 5 px 2D noise;
(e), (f) as (c), (d) with an independent depth simulator (``bench/depth_sim.py``: ray casting against swept-sphere
    bodies with their own radii and a disparity sensor model; nothing shared with the lifter's depth constants).

Lifters: the default (subspace search + perspective refinement; with joint depths a depth Gauss-Newton and the
anatomical step of ``core.bone_refinement``: bone lengths, full prior covariance, robust depth residuals, body size),
and ``precise_2d`` (the anatomical step and limb mirror-image choice without depth too, for precise 2D). Their settings
were chosen on *validation* clips with a prior trained without them (``bench/tune_refinement.py``), never on the test
clips here.

The wave-1 prior (fitted on the DeepMimic body alone, ``bench/data/prior_wave1_deepmimic.npz``) runs beside the
shipped one as ``wave-1 prior``. Baselines without the prior, in the same run: the nearest-neighbour training pose
(every take not held out, mirrored too, under the best of 36 headings and a weak-perspective scale / translation
fit), and for (c) plain back-projection of the sampled joint depths; the subspace lift alone (no anatomical step) for
(c)/(d). Metrics (mm): MPJPE after aligning the pelvis (root), PA-MPJPE (after a similarity Procrustes alignment)
and, where metric position matters, the absolute camera-frame error.

    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_lifting.py            # full run on the test takes
    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_lifting.py --quick    # fewer poses / views
    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_lifting.py --validation --prior <fitted without validation>
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # single-core timing, set before numpy loads BLAS

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from depth_sim import render_depth  # noqa: E402
from metrics import mpjpe, pa_mpjpe  # noqa: E402

from pose3d_ros.core.camera import PinholeCamera  # noqa: E402
from pose3d_ros.core.depth import JOINT_SURFACE_DEPTH_M, sample_joint_depth  # noqa: E402
from pose3d_ros.core.lifting import PoseLifter  # noqa: E402
from pose3d_ros.core.prior import PosePrior, default_prior_path, rotate_y  # noqa: E402
from pose3d_ros.data import takes as tk  # noqa: E402
from pose3d_ros.data.augment import mirror  # noqa: E402
from pose3d_ros.sim.kinect_depth import simulate_kinect_depth  # noqa: E402

WAVE1_PRIOR = Path(__file__).resolve().parent / "data" / "prior_wave1_deepmimic.npz"
UNSEEN_BODIES = ("boxing_toes", "vicon_fencing")  # subjects with a single take: held out = a body never seen
DISTANCES_M = (2.5, 3.5, 4.5)
PITCHES_DEG = (0.0, 15.0)


# ------------------------------------------------------------------------------------------------- metrics
def abs_error(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Per-pose mean camera-frame joint error (no alignment), (N,); NaN joints are skipped."""
    return np.nanmean(np.linalg.norm(pred - gt, axis=-1), axis=1)


# ------------------------------------------------------------------------------------------------- scenes
def make_views(poses: np.ndarray, rng: np.random.Generator, distances, pitches) -> tuple[np.ndarray, np.ndarray]:
    """Held-out poses placed in front of the camera: (V*N, 16, 3) camera-frame points and the pitch (deg) of each."""
    out, pitch_of = [], []
    centred = poses - poses[:, :1]
    for dist in distances:
        for pitch in pitches:
            x = rotate_y(centred, rng.uniform(-np.pi, np.pi, len(poses)))
            # a camera pitched down by `pitch` sees the world rotated up about its x axis
            a = np.deg2rad(pitch)
            rx = np.array([[1, 0, 0], [0, np.cos(a), np.sin(a)], [0, -np.sin(a), np.cos(a)]])
            x = x @ rx.T
            lateral = rng.uniform(-0.4, 0.4, (len(poses), 1, 2))
            out.append(x + np.concatenate([lateral, np.full((len(poses), 1, 1), dist)], -1))
            pitch_of.append(np.full(len(poses), pitch))
    return np.concatenate(out), np.concatenate(pitch_of)


def project(points: np.ndarray, cam: PinholeCamera) -> np.ndarray:
    return points[..., :2] / points[..., 2:] * [cam.fx, cam.fy] + [cam.cx, cam.cy]


# ------------------------------------------------------------------------------------------------- baselines
class NearestNeighbour:
    """No-prior baseline: the training pose + heading whose weak-perspective projection best fits the 2D."""

    def __init__(self, train: np.ndarray, body_size: float, n_rotations: int = 36) -> None:
        centred = train - train[:, :1]
        theta = np.arange(n_rotations) * 2 * np.pi / n_rotations
        cand = np.concatenate([rotate_y(centred, np.full(len(centred), t)) for t in theta])  # (M, J, 3)
        self.cand = cand
        self.body_size = body_size

    def lift(self, pix: np.ndarray, conf: np.ndarray, cam: PinholeCamera) -> np.ndarray:
        xn = (pix - [cam.cx, cam.cy]) / [cam.fx, cam.fy]
        out = np.full((len(pix), 16, 3), np.nan)
        c2 = self.cand[..., :2]  # (M, J, 2)
        for i in range(len(pix)):
            w = np.where(np.isfinite(xn[i]).all(-1), conf[i], 0.0)
            x = np.nan_to_num(xn[i])
            sw = w.sum()
            if sw <= 0:
                continue
            # weighted weak-perspective fit x ~ s * c2 + d, closed form per candidate
            cm = (w[None, :, None] * c2).sum(1) / sw
            xm = (w[:, None] * x).sum(0) / sw
            cc, xc = c2 - cm[:, None], x - xm
            s = (w[None, :, None] * cc * xc[None]).sum((1, 2)) / np.maximum((w[None, :, None] * cc**2).sum((1, 2)),
                                                                           1e-12)
            res = (w[None, :, None] * (s[:, None, None] * cc - xc[None]) ** 2).sum((1, 2))
            res[s <= 0] = np.inf
            k = int(res.argmin())
            tz = 1.0 / s[k]
            d = xm - s[k] * cm[k]
            out[i] = self.cand[k] + np.array([d[0] * tz, d[1] * tz, tz])
        return out


# ------------------------------------------------------------------------------------------------- runs
def summarise(name: str, method: str, pred: np.ndarray, gt: np.ndarray, valid: np.ndarray | None = None,
              groups: dict[str, np.ndarray] | None = None) -> list[dict]:
    """One row per group of test poses (``groups``: name -> boolean mask over the poses; default: all)."""
    ok_all = np.isfinite(pred).all((1, 2)) if valid is None else valid & np.isfinite(pred).all((1, 2))
    rows = []
    for group, mask in (groups or {"all": np.ones(len(gt), bool)}).items():
        ok = ok_all & mask
        row = {"condition": name, "method": method, "set": group, "n": int(mask.sum()),
               "valid_fraction": float(ok.sum() / max(mask.sum(), 1))}
        if ok.any():
            row.update(mpjpe_mm=1000 * float(mpjpe(pred[ok], gt[ok]).mean()),
                       pa_mpjpe_mm=1000 * float(pa_mpjpe(pred[ok], gt[ok]).mean()),
                       abs_mm=1000 * float(abs_error(pred[ok], gt[ok]).mean()))
        rows.append(row)
    return rows


def run_accuracy(lifters: dict[str, PoseLifter], subspace: PoseLifter, nn: NearestNeighbour, gt: np.ndarray,
                 cam: PinholeCamera, rng: np.random.Generator, depth_step: int, groups: dict[str, np.ndarray]
                 ) -> tuple[list[dict], list[dict]]:
    """Rows of the accuracy table and, for the default lifter with depth, one row per camera distance."""
    rows = []
    pix = project(gt, cam)
    ones = np.ones(gt.shape[:2])
    for method, lifter in lifters.items():
        rows.extend(summarise("(a) GT 2D", method, lifter.lift(pix, ones, cam).poses, gt, groups=groups))
    rows.extend(summarise("(a) GT 2D", "nearest neighbour (no prior)", nn.lift(pix, ones, cam), gt, groups=groups))
    for noise in (5.0, 10.0, 20.0):
        noisy = pix + noise * rng.standard_normal(pix.shape)
        conf = (rng.random(ones.shape) >= 0.2).astype(np.float64)
        name = f"(b) {noise:.0f} px + 20% dropped"
        for method, lifter in lifters.items():
            res = lifter.lift(noisy, conf, cam)
            rows.extend(summarise(name, method, res.poses, gt, res.valid, groups))
        rows.extend(summarise(name, "nearest neighbour (no prior)", nn.lift(noisy, conf, cam), gt, groups=groups))

    # (c) depth: one rendered Kinect frame per pose (subsampled: rendering dominates the bench time)
    sub = gt[::depth_step]
    sub_pix = project(sub, cam)
    zs = np.stack([sample_joint_depth(simulate_kinect_depth(p, cam, rng), sub_pix[i]) for i, p in enumerate(sub)])
    ones = np.ones(sub.shape[:2])
    centre_z = zs + JOINT_SURFACE_DEPTH_M  # sampled depth is the body surface; the joint is behind it
    sub_groups = {g: m[::depth_step] for g, m in groups.items()}
    nominal = np.asarray(DISTANCES_M)[np.abs(sub[:, :1, 2] - np.asarray(DISTANCES_M)).argmin(1)]
    default = lifters["prior lifting (default)"]
    by_distance = []
    for name, uv in (("(c) GT 2D + Kinect depth", sub_pix),
                     ("(d) 5 px 2D noise + Kinect depth", sub_pix + 5.0 * rng.standard_normal(sub_pix.shape))):
        res_d = default.lift(uv, ones, cam, joint_depth=centre_z)
        rows.extend(summarise(name, "prior lifting with joint depths (default: + anatomical refinement)", res_d.poses,
                              sub, res_d.valid, sub_groups))
        res_s = subspace.lift(uv, ones, cam, joint_depth=centre_z)
        rows.extend(summarise(name, "subspace lift with joint depths (no anatomical step)", res_s.poses,
                              sub, res_s.valid, sub_groups))
        if name.startswith("(c)"):
            for dist in np.unique(nominal):
                near = nominal == dist
                by_distance.append(summarise(f"{dist:.1f} m", "default", res_d.poses[near], sub[near],
                                             res_d.valid[near])[0] | {"coverage": float(np.isfinite(zs[near]).mean())})
    # (e)/(f): the same poses seen by an independent simulator (bench/depth_sim.py: its own body radii and sensor
    # model, nothing shared with the lifter's depth constants)
    zi = np.stack([sample_joint_depth(render_depth(p[None], cam.fx, cam.fy, cam.cx, cam.cy, (cam.height, cam.width),
                                                   rng), sub_pix[i]) for i, p in enumerate(sub)])
    for name, uv in (("(e) GT 2D + independent ray-cast depth", sub_pix),
                     ("(f) 5 px 2D noise + independent ray-cast depth",
                      sub_pix + 5.0 * rng.standard_normal(sub_pix.shape))):
        res_i = default.lift(uv, ones, cam, joint_depth=zi + JOINT_SURFACE_DEPTH_M)
        rows.extend(summarise(name, "prior lifting with joint depths (default)", res_i.poses, sub, res_i.valid,
                              sub_groups))
        if name.startswith("(e)"):
            for dist in np.unique(nominal):
                near = nominal == dist
                by_distance.append(summarise(f"{dist:.1f} m, independent depth", "default", res_i.poses[near],
                                             sub[near], res_i.valid[near])[0]
                                   | {"coverage": float(np.isfinite(zi[near]).mean())})
    rays = np.concatenate([(sub_pix - [cam.cx, cam.cy]) / [cam.fx, cam.fy], np.ones(sub_pix.shape[:2] + (1,))], -1)
    back = rays * centre_z[..., None]  # depth-only: back-projected joint pixels + surface offset, NaN where no depth
    # depth-only: joints without depth are missing (not guessed); MPJPE over the measured joints of poses whose pelvis
    # was measured, PA-MPJPE not defined with holes
    ok = np.isfinite(back[:, 0]).all(-1)
    rel = np.linalg.norm((back - back[:, :1]) - (sub - sub[:, :1]), axis=-1)[ok]
    rows.append({"condition": "(c) GT 2D + Kinect depth", "method": "depth-only back-projection (no prior)",
                 "set": "all",
                 "n": int(len(sub)), "valid_fraction": float(ok.mean()), "mpjpe_mm": 1000 * float(np.nanmean(rel)),
                 "pa_mpjpe_mm": float("nan"), "abs_mm": 1000 * float(np.nanmean(np.linalg.norm(back - sub, axis=-1))),
                 "joint_coverage": float(np.isfinite(zs).mean())})
    return rows, by_distance


def run_timing(name: str, lifter: PoseLifter, gt: np.ndarray, cam: PinholeCamera, repeats: int,
               with_depth: bool = False) -> list[dict]:
    pix = project(gt, cam)
    rows = []
    for people in (1, 3, 10):
        times, cpu = [], []
        for r in range(repeats):
            idx = (np.arange(people) + r * people) % len(gt)
            depth = gt[idx, :, 2] if with_depth else None
            t0, c0 = time.perf_counter(), time.thread_time()
            lifter.lift(pix[idx], np.ones((people, 16)), cam, joint_depth=depth)
            times.append((time.perf_counter() - t0) * 1000)
            cpu.append((time.thread_time() - c0) * 1000)
        t = np.array(times)
        med, p95 = float(np.median(t)), float(np.percentile(t, 95))
        # CPU time of this thread: what the lift costs on one core, unaffected by other processes on the machine
        cpu_med = float(np.median(cpu))
        rows.append({"lifter": name, "people": people, "frame_median_ms": med, "frame_p95_ms": p95,
                     "person_median_ms": med / people, "person_p95_ms": p95 / people,
                     "person_cpu_median_ms": cpu_med / people})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prior", type=Path, default=None, help="prior .npz (default: the shipped one)")
    parser.add_argument("--validation", action="store_true",
                        help="evaluate on the protocol's validation takes (choosing settings), not the test takes")
    parser.add_argument("--takes", nargs="+", default=None, help="evaluate on these takes instead")
    parser.add_argument("--baseline-prior", type=Path, default=WAVE1_PRIOR, help="prior run beside the shipped one")
    parser.add_argument("--max-poses", type=int, default=150, help="distinct poses per take at most (evenly spaced)")
    parser.add_argument("--depth-step", type=int, default=4, help="render Kinect depth for every n-th test pose")
    parser.add_argument("--repeats", type=int, default=200, help="timed calls per people count")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="fewer poses per take, one distance, fewer repeats")
    parser.add_argument("--timing-only", action="store_true", help="skip the accuracy part")
    parser.add_argument("--output", type=Path, default=Path("out/bench/lifting.json"))
    args = parser.parse_args(argv)

    prior = PosePrior.load(args.prior or default_prior_path())
    held = args.takes or list(tk.VALIDATION_TAKES if args.validation else tk.TEST_TAKES)
    try:
        others, held_takes = tk.split_takes(tk.load_takes(), held)
    except ValueError as exc:
        parser.error(str(exc))
    per_take = max(args.max_poses // (3 if args.quick else 1), 1)
    test_sets, group_of = [], []
    for take in held_takes:
        idx = tk.distinct_poses(take.joints, 0.05)  # poses 5 cm apart: no near-duplicates in the test set
        idx = idx[np.linspace(0, len(idx) - 1, min(per_take, len(idx))).round().astype(int)]
        test_sets.append(take.joints[idx].astype(np.float64))
        group = ("unseen body" if take.name in UNSEEN_BODIES else
                 "DeepMimic" if take.subject == "deepmimic_humanoid" else "real mocap, seen body")
        group_of += [group] * len(idx)
    test = np.concatenate(test_sets)
    # the nearest-neighbour baseline searches what a prior may be fitted on: all takes not held out here (2000 poses
    # evenly spread, mirrored, 36 headings: its cost grows with the candidates)
    train = np.concatenate([t.joints[tk.distinct_poses(t.joints, 0.05)] for t in others
                            if t.name not in tk.TEST_TAKES]).astype(np.float64)
    train = train[np.linspace(0, len(train) - 1, min(2000, len(train))).round().astype(int)]
    rng = np.random.default_rng(args.seed)
    distances = DISTANCES_M[1:2] if args.quick else DISTANCES_M
    gt, _ = make_views(test, rng, distances, PITCHES_DEG)
    group_of = np.tile(np.asarray(group_of), len(gt) // len(test))
    groups = {"all": np.ones(len(gt), bool)} | {g: group_of == g for g in dict.fromkeys(group_of)}
    cam = PinholeCamera.default(640, 480)
    lifters = {
        "prior lifting (default)": PoseLifter(prior),
        "prior lifting, precise_2d (anatomical step without depth)": PoseLifter(prior, precise_2d=True),
    }
    if args.baseline_prior:
        wave1 = PosePrior.load(args.baseline_prior)
        lifters["wave-1 prior (DeepMimic body only), default lifter"] = PoseLifter(wave1)
        lifters["wave-1 prior, precise_2d"] = PoseLifter(wave1, precise_2d=True)
    subspace = PoseLifter(prior, anatomical=None)
    nn = NearestNeighbour(np.concatenate([train, mirror(train)]), prior.body_size_)

    t0 = time.perf_counter()
    acc, by_distance = ([], []) if args.timing_only else run_accuracy(lifters, subspace, nn, gt, cam, rng,
                                                                      args.depth_step, groups)
    repeats = 50 if args.quick else args.repeats
    timing = (run_timing("default (2D only)", lifters["prior lifting (default)"], gt, cam, repeats)
              + run_timing("default with joint depths", lifters["prior lifting (default)"], gt, cam, repeats, True)
              + run_timing("precise_2d", lifters["prior lifting, precise_2d (anatomical step without depth)"], gt,
                           cam, repeats))
    elapsed = time.perf_counter() - t0

    print(f"## Lifting on held-out takes {', '.join(held)} ({len(gt)} views of {len(test)} poses; "
          f"distances {distances} m, camera pitch {PITCHES_DEG} deg)\n")
    print("| condition | method | test set | MPJPE mm | PA-MPJPE mm | abs. error mm | valid |")
    print("|---|---|---|---|---|---|---|")
    for r in acc:
        print(f"| {r['condition']} | {r['method']} | {r['set']} (n={r['n']}) | {r.get('mpjpe_mm', float('nan')):.1f} | "
              f"{r.get('pa_mpjpe_mm', float('nan')):.1f} | {r.get('abs_mm', float('nan')):.1f} | "
              f"{r['valid_fraction']:.2f} |")
    if by_distance:
        print("\n(c) by camera distance (default lifter with joint depths):\n")
        print("| distance | views | depth coverage | MPJPE mm | PA-MPJPE mm | abs. error mm |")
        print("|---|---|---|---|---|---|")
        for r in by_distance:
            print(f"| {r['condition']} | {r['n']} | {r['coverage']:.2f} | {r.get('mpjpe_mm', float('nan')):.1f} | "
                  f"{r.get('pa_mpjpe_mm', float('nan')):.1f} | {r.get('abs_mm', float('nan')):.1f} |")
    print(f"\n## Lifting time (one core, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}, K={len(prior.weights_)}, "
          f"B={prior.variances_.shape[1]}, {lifters['prior lifting (default)'].subspace.n_rotations} rotations)\n")
    print("| lifter | people / frame | frame median ms | frame p95 ms | per person median ms | per person p95 ms "
          "| per person CPU median ms |")
    print("|---|---|---|---|---|---|---|")
    for r in timing:
        print(f"| {r['lifter']} | {r['people']} | {r['frame_median_ms']:.2f} | {r['frame_p95_ms']:.2f} | "
              f"{r['person_median_ms']:.2f} | {r['person_p95_ms']:.2f} | {r['person_cpu_median_ms']:.2f} |")
    print(f"\nload average during the run: {os.getloadavg()} on {os.cpu_count()} cores (wall times suffer when "
          "other processes compete; the CPU column does not)")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({
        "held_out": held, "n_views": int(len(gt)), "accuracy": acc, "by_distance": by_distance,
        "timing": timing,
        "prior": str(args.prior or default_prior_path()), "machine": platform.platform(),
        "processor": platform.processor(), "elapsed_s": elapsed,
    }, indent=2))
    print(f"\nwrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
