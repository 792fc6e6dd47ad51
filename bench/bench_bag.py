#!/usr/bin/env python3
"""rosbag2 (MCAP) recording throughput: write and read frames/s and size per minute of 640x480 30 fps colour + depth.

Colour is the shipped real footage (``vtest_640x480.mp4``, cycled); depth is a Kinect v1-like scene (a wall and a
floor, a person-sized blob that moves), with the disparity noise, 1/8 px quantisation and holes of the sensor model
in ``bench/depth_sim.py``: noise-free synthetic depth would compress far better than a real sensor's. Frames are
built before timing. Write = :class:`pose3d_ros.bags.rgbd.RGBDBagWriter` (serialise + chunk + compress + disk);
read = :class:`pose3d_ros.sources.playback.PlaybackSource` at full speed (decompress + deserialise + pair colour
with depth by stamp + decode), i.e. what ``estimate`` and the driver pay per frame.

    .venv/bin/python bench/bench_bag.py                          # 20 s of video per compression, ~1 min
    .venv/bin/python bench/bench_bag.py --seconds 1 --compression zstd   # smoke test
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.depth_sim import BASELINE_M, DISPARITY_SIGMA_PX, FOCAL_PX  # noqa: E402
from pose3d_ros.bags.rgbd import RGBDBagWriter  # noqa: E402
from pose3d_ros.core.camera import PinholeCamera  # noqa: E402
from pose3d_ros.sources import EndOfStream, RGBDFrame  # noqa: E402
from pose3d_ros.sources.playback import PlaybackSource  # noqa: E402

FPS = 30.0
VIDEO = Path(__file__).resolve().parents[1] / "pose3d_ros" / "resources" / "footage" / "vtest_640x480.mp4"
QUANT_PX = 1.0 / 8.0  # Kinect v1 disparity step
HOLE_FRACTION = 0.03


def _colour_frames(n: int, width: int, height: int) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(VIDEO))
    out = []
    while len(out) < n:
        ok, bgr = cap.read()
        if not ok:
            if not out:
                raise SystemExit(f"cannot read {VIDEO}")
            break
        out.append(cv2.cvtColor(cv2.resize(bgr, (width, height)), cv2.COLOR_BGR2RGB))
    cap.release()
    return out


def _depth_frames(n: int, width: int, height: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    v, u = np.mgrid[0:height, 0:width].astype(np.float32)
    wall = np.full((height, width), 4.0, np.float32)
    floor_rows = v > height * 0.6  # floor: depth falls towards the bottom rows
    wall[floor_rows] = 4.0 * (height * 0.6) / np.maximum(v[floor_rows], 1.0)
    fb = FOCAL_PX * BASELINE_M
    out = []
    for i in range(n):
        z = wall.copy()
        cx = width * (0.2 + 0.6 * (i % 90) / 90.0)
        person = ((u - cx) / (width * 0.08)) ** 2 + ((v - height * 0.5) / (height * 0.35)) ** 2 < 1.0
        z[person] = 2.2
        disparity = fb / z + rng.normal(0.0, DISPARITY_SIGMA_PX, z.shape).astype(np.float32)
        disparity = np.round(disparity / QUANT_PX) * QUANT_PX
        mm = np.rint(1000.0 * fb / disparity).astype(np.uint16)
        mm[rng.random(z.shape) < HOLE_FRACTION] = 0
        out.append(mm)
    return out


def run(seconds: float, width: int, height: int, compressions: list[str], workdir: Path) -> list[dict]:
    n = max(int(round(seconds * FPS)), 2)
    unique = min(n, 100)
    colours, depths = _colour_frames(unique, width, height), _depth_frames(unique, width, height)
    cam = PinholeCamera.default(width, height)
    t0 = time.time()
    frames = [RGBDFrame(colours[i % len(colours)], depths[i % unique], cam, stamp=t0 + i / FPS) for i in range(n)]
    raw_mb = sum(f.color.nbytes + f.depth_mm.nbytes for f in frames) / 1e6
    rows = []
    for comp in compressions:
        path = workdir / f"bag_{comp}"
        shutil.rmtree(path, ignore_errors=True)
        tw = time.perf_counter()
        with RGBDBagWriter(path, compression=comp) as w:
            for f in frames:
                w.write(f)
        write_s = time.perf_counter() - tw
        size_mb = sum(p.stat().st_size for p in path.iterdir()) / 1e6
        tr = time.perf_counter()
        got = 0
        with PlaybackSource(path, rate=0, loop=False) as src:
            while True:
                try:
                    f = src.get_frame()
                except EndOfStream:
                    break
                got += f.depth_mm is not None
        read_s = time.perf_counter() - tr
        if got != n:
            raise SystemExit(f"read back {got} frames with depth, wrote {n}")
        minutes = n / FPS / 60.0
        rows.append({"compression": comp, "frames": n, "write_fps": n / write_s, "read_fps": n / read_s,
                     "mb": size_mb, "mb_per_min": size_mb / minutes, "ratio": raw_mb / size_mb})  # fmt: skip
        shutil.rmtree(path, ignore_errors=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=20.0, help="recorded time per compression (30 fps)")
    ap.add_argument("--width", type=int, default=640)
    ap.add_argument("--height", type=int, default=480)
    ap.add_argument("--compression", nargs="+", choices=("zstd", "none"), default=["zstd", "none"])
    ap.add_argument("--workdir", type=Path, default=None, help="where the bags go (default: a temporary directory)")
    ap.add_argument("--json", type=Path, default=None, help="also write the rows as JSON")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        rows = run(args.seconds, args.width, args.height, args.compression, workdir)
    print(f"# {args.width}x{args.height} rgb8 + 16UC1 at {FPS:.0f} fps, {platform.processor() or platform.machine()}")
    print(f"{'compression':>11} {'frames':>6} {'write fps':>9} {'read fps':>8} {'MB/min':>8} {'ratio':>5}")
    for r in rows:
        print(f"{r['compression']:>11} {r['frames']:>6} {r['write_fps']:>9.1f} {r['read_fps']:>8.1f} "
              f"{r['mb_per_min']:>8.0f} {r['ratio']:>5.2f}")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
