"""``pose3d-ros demo``: the whole system on embedded real footage, through the real nodes over DDS.

Starts the driver (playback of ``--footage``) and the inference node as separate processes, subscribes to their
output here, and writes under ``--output``: ``annotated.mp4`` (the node's debug/image overlay), ``skeletons.jsonl``
(every Skeleton3DArray), ``skeleton3d.png`` (3D plot of the last frame with people) and ``summary.json``; prints
frames, people, FPS and latency. DDS stays on this machine (ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from .run_node import node_command

DEMO_FOOTAGE = ("sports2d_demo_640x480.mp4", "vtest_640x480.mp4", "basketball1.png")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--output", type=Path, default=Path("out/demo"), help="directory for the results")
    parser.add_argument("--footage", default=None, help="recording directory, video or image (default: embedded)")
    parser.add_argument("--frames", type=int, default=40, help="stop after this many processed frames")
    parser.add_argument("--timeout", type=float, default=180.0, help="give up after this many seconds")
    parser.add_argument("--rate", type=float, default=0.0, help="playback rate, frames/s (0 = recorded)")
    parser.add_argument("--no-depth", action="store_true", help="RGB-only inference")


def _footage() -> str | None:
    from importlib.resources import files

    root = files("pose3d_ros") / "resources" / "footage"
    for name in DEMO_FOOTAGE:
        if (root / name).is_file():
            return str(root / name)
    from pose3d_ros.sources import default_footage_path

    return default_footage_path()


def _env() -> dict[str, str]:
    from pose3d_ros.ros.dds import apply_dds_defaults

    env = dict(os.environ)
    env.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    env.setdefault("ROS_LOCALHOST_ONLY", "1")
    env.setdefault("ROS_DOMAIN_ID", str(50 + os.getpid() % 50))
    return dict(apply_dds_defaults(env))


def plot_3d(path: Path, skeletons: list[dict]) -> bool:
    """3D plot of skeletons (camera optical frame shown upright: -y up). False when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    import numpy as np

    from pose3d_ros.core.skeleton import POSE3D16
    from pose3d_ros.ros.conversions import id_color

    fig = plt.figure(figsize=(7, 6))
    ax = fig.add_subplot(111, projection="3d")
    for sk in skeletons:
        j = np.array([[np.nan if v is None else v for v in row] for row in sk["joints"]], dtype=float)
        c = id_color(sk["id"])
        col = (c.r, c.g, c.b)
        for a, b in POSE3D16.bones:
            ax.plot([j[a, 0], j[b, 0]], [j[a, 2], j[b, 2]], [-j[a, 1], -j[b, 1]], color=col, lw=2)
        ax.scatter(j[:, 0], j[:, 2], -j[:, 1], color=col, s=10)
        ax.text(j[3, 0], j[3, 2], -j[3, 1] + 0.15, f"id {sk['id']} {sk.get('action', '')}", color=col)
    pts = np.array([[v if v is not None else np.nan for v in row] for sk in skeletons for row in sk["joints"]], float)
    pts = pts[np.isfinite(pts).all(axis=1)]
    if len(pts):  # equal scale on all axes: a cube around the people
        centre = (pts.min(axis=0) + pts.max(axis=0)) / 2
        half = max(float((pts.max(axis=0) - pts.min(axis=0)).max()) / 2, 1.0)
        ax.set_xlim(centre[0] - half, centre[0] + half)
        ax.set_ylim(centre[2] - half, centre[2] + half)
        ax.set_zlim(-centre[1] - half, -centre[1] + half)
    ax.set_xlabel("x (m, right)")
    ax.set_ylabel("z (m, forward)")
    ax.set_zlabel("-y (m, up)")
    ax.set_title("pose3d_ros: 3D skeletons, camera optical frame")
    try:
        ax.set_box_aspect((1, 1, 1))
    except AttributeError:  # pragma: no cover - old matplotlib
        pass
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def run(args: argparse.Namespace) -> int:  # noqa: C901 - a linear script
    footage = args.footage or _footage()
    if not footage:
        print("demo: no footage found (pose3d_ros/resources/footage) and no --footage given", file=sys.stderr)
        return 1
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    env = _env()
    os.environ.update({k: env[k] for k in ("ROS_AUTOMATIC_DISCOVERY_RANGE", "ROS_LOCALHOST_ONLY", "ROS_DOMAIN_ID")})
    if "FASTDDS_DEFAULT_PROFILES_FILE" in env:
        os.environ["FASTDDS_DEFAULT_PROFILES_FILE"] = env["FASTDDS_DEFAULT_PROFILES_FILE"]
    depth = not args.no_depth
    logs = {n: open(out / f"{n}.log", "w") for n in ("driver", "node")}  # noqa: SIM115 - closed below
    procs = {
        "driver": node_command("driver", params={"backend": "playback", "path": footage, "rate": float(args.rate),
                                                 "use_depth": depth}),
        "node": node_command("node", params={"process_mode": "always", "use_depth": depth,
                                             "publish_debug_image": True}),
    }
    # the inference node first: the driver's playback starts once the node listens, so the first frames count
    running = {"node": subprocess.Popen(procs["node"], env=env, stdout=logs["node"], stderr=subprocess.STDOUT)}

    try:  # whatever fails while setting up, the started node must not outlive the demo
        import cv2
        import rclpy
        from rclpy.qos import qos_profile_sensor_data
        from sensor_msgs.msg import Image

        from pose3d_ros.ros.imports import imgmsg_to_numpy
        from pose3d_ros.ros.recorder import Recorder

        rclpy.init(args=["demo", "--ros-args", "-r", "__ns:=/camera"])
        rec = Recorder(out / "skeletons.jsonl", 10)
        video: dict = {"writer": None, "frames": 0}

        def on_debug(msg: Image) -> None:
            img = cv2.cvtColor(imgmsg_to_numpy(msg), cv2.COLOR_RGB2BGR)
            if video["writer"] is None:
                video["writer"] = cv2.VideoWriter(str(out / "annotated.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 10.0,
                                                  (img.shape[1], img.shape[0]))
            video["writer"].write(img)
            video["frames"] += 1

        rec.create_subscription(Image, "debug/image", on_debug, qos_profile_sensor_data)
        t_wait = time.monotonic()
        while (rec.count_subscribers("color/image_raw") == 0 and running["node"].poll() is None
               and time.monotonic() - t_wait < args.timeout):
            rclpy.spin_once(rec, timeout_sec=0.1)
        running["driver"] = subprocess.Popen(procs["driver"], env=env, stdout=logs["driver"], stderr=subprocess.STDOUT)
    except BaseException:
        for p in running.values():
            p.kill()
        raise
    print(f"demo: footage {footage}\ndemo: driver pid {running['driver'].pid}, inference node pid "
          f"{running['node'].pid} (logs in {out})", flush=True)
    t0 = time.monotonic()
    rc = 0
    last_people: list = []
    try:
        while rec.arrays < args.frames:
            rclpy.spin_once(rec, timeout_sec=0.1)
            dead = [n for n, p in running.items() if p.poll() is not None]
            if dead:
                print(f"demo: {', '.join(dead)} exited early; see {out}/{dead[0]}.log", file=sys.stderr)
                rc = 1
                break
            if time.monotonic() - t0 > args.timeout:
                print(f"demo: timeout after {args.timeout:.0f} s with {rec.arrays} frames", file=sys.stderr)
                rc = 1 if rec.arrays == 0 else 0
                break
    except KeyboardInterrupt:
        pass
    finally:
        wall = time.monotonic() - t0
        for p in running.values():
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        for p in running.values():
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        for fh in logs.values():
            fh.close()
        if video["writer"] is not None:
            video["writer"].release()
        summary = rec.summary()
        rec.close()
        rec.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()
    lines = [json.loads(x) for x in (out / "skeletons.jsonl").read_text().splitlines() if x.strip()]
    arrays = [x for x in lines if "skeletons" in x]
    with_people = [x for x in arrays if x["skeletons"]]
    if with_people:
        last_people = with_people[-1]["skeletons"]
        plot_3d(out / "skeleton3d.png", last_people)
    lat = sorted(x["received"] - x["stamp"] for x in arrays)
    fps = (len(arrays) - 1) / (arrays[-1]["received"] - arrays[0]["received"]) if len(arrays) > 1 else 0.0
    result = {
        "footage": footage,
        "frames": len(arrays),
        "frames_with_people": len(with_people),
        "people_max": max((len(x["skeletons"]) for x in arrays), default=0),
        "ids": sorted({s["id"] for x in arrays for s in x["skeletons"]}),
        "fps": round(fps, 2),
        "latency_median_ms": round(1e3 * lat[len(lat) // 2], 1) if lat else None,
        "latency_p95_ms": round(1e3 * lat[int(0.95 * (len(lat) - 1))], 1) if lat else None,
        "annotated_frames": video["frames"],
        "actions": summary["actions"],
        "wall_s": round(wall, 1),
        "outputs": sorted(p.name for p in out.iterdir()),
    }
    (out / "summary.json").write_text(json.dumps(result, indent=2))
    print("| frames | with people | max people | ids | FPS | latency median ms | p95 ms |")
    print("|---|---|---|---|---|---|---|")
    print(f"| {result['frames']} | {result['frames_with_people']} | {result['people_max']} | {len(result['ids'])} | "
          f"{result['fps']} | {result['latency_median_ms']} | {result['latency_p95_ms']} |")
    print(f"demo: wrote {', '.join(result['outputs'])} to {out}")
    if not arrays:
        print("demo: no skeletons received", file=sys.stderr)
        return 1
    return rc
