"""End-to-end benchmark through DDS: driver (playback) -> inference node -> subscriber, separate processes.

Measures, per scene (640x480 real footage), the skeleton output rate (FPS), latency from image stamp (acquisition)
to skeleton reception (median / p95), people per frame, CPU (% of one core) and RSS of the inference node and
driver, and the RSS slope over the run (MiB/min after a warm-up), for `--seconds` or `--minutes`.

    .venv/bin/python bench/bench_e2e.py --seconds 30
    .venv/bin/python bench/bench_e2e.py --minutes 10 --scenes one
    .venv/bin/python bench/bench_e2e.py --seconds 20 --scenes video bag   # the same clip from a rosbag2 bag

Prints a markdown table and writes JSON to out/bench/e2e.json. DDS stays on loopback.
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

import numpy as np

REPO = Path(__file__).resolve().parents[1]
FOOTAGE = REPO / "pose3d_ros" / "resources" / "footage"
#: scene name -> (file, nominal people in view)
SCENES = {
    "one": ("messi5.jpg", 1),
    "three": ("three_people", 3),  # mosaic built below from real footage
    "video": ("sports2d_demo_640x480.mp4", 2),
    "bag": ("sports2d_demo_640x480.mp4", 2),  # the same clip recorded into a rosbag2 MCAP bag first, played from it
}
CLK_TCK = os.sysconf("SC_CLK_TCK")
#: Optional YAML with a 'pipeline' section for the inference node (``--pipeline-config``).
PIPELINE_CONFIG = ""


def build_scene(name: str, workdir: Path) -> Path:
    """A playback path for ``name``: images are resized to 640x480; 'three' is a mosaic of three real people."""
    import cv2

    file, _ = SCENES[name]
    if name == "three":
        # three vertical strips with one person each: messi5 (centre crop), basketball1 left and right players
        messi = cv2.imread(str(FOOTAGE / "messi5.jpg"))
        bb = cv2.imread(str(FOOTAGE / "basketball1.png"))
        strips = [cv2.resize(messi[:, 120:400], (213, 480)), cv2.resize(bb[:, 0:320], (213, 480)),
                  cv2.resize(bb[:, 320:640], (214, 480))]
        img = np.concatenate(strips, axis=1)
        out = workdir / "three_people.png"
        cv2.imwrite(str(out), img)
        return out
    src = FOOTAGE / file
    if name == "bag":
        out = workdir / "sports2d_bag"
        if not out.exists():
            subprocess.run([sys.executable, "-m", "pose3d_ros.cli", "record", "--source", "playback", "--path",
                            str(src), "--output", str(out)], check=True)
        return out
    if src.suffix.lower() in (".jpg", ".png"):
        img = cv2.resize(cv2.imread(str(src)), (640, 480), interpolation=cv2.INTER_AREA)
        out = workdir / f"{name}.png"
        cv2.imwrite(str(out), img)
        return out
    return src


def proc_stats(pid: int) -> tuple[float, float]:
    """(CPU seconds user+system, RSS MiB) of ``pid`` from /proc."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / CLK_TCK
    rss = 0.0
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) / 1024.0
    return cpu, rss


def run_scene(name: str, seconds: float, rate: float, env: dict, workdir: Path) -> dict:
    import rclpy
    from pose3d_ros.msg import Skeleton3DArray  # noqa: I001
    from rclpy.qos import qos_profile_sensor_data  # noqa: F401

    from pose3d_ros.ros.conversions import stamp_to_sec

    path = build_scene(name, workdir)
    from pose3d_ros.commands.run_node import node_command

    logs = {n: open(workdir / f"{name}_{n}.log", "w") for n in ("driver", "node")}  # noqa: SIM115
    node_params = {"process_mode": "always", "publish_debug_image": False,
                   **({"pipeline_config": PIPELINE_CONFIG} if PIPELINE_CONFIG else {})}
    procs = {
        "driver": subprocess.Popen(node_command("driver", params={"backend": "playback", "path": path, "rate": rate}),
                                   env=env, stdout=logs["driver"], stderr=subprocess.STDOUT),
        "node": subprocess.Popen(node_command("node", params=node_params),
                                 env=env, stdout=logs["node"], stderr=subprocess.STDOUT),
    }
    node = rclpy.create_node(f"bench_{name}", namespace="camera")
    recv: list[tuple[float, float, int]] = []
    node.create_subscription(Skeleton3DArray, "skeletons",
                             lambda m: recv.append((time.time(), stamp_to_sec(m.header.stamp), len(m.skeletons))), 50)
    samples: list[tuple[float, dict]] = []
    t_start = time.monotonic()
    deadline_first = t_start + 120
    while not recv and time.monotonic() < deadline_first:  # start-up (model load, discovery) not measured
        rclpy.spin_once(node, timeout_sec=0.1)
        if any(p.poll() is not None for p in procs.values()):
            break
    t0 = time.monotonic()
    n0 = len(recv)
    next_sample = t0
    while time.monotonic() - t0 < seconds and all(p.poll() is None for p in procs.values()):
        rclpy.spin_once(node, timeout_sec=0.05)
        if time.monotonic() >= next_sample:
            samples.append((time.monotonic() - t0, {n: proc_stats(p.pid) for n, p in procs.items()}))
            next_sample += max(1.0, seconds / 200)
    t1 = time.monotonic()
    for p in procs.values():
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
    for p in procs.values():
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
    node.destroy_node()
    for fh in logs.values():
        fh.close()
    got = recv[n0:]
    if len(got) < 2 or len(samples) < 2:
        return {"scene": name, "error": f"only {len(got)} skeleton arrays (see {workdir}/{name}_*.log)"}
    lat = np.array([r - s for r, s, _ in got]) * 1e3
    people = np.array([p for _, _, p in got])
    dt = samples[-1][0] - samples[0][0]
    res = {"scene": name, "file": str(path.name), "nominal_people": SCENES[name][1], "seconds": round(t1 - t0, 1),
           "frames": len(got), "fps": round(len(got) / (t1 - t0), 2),
           "latency_median_ms": round(float(np.median(lat)), 1),
           "latency_p95_ms": round(float(np.percentile(lat, 95)), 1),
           "people_median": float(np.median(people)), "people_max": int(people.max())}
    for n in procs:
        cpu = (samples[-1][1][n][0] - samples[0][1][n][0]) / dt * 100
        rss = np.array([s[1][n][1] for s in samples])
        ts = np.array([s[0] for s in samples])
        warm = ts >= 0.2 * ts[-1]
        slope = float(np.polyfit(ts[warm] / 60.0, rss[warm], 1)[0]) if warm.sum() >= 3 else float("nan")
        res[f"{n}_cpu_pct"] = round(cpu, 1)
        res[f"{n}_rss_mib_start"] = round(float(rss[0]), 1)
        res[f"{n}_rss_mib_end"] = round(float(rss[-1]), 1)
        res[f"{n}_rss_slope_mib_per_min"] = round(slope, 3)
    return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenes", nargs="+", default=["one", "three"], choices=sorted(SCENES))
    ap.add_argument("--seconds", type=float, default=30.0, help="measured time per scene")
    ap.add_argument("--minutes", type=float, default=0.0, help="measured time per scene in minutes (overrides)")
    ap.add_argument("--rate", type=float, default=30.0, help="driver frame rate (frames/s)")
    ap.add_argument("--output", type=Path, default=REPO / "out" / "bench" / "e2e.json")
    ap.add_argument("--pipeline-config", type=Path, default=None, help="YAML with a 'pipeline' section for the node")
    args = ap.parse_args()
    global PIPELINE_CONFIG
    PIPELINE_CONFIG = str(args.pipeline_config.resolve()) if args.pipeline_config else ""
    seconds = args.minutes * 60 if args.minutes else args.seconds
    sys.path.insert(0, str(REPO))
    from pose3d_ros.ros.dds import apply_dds_defaults

    env = dict(os.environ)
    env.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    env.setdefault("ROS_LOCALHOST_ONLY", "1")
    env.setdefault("ROS_DOMAIN_ID", str(60 + os.getpid() % 30))
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env = dict(apply_dds_defaults(env))
    os.environ.update({k: env[k] for k in ("ROS_AUTOMATIC_DISCOVERY_RANGE", "ROS_LOCALHOST_ONLY", "ROS_DOMAIN_ID")})
    if "FASTDDS_DEFAULT_PROFILES_FILE" in env:
        os.environ["FASTDDS_DEFAULT_PROFILES_FILE"] = env["FASTDDS_DEFAULT_PROFILES_FILE"]
    import rclpy

    import pose3d_ros.ros  # noqa: F401 - pose3d_ros.msg from the checkout

    rclpy.init()
    workdir = args.output.parent / "e2e_work"
    workdir.mkdir(parents=True, exist_ok=True)
    rows = []
    try:
        for scene in args.scenes:
            rows.append(run_scene(scene, seconds, args.rate, env, workdir))
    finally:
        rclpy.shutdown()
    cols = ["scene", "nominal_people", "people_median", "frames", "fps", "latency_median_ms", "latency_p95_ms",
            "node_cpu_pct", "driver_cpu_pct", "node_rss_mib_end", "node_rss_slope_mib_per_min"]
    print(f"\nEnd to end through DDS, 640x480, driver at {args.rate:g} fps, {seconds:.0f} s per scene, "
          f"{os.cpu_count()} CPUs\n")
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for r in rows:
        print("| " + " | ".join(str(r.get(c, r.get("error", ""))) for c in cols) + " |")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({"rate": args.rate, "seconds": seconds, "cpus": os.cpu_count(),
                                       "rows": rows}, indent=2))
    print(f"\nwrote {args.output}")
    return 0 if all("error" not in r for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
