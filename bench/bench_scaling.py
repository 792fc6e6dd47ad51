#!/usr/bin/env python3
"""Time per frame with 1, 3 and 6 people: bottom-up grouping should keep the CNN cost flat.

Canvases are 640x480 composed of real footage: a 2 x 3 grid of 213x240 cells, the first N cells holding a crop
of a real person (basketball1.png's left player, messi5.jpg, the two people of the sports2d demo), the others a
neutral grey. For each N the pipeline runs ``--repeats`` times (after a warm-up); we report per-stage medians,
people found, and ms per person. MediaPipe Pose (legacy, single person) runs on the same canvases for reference:
it reports at most one person, so its cost per *detected* person does not fall with N.

Usage::

    .venv/bin/python bench/bench_scaling.py [--repeats 10] [--input-size 240 320]

Writes ``out/bench/scaling.json``; prints a markdown table.
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
from pose3d_ros.pipeline import Frame, Pose3DPipeline  # noqa: E402

FOOTAGE = Path(str(importlib.resources.files("pose3d_ros") / "resources" / "footage"))
CELL_H, CELL_W = 240, 213


def person_crops() -> list[np.ndarray]:
    """Real people, RGB crops (rows, columns picked by eye on the shipped footage)."""
    bb = cv2.imread(str(FOOTAGE / "basketball1.png"))[..., ::-1]
    messi = cv2.imread(str(FOOTAGE / "messi5.jpg"))[..., ::-1]
    cap = cv2.VideoCapture(str(FOOTAGE / "sports2d_demo_640x480.mp4"))
    cap.set(cv2.CAP_PROP_POS_FRAMES, 30)
    ok, frame = cap.read()
    crops = [bb[40:480, 0:230], messi[40:342, 120:460]]
    if ok:
        rgb = frame[..., ::-1]
        crops += [rgb[60:260, 140:300], rgb[180:480, 420:620]]
    return [np.ascontiguousarray(c) for c in crops]


def fit(crop: np.ndarray) -> np.ndarray:
    h, w = crop.shape[:2]
    s = min(CELL_H / h, CELL_W / w)
    small = cv2.resize(crop, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
    cell = np.full((CELL_H, CELL_W, 3), 128, np.uint8)
    y0, x0 = (CELL_H - small.shape[0]) // 2, (CELL_W - small.shape[1]) // 2
    cell[y0:y0 + small.shape[0], x0:x0 + small.shape[1]] = small
    return cell


def canvas(n: int, crops: list[np.ndarray]) -> np.ndarray:
    img = np.full((480, 640, 3), 128, np.uint8)
    for k in range(n):
        r, c = divmod(k, 3)
        img[r * CELL_H:(r + 1) * CELL_H, c * CELL_W:(c + 1) * CELL_W] = fit(crops[k % len(crops)])
    return img


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, nargs="+", default=[1, 3, 6])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--input-size", type=int, nargs=2, default=None)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-mediapipe", action="store_true")
    parser.add_argument("--save-canvases", type=Path, default=None, help="write the composed images here")
    parser.add_argument("--output", type=Path, default=REPO / "out" / "bench" / "scaling.json")
    args = parser.parse_args()

    crops = person_crops()
    cfg = {"tracking": False, "threads": args.threads}
    if args.input_size:
        cfg["input_size"] = tuple(args.input_size)
    pipe = Pose3DPipeline(cfg)
    cam = PinholeCamera.default(640, 480)
    mp_pose = None
    if not args.no_mediapipe:
        import mediapipe as mp

        mp_pose = mp.solutions.pose.Pose(static_image_mode=True, model_complexity=1)
    rows = []
    for n in args.people:
        img = canvas(n, crops)
        if args.save_canvases:
            args.save_canvases.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(args.save_canvases / f"people_{n}.png"), img[..., ::-1])
        pipe.process(Frame(img, None, cam, 0.0))
        stage: dict[str, list[float]] = {}
        found, mp_ms, mp_found = [], [], 0
        for _ in range(args.repeats):
            res = pipe.process(Frame(img, None, cam, 0.0))
            found.append(len(res.people))
            for k, v in res.timings.items():
                stage.setdefault(k, []).append(v)
            if mp_pose is not None:  # alternate with MediaPipe so load hits both alike
                t = time.perf_counter()
                out = mp_pose.process(img)
                mp_ms.append((time.perf_counter() - t) * 1e3)
                mp_found = int(out.pose_landmarks is not None)
        med = {k: float(np.median(v)) for k, v in stage.items()}
        people = int(np.median(found))
        rows.append({"people_shown": n, "people_found": people, "stages_ms": med,
                     "ms_per_found_person": med["total"] / max(people, 1),
                     "mediapipe_ms": float(np.median(mp_ms)) if mp_ms else None, "mediapipe_found": mp_found})
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({"input_size": list(pipe.model_config.input_size), "rows": rows}, indent=2))
    h, w = pipe.model_config.input_size
    print(f"\n640x480 canvases of real people, network input {h}x{w}, {args.repeats} repeats, "
          f"threads={args.threads}\n")
    print("| people shown | found | 2D front end ms | 3D stages+lift ms | total ms | ms per person | "
          "MediaPipe ms (found) |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        s = r["stages_ms"]
        mp_txt = "-" if r["mediapipe_ms"] is None else f"{r['mediapipe_ms']:.1f} ({r['mediapipe_found']})"
        print(f"| {r['people_shown']} | {r['people_found']} | {s['2d']:.1f} | "
              f"{s['stages+lift']:.1f} | {s['total']:.1f} | {r['ms_per_found_person']:.1f} | {mp_txt} |")
    print(f"-> {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
