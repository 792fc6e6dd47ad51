#!/usr/bin/env python3
"""Ours vs MediaPipe Pose (legacy ``mp.solutions.pose``, 0.10.21) side by side on the same real 640x480 frames.

Frames: the shipped real footage (``pose3d_ros/resources/footage``: basketball1/2.png, messi5.jpg letterboxed to
640x480, every 4th frame of the sports2d demo and vtest videos, ``--video-frames`` from each). Each frame is
processed by both systems in alternation (A, B, A, B...), so machine load hits both
alike; ONNX Runtime gets ``--threads``, MediaPipe uses its defaults.

Reported
* speed: median / p90 wall ms per frame and FPS of both, CPU ms per frame (process time: robust when the machine is
  shared, since other processes inflate wall time), the ratio MediaPipe ms / ours ms, and our per-stage ms;
* 2D agreement: PCK of our joints against MediaPipe's (the person of ours nearest MediaPipe's single person),
  threshold 0.1 (and 0.2) x MediaPipe's torso size (neck-pelvis), over the joints both report
  (MediaPipe visibility >= 0.5, ours confidence > 0);
* video mode: both with their tracking on consecutive frames of the sports2d demo (ours: tracker + ROI crops,
  MediaPipe: ``static_image_mode=False``), wall / CPU ms and people per frame;
* 3D agreement: PA-MPJPE (mm, after similarity Procrustes) between our 3D joints and MediaPipe's metric world
  landmarks, over the 12 limb joints (an agreement figure, neither is ground truth).

Usage::

    .venv/bin/python bench/bench_vs_mediapipe.py [--video-frames 40] [--input-sizes 192 256 --input-sizes 144 192]

MediaPipe runs the 'full' landmark model (complexity 1), the only one the wheel ships (others would download).

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
sys.path.insert(0, str(REPO / "bench"))

from metrics import pa_error  # noqa: E402

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


def load_frames(n_video: int, step: int = 4) -> list[tuple[str, np.ndarray]]:
    """The photos plus every ``step``-th frame of the videos, at most ``n_video`` frames per video."""
    frames = []
    for name in ("basketball1.png", "basketball2.png", "messi5.jpg"):
        frames.append((name, letterbox(cv2.imread(str(FOOTAGE / name))[..., ::-1])))
    for video in ("sports2d_demo_640x480.mp4", "vtest_640x480.mp4"):
        cap = cv2.VideoCapture(str(FOOTAGE / video))
        i = taken = 0
        while taken < n_video:
            ok, bgr = cap.read()
            if not ok:
                break
            if i % step == 0:
                frames.append((f"{video}#{i}", np.ascontiguousarray(bgr[..., ::-1])))
                taken += 1
            i += 1
    return frames


def mediapipe_person(result, w: int, h: int):
    if result.pose_landmarks is None:
        return None
    lm = np.array([(p.x * w, p.y * h, p.visibility) for p in result.pose_landmarks.landmark])
    world = np.array([(p.x, p.y, p.z) for p in result.pose_world_landmarks.landmark])
    px16, c16 = convert(lm[:, :2], (lm[:, 2] >= 0.5).astype(float), "blazepose33")
    w16, _ = convert(world, None, "blazepose33")
    return px16, c16, w16


def video_mode(args, mp) -> dict:
    """Both systems in their video mode on the sports2d demo (tracking on: our ROI tracking, MediaPipe's)."""
    cap = cv2.VideoCapture(str(FOOTAGE / "sports2d_demo_640x480.mp4"))
    frames = []
    while len(frames) < args.sequence_frames:
        ok, bgr = cap.read()
        if not ok:
            break
        frames.append(np.ascontiguousarray(bgr[..., ::-1]))
    pipe = Pose3DPipeline({"threads": args.threads, "model": args.model, "tracker": {"min_hits": 1}})
    mp_pose = mp.solutions.pose.Pose(static_image_mode=False, model_complexity=1)
    cam = PinholeCamera.default(640, 480)
    rec = {"ours": {"ms": [], "cpu": [], "people": []}, "mediapipe": {"ms": [], "cpu": [], "people": []}}
    for i, img in enumerate(frames):
        t, c = time.perf_counter(), time.process_time()
        res = pipe.process(Frame(img, None, cam, i / 15.0))
        rec["ours"]["ms"].append((time.perf_counter() - t) * 1e3)
        rec["ours"]["cpu"].append((time.process_time() - c) * 1e3)
        rec["ours"]["people"].append(len(res.people))
        t, c = time.perf_counter(), time.process_time()
        out = mp_pose.process(img)
        rec["mediapipe"]["ms"].append((time.perf_counter() - t) * 1e3)
        rec["mediapipe"]["cpu"].append((time.process_time() - c) * 1e3)
        rec["mediapipe"]["people"].append(int(out.pose_landmarks is not None))
    summary = {k: {"median_ms": float(np.median(v["ms"][2:])), "p90_ms": float(np.percentile(v["ms"][2:], 90)),
                   "cpu_ms": float(np.median(v["cpu"][2:])), "people_per_frame": float(np.mean(v["people"]))}
               for k, v in rec.items()}
    summary["frames"] = len(frames)
    summary["speed_ratio_mediapipe_over_ours"] = summary["mediapipe"]["median_ms"] / summary["ours"]["median_ms"]
    summary["cpu_ratio_mediapipe_over_ours"] = summary["mediapipe"]["cpu_ms"] / summary["ours"]["cpu_ms"]
    return summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--video-frames", type=int, default=20, help="frames taken from each video")
    parser.add_argument("--input-sizes", type=int, nargs=2, action="append", default=None, metavar=("H", "W"),
                        help="network input sizes to compare (repeat the option); default: the model's")
    parser.add_argument("--sequence-frames", type=int, default=115,
                        help="video-mode comparison on this many consecutive sports2d frames (0 = skip)")
    parser.add_argument("--repeats", type=int, default=1, help="passes over the frames (timing only after the first)")
    parser.add_argument("--model", default=None)
    parser.add_argument("--stages", type=int, default=None)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--output", type=Path, default=REPO / "out" / "bench" / "vs_mediapipe.json")
    args = parser.parse_args()

    import mediapipe as mp

    frames = load_frames(args.video_frames)
    sizes = [tuple(v) for v in args.input_sizes] if args.input_sizes else [None]
    pipes = {}
    for size in sizes:
        cfg = {"tracking": False, "threads": args.threads, "model": args.model}
        if size:
            cfg["input_size"] = size
        if args.stages is not None:
            cfg["stages"] = {"n_stages": args.stages}
        pipe = Pose3DPipeline(cfg)
        h, w = pipe.model_config.input_size
        pipes[f"ours {h}x{w}"] = pipe
    cam = PinholeCamera.default(640, 480)
    mp_pose = mp.solutions.pose.Pose(static_image_mode=True, model_complexity=1)
    for _ in range(2):  # warm-up
        for pipe in pipes.values():
            pipe.process(Frame(frames[0][1], None, cam, 0.0))
        mp_pose.process(frames[0][1])
    mp_ms: list[float] = []
    mp_cpu: list[float] = []
    ours = {k: {"ms": [], "cpu": [], "stages": {}, "pck1": [], "pck2": [], "pa3d": [], "people": []} for k in pipes}
    for _rep in range(args.repeats):
        for i, (_name, img) in enumerate(frames):
            t, c = time.perf_counter(), time.process_time()
            mres = mp_pose.process(img)
            mp_ms.append((time.perf_counter() - t) * 1e3)
            mp_cpu.append((time.process_time() - c) * 1e3)
            ref = mediapipe_person(mres, 640, 480)
            for key, pipe in pipes.items():  # alternate systems frame by frame: load hits all alike
                rec = ours[key]
                t, c = time.perf_counter(), time.process_time()
                res = pipe.process(Frame(img, None, cam, i * 0.1))
                rec["ms"].append((time.perf_counter() - t) * 1e3)
                rec["cpu"].append((time.process_time() - c) * 1e3)
                for k, v in res.timings.items():
                    rec["stages"].setdefault(k, []).append(v)
                if _rep:
                    continue
                rec["people"].append(len(res.people))
                if ref is None or not res.people:
                    continue
                px16, c16, w16 = ref
                torso = np.linalg.norm(px16[2] - px16[0])
                if not np.isfinite(torso) or torso < 5:
                    continue
                dists = [np.nanmean(np.linalg.norm(p.pixels - px16, axis=1)[c16 > 0]) for p in res.people]
                best = res.people[int(np.nanargmin(dists))]
                both = (c16 > 0) & (best.confidence > 0) & np.isfinite(px16).all(1)
                if both.sum() < 4:
                    continue
                err = np.linalg.norm(best.pixels[both] - px16[both], axis=1) / torso
                rec["pck1"].append(float((err < 0.1).mean()))
                rec["pck2"].append(float((err < 0.2).mean()))
                if np.isfinite(w16[LIMBS]).all():
                    rec["pa3d"].append(pa_error(best.joints[LIMBS], w16[LIMBS]) * 1e3)
    mp_frames = sum(mediapipe_person(mp_pose.process(img), 640, 480) is not None for _, img in frames)

    def stats(v):
        v = np.asarray(v)
        return {"median_ms": float(np.median(v)), "p90_ms": float(np.percentile(v, 90)),
                "fps": float(1e3 / np.median(v))}

    report = {"frames": len(frames), "repeats": args.repeats, "image_size": [640, 480], "threads": args.threads,
              "mediapipe": {**stats(mp_ms), "cpu_ms": float(np.median(mp_cpu)), "version": mp.__version__,
                            "model_complexity": 1, "frames_with_person": mp_frames},
              "ours": {}}
    for key, pipe in pipes.items():
        rec = ours[key]
        report["ours"][key] = {
            **stats(rec["ms"]), "cpu_ms": float(np.median(rec["cpu"])),
            "cpu_ratio_mediapipe_over_ours": float(np.median(mp_cpu) / np.median(rec["cpu"])),
            "backend": pipe.backend_name, "model": pipe.model_config.name,
            "n_stages": pipe.stages.params.n_stages,
            "stages_ms": {k: float(np.median(v)) for k, v in rec["stages"].items()},
            "people_per_frame": float(np.mean(rec["people"])),
            "speed_ratio_mediapipe_over_ours": float(np.median(mp_ms) / np.median(rec["ms"])),
            "pck@0.1_torso": float(np.mean(rec["pck1"])) if rec["pck1"] else None,
            "pck@0.2_torso": float(np.mean(rec["pck2"])) if rec["pck2"] else None,
            "pa_mpjpe_vs_mediapipe_world_mm": float(np.median(rec["pa3d"])) if rec["pa3d"] else None,
            "matched_frames": len(rec["pck1"]),
        }
    if args.sequence_frames > 0:
        report["video_mode"] = video_mode(args, mp)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2))
    m = report["mediapipe"]
    print(f"\n{len(frames)} real frames at 640x480 x {args.repeats} repeats, systems alternated per frame, "
          f"ONNX Runtime threads={args.threads}\n")
    print("| system | median ms | p90 ms | FPS | MediaPipe ms / ours ms | CPU ms | MediaPipe CPU / ours CPU | "
          "people/frame | PCK@0.1 torso | PCK@0.2 torso | PA-MPJPE vs MP world (mm) | stages ms (median) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for key, o in report["ours"].items():
        stages_txt = ", ".join(f"{k} {v:.1f}" for k, v in o["stages_ms"].items() if k != "total")

        def fmt(v, spec):
            return "-" if v is None else format(v, spec)

        print(f"| {key} ({o['model']}, {o['n_stages']} 3D stage) | {o['median_ms']:.1f} | {o['p90_ms']:.1f} | "
              f"{o['fps']:.1f} | {o['speed_ratio_mediapipe_over_ours']:.2f} | {o['cpu_ms']:.1f} | "
              f"{o['cpu_ratio_mediapipe_over_ours']:.2f} | {o['people_per_frame']:.2f} | "
              f"{fmt(o['pck@0.1_torso'], '.3f')} | {fmt(o['pck@0.2_torso'], '.3f')} | "
              f"{fmt(o['pa_mpjpe_vs_mediapipe_world_mm'], '.0f')} | {stages_txt} |")
    print(f"| MediaPipe Pose {m['version']} (full, static images) | {m['median_ms']:.1f} | {m['p90_ms']:.1f} | "
          f"{m['fps']:.1f} | 1.00 | {m['cpu_ms']:.1f} | 1.00 | <= 1 ({m['frames_with_person']} frames with a person) "
          "| ref | ref | ref | - |")
    if "video_mode" in report:
        v = report["video_mode"]
        print(f"\nVideo mode, sports2d demo ({v['frames']} consecutive frames, 2 people), tracking on both sides "
              "(ours: tracker + ROI crops; MediaPipe: static_image_mode=False)\n")
        print("| system | median ms | p90 ms | FPS | CPU ms | people/frame |")
        print("|---|---|---|---|---|---|")
        for key in ("ours", "mediapipe"):
            o = v[key]
            print(f"| {key} | {o['median_ms']:.1f} | {o['p90_ms']:.1f} | {1e3 / o['median_ms']:.1f} | "
                  f"{o['cpu_ms']:.1f} | {o['people_per_frame']:.2f} |")
        print(f"\nratio MediaPipe/ours: wall {v['speed_ratio_mediapipe_over_ours']:.2f}, "
              f"CPU {v['cpu_ratio_mediapipe_over_ours']:.2f}")
    print(f"-> {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
