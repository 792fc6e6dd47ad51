"""Fuzz bench against the real inference node over DDS: malformed colour / camera_info / depth sets interleaved with
valid frames, then a soak; crashes, tracebacks, recovery time, absurd outputs and memory.

    .venv/bin/python bench/fuzz_node.py                                           # the real run (lead, alone)
    .venv/bin/python bench/fuzz_node.py --sets 300 --seconds 40 --soak-minutes 0.3   # a quick check (~1.5 min)

The node (``python -m pose3d_ros.ros.pose3d_node -p process_mode:=always``, ``config/pose3d.yaml``) runs in a
subprocess with loopback-only discovery and its own ``ROS_DOMAIN_ID`` (``--domain-id``); this process publishes
with rclpy. Fuzz phase: until ``--sets`` malformed sets (default 10^4) or ``--seconds``, bursts of 1..``--burst-max``
sets of one class (``bench/fuzz_cases.py``: encodings, sizes / steps, truncated data, NaN / zero / huge / negative
depth in 16UC1 and 32FC1, big-endian lies, millimetres as metres, implausible intrinsics, distortion garbage, frame
ids, stamps...) at ``--rate`` sets/s, each burst followed by valid frames (the shipped ``basketball1.png``, Kinect v1
intrinsics, a wall at 2.6 m) every ``--valid-period`` s until a ``Skeleton3DArray`` with people comes back (the
recovery time, from the first valid frame). Consecutive sets are 0.2 s apart in stamp time (beyond the node's
synchroniser slop, so sets never mix), on a clock a day behind this one (like a replayed recording). Soak phase:
the same for ``--soak-minutes`` while the node's RSS is sampled from ``/proc/<pid>/status`` (every second is
sampled; the slope is a least-squares fit over the soak's samples after its first 20 %).

Reported: node crashes (exit before the end), tracebacks and caught internal errors ("frame failed") in the node
log, recovery time (median / p95 / max, per class, and bursts not recovered within ``--recovery-timeout``), absurd
outputs (a joint non-finite, z <= 0 or > 20 m away, or a bone outside :data:`BONE_RANGE_M`; root-relative
skeletons, published without valid intrinsics with the pelvis at the origin, are checked for finiteness and bones
only): must be 0, arrays for valid sets vs valid sets sent, RSS. Writes JSON (``--output``) and prints a markdown
table. Exit code 1 on a crash, a traceback or an absurd output.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

from pose3d_ros.core.output_guard import OutputGuard
from pose3d_ros.core.skeleton import POSE3D16, bone_lengths

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
FOOTAGE = REPO / "pose3d_ros" / "resources" / "footage" / "basketball1.png"
#: pose3d16 bones (parent, child) and the human range of each, m: adult lengths (Winter, "Biomechanics and Motor
#: Control of Human Movement", segment lengths as fractions of a 1.75 m height) x 0.4 (a 1 m child is ~0.55) to x 2.
_ADULT = {"spine": 0.25, "neck": 0.25, "head": 0.20, "shoulder": 0.18, "elbow": 0.30, "wrist": 0.26, "hip": 0.09,
          "knee": 0.43, "ankle": 0.43}
BONES = POSE3D16.bones
_CHILD_KIND = [POSE3D16.names[c].split("_")[-1] for _, c in BONES]  # a bone by its child joint, side dropped
BONE_RANGE_M = np.array([(0.4 * _ADULT[k], 2.0 * _ADULT[k]) for k in _CHILD_KIND])
MAX_RANGE_M = 20.0
STAMP_STEP_S = 0.2


def absurd_reason(joints: np.ndarray) -> str:
    """Why a published (16, 3) skeleton is absurd, or "" (checks of this bench, not the node's own guard)."""
    if not np.isfinite(joints).all():
        return "non_finite"
    root_relative = not joints[0].any()  # published without valid intrinsics: pelvis at the origin
    if not root_relative:
        if (joints[:, 2] <= 0).any():
            return "z<=0"
        if (np.linalg.norm(joints, axis=1) > MAX_RANGE_M).any():
            return f">{MAX_RANGE_M:g}m"
    lengths = bone_lengths(joints)
    if ((lengths < BONE_RANGE_M[:, 0]) | (lengths > BONE_RANGE_M[:, 1])).any():
        return "bone_length"
    return ""


#: the node's own output rule (core/output_guard.py): a published skeleton must pass it
GUARD = OutputGuard()


class Recorder:
    """What the node publishes: skeleton arrays (classified by the set they answer) and its diagnostics."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sent: dict[tuple[int, int], tuple[str, float]] = {}  # colour stamp -> (class, wall time sent)
        self.counts = collections.Counter()
        self.absurd = collections.Counter()
        self.absurd_by_class = collections.Counter()  # class of the set the absurd skeleton answered
        self.examples: list[dict] = []
        self.people_events: list[tuple[float, float]] = []  # (sent, received) of valid sets answered with people
        self.diagnostics: dict[str, str] = {}

    def on_skeletons(self, msg) -> None:
        now = time.monotonic()
        key = (msg.header.stamp.sec, msg.header.stamp.nanosec)
        with self.lock:
            kind, sent = self.sent.get(key, ("unknown", None))
            self.counts["arrays"] += 1
            self.counts["arrays_valid" if kind == "valid" else "arrays_malformed"] += 1
            for sk in msg.skeletons:
                joints = np.array([[j.position.x, j.position.y, j.position.z] for j in sk.joints], np.float64)
                self.counts["skeletons"] += 1
                reason = "joint_count" if joints.shape != (16, 3) else absurd_reason(joints)
                if joints.shape == (16, 3) and not joints[0].any():
                    self.counts["root_relative"] += 1
                if joints.shape != (16, 3) or GUARD.problem(joints, metric=bool(joints[0].any()))[0]:
                    self.counts["guard_violations"] += 1  # what the node's own output guard should have dropped
                if reason:
                    self.absurd[reason] += 1
                    self.absurd_by_class[kind] += 1
                    if len(self.examples) < 10:
                        self.examples.append({"class": kind, "reason": reason, "joints": joints.round(3).tolist()})
            if kind == "valid" and msg.skeletons and sent is not None:
                self.people_events.append((sent, now))

    def on_diagnostics(self, msg) -> None:
        for status in msg.status:
            if "pose3d" in status.name:
                with self.lock:
                    self.diagnostics = {kv.key: kv.value for kv in status.values}

    def recovered_since(self, t0: float) -> float | None:
        """Earliest reception time of an answer with people to a valid set sent at or after ``t0``."""
        with self.lock:
            times = [r for s, r in self.people_events[-50:] if s >= t0]
        return min(times) if times else None


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def scan_log(text: str) -> dict:
    """Tracebacks, caught internal errors and the most frequent warning kinds of the node log."""
    kinds = collections.Counter()
    for line in text.splitlines():
        m = re.match(r"\[(WARN|ERROR|FATAL)\] \[[\d.]+\] \[[^\]]+\]: (.*)", line)
        if m:
            kinds[f"{m.group(1)}: " + re.sub(r"\d+(\.\d+)?(e[+-]?\d+)?", "#", m.group(2))[:110]] += 1
    tb = text.find("Traceback")
    return {"tracebacks": text.count("Traceback"), "internal_errors": text.count("frame failed"),
            "first_traceback": text[tb: tb + 3000] if tb >= 0 else "",
            "log_lines_by_kind": dict(kinds.most_common(25))}


def percentiles(values: list[float]) -> dict:
    if not values:
        return {"n": 0}
    v = np.asarray(values) * 1e3
    return {"n": len(v), "median_ms": round(float(np.median(v)), 1), "p95_ms": round(float(np.percentile(v, 95)), 1),
            "max_ms": round(float(v.max()), 1)}


def ros_env(domain_id: int) -> dict[str, str]:
    from pose3d_ros.ros.dds import apply_dds_defaults

    env = dict(os.environ)
    env.update(ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST", ROS_LOCALHOST_ONLY="1", ROS_DOMAIN_ID=str(domain_id),
               PYTHONPATH=str(REPO) + os.pathsep + env.get("PYTHONPATH", ""), PYTHONUNBUFFERED="1",
               RCUTILS_LOGGING_BUFFERED_STREAM="0")
    return dict(apply_dds_defaults(env))


def _die_with_parent() -> None:
    """In the node's process before exec: SIGTERM it when this bench dies (even by SIGKILL), so none is left."""
    import ctypes

    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _interrupt(signum: int, frame) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def run(args: argparse.Namespace) -> dict:
    import rclpy  # noqa: I001 - pose3d_ros.ros first: it makes pose3d_ros.msg importable from the checkout
    import pose3d_ros.ros  # noqa: F401
    from diagnostic_msgs.msg import DiagnosticArray
    from pose3d_ros.msg import Skeleton3DArray
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import CameraInfo, Image

    from bench.fuzz_cases import CLASSES, Assets, valid_set

    env = ros_env(args.domain_id)
    os.environ.update({k: v for k, v in env.items() if k.startswith(("ROS_", "FASTDDS", "RMW"))})
    work = args.output.parent / "fuzz_work"
    work.mkdir(parents=True, exist_ok=True)
    log_path = work / "node.log"
    cmd = [sys.executable, "-m", "pose3d_ros.ros.pose3d_node", "--ros-args", "-r", "__ns:=/camera",
           "--params-file", str(REPO / "config" / "pose3d.yaml"), "-p", "process_mode:=always"]
    if args.pipeline_config:
        cmd += ["-p", f"pipeline_config:={args.pipeline_config.resolve()}"]
    log_fh = open(log_path, "w")  # noqa: SIM115 - closed below
    node_proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log_fh, stderr=subprocess.STDOUT,
                                 preexec_fn=_die_with_parent)
    rclpy.init()
    bench = rclpy.create_node("fuzz_bench", namespace="camera")
    rec = Recorder()
    pubs = {"color": bench.create_publisher(Image, "color/image_raw", qos_profile_sensor_data),
            "info": bench.create_publisher(CameraInfo, "color/camera_info", qos_profile_sensor_data),
            "depth": bench.create_publisher(Image, "depth_registered/image_raw", qos_profile_sensor_data)}
    bench.create_subscription(Skeleton3DArray, "skeletons", rec.on_skeletons, 200)
    bench.create_subscription(DiagnosticArray, "/diagnostics", rec.on_diagnostics, 10)
    executor = SingleThreadedExecutor()
    executor.add_node(bench)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    assets, rng = Assets(args.footage), np.random.default_rng(args.seed)
    clock = {"t": time.time() - 86400.0}
    phase = {"name": "startup", "t0": time.monotonic()}
    rss: list[tuple[float, float, str]] = []
    sent = collections.Counter()
    last_sets: collections.deque = collections.deque(maxlen=20)
    recovery: dict[str, list[float]] = collections.defaultdict(list)
    not_recovered = collections.Counter()
    stop = threading.Event()
    t_run = time.monotonic()

    def sample() -> None:
        while not stop.wait(1.0):
            try:
                rss.append((time.monotonic() - t_run, rss_mib(node_proc.pid), phase["name"]))
            except OSError:
                return

    def publish(s) -> None:
        clock["t"] += STAMP_STEP_S
        if s.color is not None:
            key = (s.color.header.stamp.sec, s.color.header.stamp.nanosec)
            with rec.lock:
                rec.sent[key] = (s.kind, time.monotonic())
        for name in ("info", "depth", "color"):
            msg = getattr(s, name)
            if msg is not None:
                pubs[name].publish(msg)
        sent["valid" if s.valid else "malformed"] += 1
        if not s.valid:
            sent[f"class:{s.kind}"] += 1
            last_sets.append(f"{s.kind}/{s.variant}")

    def alive() -> bool:
        return node_proc.poll() is None

    def recover(timeout: float) -> float | None:
        """Valid frames every valid_period until an answer with people; seconds from the first, or None."""
        t0 = time.monotonic()
        while alive() and time.monotonic() - t0 < timeout:
            publish(valid_set(assets, clock["t"]))
            end = time.monotonic() + args.valid_period
            while time.monotonic() < end:
                got = rec.recovered_since(t0)
                if got is not None:
                    return got - t0
                time.sleep(0.005)
        return None

    threading.Thread(target=sample, daemon=True).start()
    result: dict = {"command": " ".join([Path(sys.executable).name, *sys.argv]), "cpus": os.cpu_count(),
                    "args": {k: str(v) for k, v in vars(args).items()}}
    try:
        deadline = time.monotonic() + 120
        while alive() and time.monotonic() < deadline and min(p.get_subscription_count() for p in pubs.values()) == 0:
            time.sleep(0.1)
        startup = recover(120.0)
        result["startup_s"] = None if startup is None else round(time.monotonic() - t_run, 1)
        if startup is None:
            raise RuntimeError(f"no skeletons from the node within 120 s (see {log_path})")
        names = list(CLASSES)
        for name, budget in (("fuzz", args.seconds), ("soak", args.soak_minutes * 60.0)):
            phase.update(name=name, t0=time.monotonic())
            before = sent["malformed"]
            while alive() and time.monotonic() - phase["t0"] < budget and budget > 0:
                if name == "fuzz" and sent["malformed"] >= args.sets:
                    break
                kind = names[int(rng.integers(len(names)))]
                for _ in range(int(rng.integers(1, args.burst_max + 1))):
                    publish(CLASSES[kind](assets, rng, clock["t"]))
                    time.sleep(1.0 / args.rate)
                took = recover(args.recovery_timeout)
                if took is None and alive():
                    not_recovered[kind] += 1
                elif took is not None:
                    recovery[kind].append(took)
            result[f"{name}_seconds"] = round(time.monotonic() - phase["t0"], 1)
            result[f"{name}_malformed_sets"] = sent["malformed"] - before
    except RuntimeError as exc:
        result["error"] = str(exc)
    finally:
        time.sleep(1.0)  # answers in flight
        stop.set()
        crashed = not alive()
        rc = node_proc.returncode
        if not crashed:
            node_proc.send_signal(signal.SIGINT)
            try:
                rc = node_proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                node_proc.kill()
                rc = node_proc.wait()
        executor.shutdown()
        bench.destroy_node()
        rclpy.shutdown()
        log_fh.close()
    all_rec = [v for vs in recovery.values() for v in vs]
    soak = [(t, m) for t, m, p in rss if p == "soak" and np.isfinite(m)]
    slope = None
    if len(soak) >= 5:
        ts = np.array([t for t, _ in soak])
        keep = ts >= ts[0] + 0.2 * (ts[-1] - ts[0])
        if keep.sum() >= 3:
            slope = round(float(np.polyfit(ts[keep] / 60.0, np.array([m for _, m in soak])[keep], 1)[0]), 3)
    result.update({
        "node": {"crashed": crashed, "exit_code": rc, "last_sets_before_exit": list(last_sets) if crashed else [],
                 "log": str(log_path), **scan_log(log_path.read_text(errors="replace"))},
        "sets": {"malformed": sent["malformed"], "valid": sent["valid"],
                 "by_class": {k[6:]: v for k, v in sorted(sent.items()) if k.startswith("class:")}},
        "arrays": {"received": rec.counts["arrays"], "for_valid_sets": rec.counts["arrays_valid"],
                   "valid_sets_sent": sent["valid"], "for_malformed_sets": rec.counts["arrays_malformed"],
                   "valid_answered_with_people": len(rec.people_events)},
        "recovery": {**percentiles(all_rec), "not_recovered": sum(not_recovered.values()),
                     "by_class": {k: {**percentiles(recovery[k]), "not_recovered": not_recovered[k]}
                                  for k in sorted(set(recovery) | set(not_recovered))}},
        "absurd": {"skeletons_checked": rec.counts["skeletons"], "absurd": sum(rec.absurd.values()),
                   "by_reason": dict(rec.absurd), "by_class": dict(rec.absurd_by_class),
                   "root_relative_skeletons": rec.counts["root_relative"],
                   "node_guard_violations": rec.counts["guard_violations"],
                   "examples": rec.examples},
        "rss": {"start_mib": round(rss[0][1], 1) if rss else None, "end_mib": round(rss[-1][1], 1) if rss else None,
                "max_mib": round(max(m for _, m, _ in rss), 1) if rss else None, "soak_samples": len(soak),
                "soak_slope_mib_per_min": slope, "samples": [[round(t, 1), round(m, 1), p] for t, m, p in rss]},
        "node_diagnostics": rec.diagnostics,
    })
    return result


def table(r: dict) -> str:
    n, a, rc, ab, m = r["node"], r["arrays"], r["recovery"], r["absurd"], r["rss"]
    rows = [
        ("malformed sets sent (fuzz + soak)", f"{r['sets']['malformed']} ({len(r['sets']['by_class'])} classes)"),
        ("valid sets sent / arrays for them", f"{a['valid_sets_sent']} / {a['for_valid_sets']} "
                                              f"({a['valid_answered_with_people']} with people)"),
        ("arrays for malformed sets", a["for_malformed_sets"]),
        ("node crashes (exit before the end)", int(n["crashed"])),
        ("node exit code (SIGINT at the end)", n["exit_code"]),
        ("tracebacks in the node log", n["tracebacks"]),
        ("caught internal errors ('frame failed')", n["internal_errors"]),
        ("recovery median / p95 / max ms", f"{rc.get('median_ms')} / {rc.get('p95_ms')} / {rc.get('max_ms')}"),
        ("bursts recovered / not recovered", f"{rc['n']} / {rc['not_recovered']}"),
        ("absurd skeletons (must be 0)", f"{ab['absurd']} of {ab['skeletons_checked']} {ab['by_reason'] or ''}"),
        ("absurd skeletons by class of the set", ab["by_class"] or "-"),
        ("published skeletons breaking the node's own output guard (must be 0)", ab["node_guard_violations"]),
        ("root-relative skeletons (no valid intrinsics)", ab["root_relative_skeletons"]),
        ("node RSS start / end / max MiB", f"{m['start_mib']} / {m['end_mib']} / {m['max_mib']}"),
        ("RSS slope over the soak, MiB/min (after 20 %)", f"{m['soak_slope_mib_per_min']} ({m['soak_samples']} "
                                                          "samples)"),
    ]
    out = ["| metric | value |", "|---|---|", *(f"| {k} | {v} |" for k, v in rows)]
    out += ["", "| class | sets | recovery median / p95 / max ms | not recovered |", "|---|---|---|---|"]
    for k, v in r["recovery"]["by_class"].items():
        out.append(f"| {k} | {r['sets']['by_class'].get(k, 0)} | {v.get('median_ms')} / {v.get('p95_ms')} / "
                   f"{v.get('max_ms')} | {v['not_recovered']} |")
    return "\n".join(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", type=int, default=10_000, help="malformed sets in the fuzz phase")
    ap.add_argument("--seconds", type=float, default=1200.0, help="time limit of the fuzz phase, s")
    ap.add_argument("--soak-minutes", type=float, default=10.0, help="soak phase (same input), minutes; 0 = none")
    ap.add_argument("--rate", type=float, default=20.0, help="malformed sets per second within a burst")
    ap.add_argument("--burst-max", type=int, default=12, help="malformed sets per burst: 1..this")
    ap.add_argument("--valid-period", type=float, default=0.1, help="s between valid frames while recovering")
    ap.add_argument("--recovery-timeout", type=float, default=10.0, help="a burst not recovered after this, s")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--domain-id", type=int, default=101, help="ROS_DOMAIN_ID of the node and this bench")
    ap.add_argument("--footage", type=Path, default=FOOTAGE, help="valid frames (resized to 640x480)")
    ap.add_argument("--pipeline-config", type=Path, default=None, help="YAML with a 'pipeline' section for the node")
    ap.add_argument("--output", type=Path, default=REPO / "out" / "bench" / "fuzz.json")
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, _interrupt)  # clean up (stop the node, write nothing) like Ctrl-C
    if args.sets < 1 or args.rate <= 0 or args.burst_max < 1 or args.seconds <= 0:
        ap.error("need --sets >= 1, --rate > 0, --burst-max >= 1, --seconds > 0")
    result = run(args)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2, default=str))
    print(f"\nFuzz bench against the inference node over DDS ({result['cpus']} CPUs)\n")
    print(table(result) if "node" in result else result.get("error"))
    if result.get("error"):
        print(f"\nerror: {result['error']}")
    print(f"\nwrote {args.output}")
    bad = result["node"]["crashed"] or result["node"]["tracebacks"] or result["absurd"]["absurd"]
    return 1 if bad or result.get("error") else 0


if __name__ == "__main__":
    sys.exit(main())
