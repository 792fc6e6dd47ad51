#!/usr/bin/env python3
"""Multi-person tracking: identity stability, smoothing and time per frame on synthetic scenes.

People replay DeepMimic clips (``walk``, ``run``, ``punch``, ``dance_a``...) while walking straight lines across a
virtual Kinect v1 view (640x480) at 1.8-4.5 m; some paths cross in the image. Per frame, each person is detected
with probability ``1 - miss`` (plus occlusions of ``--occlusion`` consecutive frames at random), with Gaussian noise
on the 3D joints (``--noise-3d`` m, more along z as with monocular lifting) and the 2D joints (``--noise-2d`` px),
shuffled detection order, and occasional one-frame false positives. Metrics (CLEAR-MOT style):

* ID switches: a person's confirmed id changes from one matched frame to the next;
* coverage: share of detected person-frames reported with a confirmed id;
* false ids: confirmed ids whose majority person is none (ghosts) or already owned by another id;
* jitter: mean joint error (mm) of the raw detections vs the tracker's smoothed poses;
* time per frame (ms) for 1, 3 and 10 people.

    .venv/bin/python bench/bench_tracking.py            # ~20 s
    .venv/bin/python bench/bench_tracking.py --quick
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pose3d_ros.core.camera import PinholeCamera  # noqa: E402
from pose3d_ros.core.tracking import Tracker  # noqa: E402
from pose3d_ros.data.deepmimic import load_mocap_clips  # noqa: E402

FPS = 30.0
CLIPS = ("walk", "run", "punch", "dance_a", "kick", "spin")


def rotate_y(points: np.ndarray, angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return points @ np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]]).T


def make_scene(clips: dict[str, np.ndarray], people: int, frames: int, rng: np.random.Generator,
               min_gap_m: float = 0.6) -> np.ndarray:
    """Ground-truth poses (frames, people, 16, 3): clip motion (root-centred) + a straight path. Paths that would
    bring two people's pelvises closer than ``min_gap_m`` (walking through each other) are redrawn: crossings in the
    image happen at different depths, as in a real room."""
    out = np.empty((frames, people, 16, 3))
    t = np.arange(frames) / FPS
    for p in range(people):
        for _attempt in range(200):
            clip = clips[CLIPS[rng.integers(len(CLIPS))]].astype(np.float64)
            idx = (rng.integers(len(clip)) + np.arange(frames)) % len(clip)
            motion = clip[idx] - clip[idx, :1]
            motion[..., 1] += clip[idx, :1, 1] - clip[:, 0, 1].mean()  # keep the vertical bob, not the drift
            motion = rotate_y(motion, rng.uniform(-np.pi, np.pi))
            speed = rng.uniform(0.2, 1.0) * rng.choice([-1, 1])  # m/s along x: paths cross in the image
            z = np.clip(rng.uniform(1.8, 4.5) + rng.uniform(-0.3, 0.3) * t, 1.5, 5.0)
            root = np.stack([rng.uniform(-1.5, 1.5) + speed * t, np.zeros(frames), z], axis=-1)
            if p == 0 or np.linalg.norm(out[:, :p, 0] - root[:, None], axis=-1).min() >= min_gap_m:
                break
        out[:, p] = motion + root[:, None, :]
    return out


def run_scene(gt: np.ndarray, cam: PinholeCamera, rng: np.random.Generator, args: argparse.Namespace) -> dict:
    frames, people = gt.shape[:2]
    tracker = Tracker(min_cutoff=args.min_cutoff, beta=args.beta)
    occluded_until = np.full(people, -1)
    last_id = np.full(people, -1)
    switches = 0
    detected = 0
    reported = 0
    votes: dict[int, dict[int, int]] = {}
    raw_err, smooth_err = [], []
    ever_seen = np.zeros(people, dtype=bool)
    for k in range(frames):
        start_occ = (occluded_until < k) & (rng.random(people) < args.occlusion_rate)
        occluded_until[start_occ] = k + args.occlusion
        seen = (occluded_until < k) & (rng.random(people) >= args.miss)
        seen &= cam.contains(cam.project(gt[k, :, 0]))  # pelvis in the image
        who = list(np.flatnonzero(seen))
        poses = gt[k, who] + rng.normal(0, args.noise_3d, (len(who), 16, 3)) * [1.0, 1.0, 2.0]
        pix = cam.project(gt[k, who]) + rng.normal(0, args.noise_2d, (len(who), 16, 2))
        ghost_at = np.array([rng.uniform(-2, 2), 0.0, rng.uniform(2.0, 4.5)])
        if rng.random() < args.ghost_rate and np.linalg.norm(gt[k, :, 0] - ghost_at, axis=1).min() > 0.6:
            # one-frame false positive elsewhere in the room (a duplicate on a person is the detector's NMS's job)
            src = rng.integers(people)
            ghost = gt[k, src] - gt[k, src, :1] + ghost_at
            poses = np.concatenate([poses, ghost[None]])
            pix = np.concatenate([pix, cam.project(ghost)[None]])
            who.append(-1)
        order = rng.permutation(len(who))
        poses, pix = poses[order], pix[order]
        who = [who[i] for i in order]
        out = tracker.update(poses, pix, np.ones(pix.shape[:2]), k / FPS)
        detected += int(seen.sum())
        ever_seen |= seen
        for tr in out:
            person = who[tr.detection]
            votes.setdefault(tr.id, {}).setdefault(person, 0)
            votes[tr.id][person] += 1
            if person < 0:
                continue
            reported += 1
            if last_id[person] >= 0 and last_id[person] != tr.id:
                switches += 1
                if args.verbose:
                    alive = {t.id: t for t in tracker.tracks}
                    old = alive.get(int(last_id[person]))
                    print(f"switch frame {k} person {person} id {last_id[person]} -> {tr.id} (hits {tr.hits}); "
                          f"true {np.round(gt[k, person, 0], 2)}; old id "
                          + ("dead" if old is None else f"alive misses {old.misses} root {np.round(old.pose[0], 2)} v "
                             f"{np.round(old.root_velocity, 2)} det {old.detection} -> person "
                             f"{who[old.detection] if old.detection >= 0 else None}"))
            last_id[person] = tr.id
            raw_err.append(np.linalg.norm(poses[tr.detection] - gt[k, person], axis=-1).mean())
            smooth_err.append(np.linalg.norm(tr.pose - gt[k, person], axis=-1).mean())
    owners: set[int] = set()
    false_ids = 0
    for _tid, v in sorted(votes.items()):
        person = max(v, key=v.get)
        if person < 0 or person in owners:
            false_ids += 1
        owners.add(person)
    return {
        "people": people, "frames": frames, "id_switches": switches, "coverage": reported / max(detected, 1),
        "ids": len(votes), "people_seen": int(ever_seen.sum()), "false_ids": false_ids,
        "raw_mm": 1000 * float(np.mean(raw_err)) if raw_err else float("nan"),
        "smoothed_mm": 1000 * float(np.mean(smooth_err)) if smooth_err else float("nan"),
    }


def run_timing(clips: dict[str, np.ndarray], cam: PinholeCamera, rng: np.random.Generator, frames: int) -> list[dict]:
    rows = []
    for people in (1, 3, 10):
        gt = make_scene(clips, people, frames, rng)
        tracker = Tracker()
        pix = cam.project(gt)
        conf = np.ones((people, 16))
        times = []
        for k in range(frames):
            t0 = time.perf_counter()
            tracker.update(gt[k], pix[k], conf, k / FPS)
            times.append((time.perf_counter() - t0) * 1000)
        t = np.array(times[5:])
        rows.append({"people": people, "median_ms": float(np.median(t)), "p95_ms": float(np.percentile(t, 95))})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenes", type=int, default=20, help="scenes per people count")
    parser.add_argument("--frames", type=int, default=300, help="frames per scene (30 fps)")
    parser.add_argument("--miss", type=float, default=0.05, help="probability a visible person is not detected")
    parser.add_argument("--occlusion", type=int, default=5, help="frames of each occlusion")
    parser.add_argument("--occlusion-rate", type=float, default=0.01, help="per-frame chance an occlusion starts")
    parser.add_argument("--noise-3d", type=float, default=0.02, help="3D joint noise (m, doubled along z)")
    parser.add_argument("--noise-2d", type=float, default=3.0, help="2D joint noise (px)")
    parser.add_argument("--ghost-rate", type=float, default=0.02, help="per-frame chance of a one-frame false positive")
    parser.add_argument("--min-cutoff", type=float, default=Tracker().filter_params["min_cutoff"],
                        help="One-Euro min cut-off (Hz) of the tracker")
    parser.add_argument("--beta", type=float, default=Tracker().filter_params["beta"], help="One-Euro beta (s/m)")
    parser.add_argument("--verbose", action="store_true", help="print each ID switch")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="5 scenes of 150 frames")
    parser.add_argument("--output", type=Path, default=Path("out/bench/tracking.json"))
    args = parser.parse_args(argv)
    if args.quick:
        args.scenes, args.frames = 5, 150

    clips = load_mocap_clips()
    cam = PinholeCamera.default(640, 480)
    rng = np.random.default_rng(args.seed)
    rows = []
    for people in (2, 4, 6):
        res = [run_scene(make_scene(clips, people, args.frames, rng), cam, rng, args) for _ in range(args.scenes)]
        rows.append({
            "people": people, "scenes": len(res), "person_frames": sum(r["frames"] * people for r in res),
            "id_switches": sum(r["id_switches"] for r in res), "false_ids": sum(r["false_ids"] for r in res),
            "ids": sum(r["ids"] for r in res), "people_seen": sum(r["people_seen"] for r in res),
            "coverage": float(np.mean([r["coverage"] for r in res])),
            "raw_mm": float(np.nanmean([r["raw_mm"] for r in res])),
            "smoothed_mm": float(np.nanmean([r["smoothed_mm"] for r in res])),
        })
    timing = run_timing(clips, cam, rng, 200)

    print(f"## Tracking ({args.scenes} scenes x {args.frames} frames at 30 fps; miss {args.miss}, "
          f"{args.occlusion}-frame occlusions at {args.occlusion_rate}/frame, 3D noise {args.noise_3d} m "
          f"(x2 in z), 2D noise {args.noise_2d} px, ghosts {args.ghost_rate}/frame)\n")
    print("| people | person-frames | ID switches | false ids | ids (ideal = people seen) | coverage | "
          "raw joint err mm | smoothed mm |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['people']} | {r['person_frames']} | {r['id_switches']} | {r['false_ids']} | {r['ids']} "
              f"({r['people_seen']}) | {r['coverage']:.3f} | {r['raw_mm']:.1f} | {r['smoothed_mm']:.1f} |")
    print("\n## Tracker.update time (ms per frame, noise-free detections)\n")
    print("| people | median ms | p95 ms |")
    print("|---|---|---|")
    for r in timing:
        print(f"| {r['people']} | {r['median_ms']:.2f} | {r['p95_ms']:.2f} |")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({"args": {k: (str(v) if isinstance(v, Path) else v) for k, v in
                                                vars(args).items()},
                                       "accuracy": rows, "timing": timing, "machine": platform.platform()}, indent=2))
    print(f"\nwrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
