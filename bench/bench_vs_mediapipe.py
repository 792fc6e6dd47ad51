#!/usr/bin/env python3
"""Ours vs MediaPipe Pose (legacy ``mp.solutions.pose``, 0.10.21) side by side on the same real 640x480 frames.

Frames: the shipped real footage (``pose3d_ros/resources/footage``: basketball1/2.png, messi5.jpg letterboxed to
640x480, and the vtest video frames). Each frame is processed by both systems in alternation (A, B, A, B...), so
machine load hits both alike; both get the same CPU (``--threads`` for ONNX Runtime; MediaPipe uses its defaults).

Reported
* speed: median / p90 ms per frame and FPS of both, the ratio MediaPipe ms / ours ms, and our per-stage ms;
* 2D agreement: PCK of our joints against MediaPipe's (the person of ours nearest MediaPipe's single person),
  threshold 0.1 (and 0.2) x MediaPipe's torso size (neck-pelvis), over the joints both report
  (MediaPipe visibility >= 0.5, ours confidence > 0);
* 3D agreement: PA-MPJPE (mm, after similarity Procrustes) between our 3D joints and MediaPipe's metric world
  landmarks, over the 12 limb joints (an agreement figure, neither is ground truth).

Usage::

    .venv/bin/python bench/bench_vs_mediapipe.py [--video-frames 40] [--input-size 192 256] [--stages 1]

Writes ``out/bench/vs_mediapipe.json`` and prints a markdown table.
"""

from __future__ import annotations

import argparse
import importlib.resources
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pose3d_ros.core.camera import PinholeCamera  # noqa: E402
from pose3d_ros.core.skeleton import POSE3D16, convert  # noqa: E402
from pose3d_ros.pipeline import Frame, Pose3DPipeline  # noqa: E402

FOOTAGE = Path(str(importlib.resources.files("pose3d_ros") / "resources" / "footage"))
LIMBS = [POSE3D16.index(n) for n in POSE3D16.names if n.split("_")[-1] in
         ("shoulder", "elbow", "wrist", "hip", "knee", "ankle")]


def letterbox(img: np.ndarray, size=(480, 640)) -> np.ndarray:
    h, w = img.shape[:2]
    s = min(size[0] / h, size[1] / w)
    small = cv2.resize(img, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
    out = np.zeros((*size, 3), np.uint8)
    out[: small.shape[0], : small.shape[1]] = small
    return out


def load_frames(n_video: int) -> list[tuple[str, np.ndarray]]:
    frames = []
    for name in ("basketball1.png", "basketball2.png", "messi5.jpg"):
        frames.append((name, letterbox(cv2.imread(str(FOOTAGE / name))[..., ::-1])))
    cap = cv2.VideoCapture(str(FOOTAGE / "vtest_640x480.mp4"))
    for i in range(n_video):
        ok, bgr = cap.read()
        if not ok:
            break
        frames.append((f"vtest#{i}", np.ascontiguousarray(bgr[..., ::-1])))
    return frames


def procrustes_error(a: np.ndarray, b: np.ndarray) -> float:
    """Mean distance after the best similarity transform of ``a`` onto ``b`` ((J, 3) each)."""
    ma, mb = a.mean(0), b.mean(0)
    xa, xb = a - ma, b - mb
    u, s, vt = np.linalg.svd(xa.T @ xb)
    d = np.sign(np.linalg.det(u @ vt))
    s[-1] *= d
    u[:, -1] *= d
    rot = u @ vt
    scale = s.sum() / (xa**2).sum()
    return float(np.linalg.norm(scale * xa @ rot - xb, axis=1).mean())


def mediapipe_person(result, w: int, h: int):
    if result.pose_landmarks is None:
        return None
    lm = np.array([(p.x * w, p.y * h, p.visibility) for p in result.pose_landmarks.landmark])
    world = np.array([(p.x, p.y, p.z) for p in result.pose_world_landmarks.landmark])
    px16, c16 = convert(lm[:, :2], (lm[:, 2] >= 0.5).astype(float), "blazepose33")
    w16, _ = convert(world, None, "blazepose33")
    return px16, c16, w16


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--video-frames", type=int, default=40)
    parser.add_argument("--input-size", type=int, nargs=2, default=None)
    parser.add_argument("--model", default=None)
    parser.add_argument("--stages", type=int, default=None)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--model-complexity", type=int, default=1, help="MediaPipe Pose 0/1/2 (1 = default full)")
    parser.add_argument("--output", type=Path, default=REPO / "out" / "bench" / "vs_mediapipe.json")
    args = parser.parse_args()

    import mediapipe as mp

    frames = load_frames(args.video_frames)
    cfg = {"tracking": False, "threads": args.threads, "model": args.model}
    if args.input_size:
        cfg["input_size"] = tuple(args.input_size)
    if args.stages is not None:
        cfg["stages"] = {"n_stages": args.stages}
    pipe = Pose3DPipeline(cfg)
    cam = PinholeCamera.default(640, 480)
    mp_pose = mp.solutions.pose.Pose(static_image_mode=True, model_complexity=args.model_complexity)
    # Warm-up both.
    for _ in range(2):
        pipe.process(Frame(frames[0][1], None, cam, 0.0))
        mp_pose.process(frames[0][1])
    ours_ms, mp_ms, stage_ms = [], [], {}
    pck1, pck2, pa3d, n_people = [], [], [], []
    for i, (_name, img) in enumerate(frames):
        t = time.perf_counter()
        res = pipe.process(Frame(img, None, cam, i * 0.1))
        ours_ms.append((time.perf_counter() - t) * 1e3)
        t = time.perf_counter()
        mres = mp_pose.process(img)
        mp_ms.append((time.perf_counter() - t) * 1e3)
        for k, v in res.timings.items():
            stage_ms.setdefault(k, []).append(v)
        n_people.append(len(res.people))
        ref = mediapipe_person(mres, 640, 480)
        if ref is None or not res.people:
            continue
        px16, c16, w16 = ref
        torso = np.linalg.norm(px16[2] - px16[0])
        if not np.isfinite(torso) or torso < 5:
            continue
        # Our person nearest to MediaPipe's.
        dists = [np.nanmean(np.linalg.norm(p.pixels - px16, axis=1)[c16 > 0]) for p in res.people]
        best = res.people[int(np.nanargmin(dists))]
        both = (c16 > 0) & (best.confidence > 0) & np.isfinite(px16).all(1)
        if both.sum() < 4:
            continue
        err = np.linalg.norm(best.pixels[both] - px16[both], axis=1) / torso
        pck1.append(float((err < 0.1).mean()))
        pck2.append(float((err < 0.2).mean()))
        if np.isfinite(w16[LIMBS]).all():
            pa3d.append(procrustes_error(best.joints[LIMBS], w16[LIMBS]) * 1e3)

    def stats(v):
        v = np.asarray(v)
        return {"median_ms": float(np.median(v)), "p90_ms": float(np.percentile(v, 90)),
                "fps": float(1e3 / np.median(v))}

    report = {
        "frames": len(frames),
        "image_size": [640, 480],
        "ours": {**stats(ours_ms), "backend": pipe.backend_name, "model": pipe.model_config.name,
                 "input_size": list(pipe.model_config.input_size), "n_stages": pipe.stages.params.n_stages,
                 "stages_ms": {k: float(np.median(v)) for k, v in stage_ms.items()},
                 "people_per_frame": float(np.mean(n_people))},
        "mediapipe": {**stats(mp_ms), "version": mp.__version__, "model_complexity": args.model_complexity},
        "speed_ratio_mediapipe_over_ours": float(np.median(mp_ms) / np.median(ours_ms)),
        "pck@0.1_torso": float(np.mean(pck1)) if pck1 else None,
        "pck@0.2_torso": float(np.mean(pck2)) if pck2 else None,
        "pa_mpjpe_vs_mediapipe_world_mm": float(np.median(pa3d)) if pa3d else None,
        "matched_frames": len(pck1),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2))
    o, m = report["ours"], report["mediapipe"]
    print(f"\n{len(frames)} real frames at 640x480, alternating, threads={args.threads}\n")
    print("| system | median ms | p90 ms | FPS | people/frame |")
    print("|---|---|---|---|---|")
    print(f"| ours ({o['model']}, {o['input_size'][0]}x{o['input_size'][1]}, {o['n_stages']} 3D stages) | "
          f"{o['median_ms']:.1f} | {o['p90_ms']:.1f} | {o['fps']:.1f} | {o['people_per_frame']:.2f} |")
    print(f"| MediaPipe Pose {m['version']} (complexity {m['model_complexity']}) | {m['median_ms']:.1f} | "
          f"{m['p90_ms']:.1f} | {m['fps']:.1f} | <= 1 |")
    print(f"\nspeed ratio (MediaPipe ms / ours ms): {report['speed_ratio_mediapipe_over_ours']:.2f}")
    print("our stages (median ms): " + ", ".join(f"{k} {v:.1f}" for k, v in o["stages_ms"].items()))
    if pck1:
        print(f"2D agreement with MediaPipe over {len(pck1)} frames: PCK@0.1 torso {report['pck@0.1_torso']:.3f}, "
              f"PCK@0.2 torso {report['pck@0.2_torso']:.3f}")
    if pa3d:
        print(f"3D agreement: PA-MPJPE vs MediaPipe world landmarks (12 limb joints) "
              f"{report['pa_mpjpe_vs_mediapipe_world_mm']:.0f} mm")
    print(f"-> {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
