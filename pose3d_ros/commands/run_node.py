"""``pose3d-ros driver | node | launch``: start the nodes without ``ros2 launch`` (pip-installed ROS 2).

Reads the same parameter files as the launch files (``--params`` -> ``--ros-args --params-file``):

    pose3d-ros driver --params config/kinect_driver.yaml --set backend=freenect
    pose3d-ros node   --params config/pose3d.yaml --namespace camera
    pose3d-ros launch --set path=recording/ --node-set use_depth=false

``launch`` starts the driver and the inference node as two processes (like ``pose3d.launch.py``), forwards
Ctrl-C to both and returns the first non-zero exit code. Extra ROS arguments go after ``--ros-args``.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

NODES = {
    "driver": ("pose3d_ros.ros.kinect_driver_node", "kinect_driver.yaml"),
    "node": ("pose3d_ros.ros.pose3d_node", "pose3d.yaml"),
}


def config_path(name: str) -> Path | None:
    """``config/<name>`` of the installed package (``<prefix>/share/pose3d_ros``), else of the source checkout."""
    candidates = []
    for prefix in [os.environ.get("VIRTUAL_ENV", ""), sys.prefix,
                   *os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep)]:
        if prefix:
            candidates.append(Path(prefix) / "share" / "pose3d_ros" / "config" / name)
    candidates.append(Path(__file__).resolve().parents[2] / "config" / name)
    return next((c for c in candidates if c.is_file()), None)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--params", type=Path, default=None,
                        help="parameter YAML of the node (default: the package's config/<node>.yaml); for 'launch' "
                             "this is the driver's file")
    parser.add_argument("--node-params", type=Path, default=None,
                        help="launch only: parameter YAML of the inference node (default config/pose3d.yaml)")
    parser.add_argument("--namespace", default="camera", help="namespace of the topics (default: camera)")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="override one parameter (driver for 'launch'); repeatable")
    parser.add_argument("--node-set", action="append", default=[], metavar="NAME=VALUE",
                        help="launch only: override one inference-node parameter; repeatable")
    parser.add_argument("--ros-args", dest="ros_args", nargs=argparse.REMAINDER, default=[],
                        help="further ROS arguments passed to the node(s)")


def ros_args_for(which: str, params: Path | None, namespace: str, sets: list[str], extra: list[str]) -> list[str]:
    """``--ros-args ...`` for node ``which`` ('driver' or 'node').

    Raises
    ------
    ValueError
        A ``--set`` without ``=``, or a parameter file that does not exist.
    """
    params = params or config_path(NODES[which][1])
    args = ["--ros-args"]
    if params is not None:
        if not Path(params).is_file():
            raise ValueError(f"parameter file {str(params)!r} does not exist")
        _check_params_file(Path(params))
        args += ["--params-file", str(params)]
    if namespace:
        args += ["-r", f"__ns:=/{namespace.strip('/')}"]
    for s in sets:
        if "=" not in s:
            raise ValueError(f"--set expects NAME=VALUE (or NAME:=VALUE), got {s!r}")
        k, v = s.split(":=", 1) if ":=" in s else s.split("=", 1)
        if not k.strip():
            raise ValueError(f"--set expects NAME=VALUE, got {s!r}")
        args += ["-p", f"{k.strip()}:={v}"]
    return args + list(extra)


def node_command(which: str, namespace: str = "camera", params: dict | None = None,
                 params_file: Path | None = None) -> list[str]:
    """The command line that starts node ``which`` ('driver' or 'node') in its own process: the one way the CLI,
    the demo and the benchmarks start the nodes (the launch files are the ``ros2 launch`` equivalent)."""
    args = [sys.executable, "-m", NODES[which][0], "--ros-args"]
    if params_file is not None:
        args += ["--params-file", str(params_file)]
    if namespace:
        args += ["-r", f"__ns:=/{namespace.strip('/')}"]
    for k, v in (params or {}).items():
        value = ("true" if v else "false") if isinstance(v, bool) else str(v)
        args += ["-p", f"{k}:={value}"]
    return args


def _check_params_file(path: Path) -> None:
    """A ROS parameter file must be YAML mapping node names to ``ros__parameters``; say so before ROS does."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ValueError(f"parameter file {str(path)!r} is not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict) or not all(isinstance(v, dict) and "ros__parameters" in v for v in data.values()):
        raise ValueError(f"parameter file {str(path)!r} must map node names to 'ros__parameters' mappings")


def _run_one(which: str, args: argparse.Namespace) -> int:
    import importlib

    ros = ros_args_for(which, args.params, args.namespace, args.set, args.ros_args)
    mod = importlib.import_module(NODES[which][0])
    return int(mod.main([f"pose3d-ros-{which}", *ros]) or 0)


def _launch(args: argparse.Namespace) -> int:
    """Both nodes as managed processes (``autostart:=false``), brought up configure -> activate, driver first."""
    managed = ["-p", "autostart:=false"]
    cmds = {
        "driver": ros_args_for("driver", args.params, args.namespace, args.set, [*args.ros_args, *managed]),
        "node": ros_args_for("node", args.node_params, args.namespace, args.node_set, [*args.ros_args, *managed]),
    }
    procs = {w: subprocess.Popen([sys.executable, "-m", NODES[w][0], *a]) for w, a in cmds.items()}

    def forward(signum: int, _frame: object) -> None:
        for p in procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGINT)

    old = signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)
    rc = 0
    try:
        ok, why = _bring_up(args.namespace, lambda: all(p.poll() is None for p in procs.values()))
        if not ok:
            print(f"pose3d-ros launch: {why}", file=sys.stderr)
            rc = 2
        while rc == 0 and all(p.poll() is None for p in procs.values()):
            time.sleep(0.2)
        for w, p in procs.items():  # one ended: stop the other (like launch's on_exit shutdown)
            if p.poll() is not None and p.returncode not in (0, -signal.SIGINT):
                print(f"pose3d-ros launch: {w} exited with {p.returncode}", file=sys.stderr)
                rc = rc or p.returncode
        forward(signal.SIGINT, None)
        for p in procs.values():
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
    except KeyboardInterrupt:  # Ctrl-C during bring-up
        forward(signal.SIGINT, None)
    finally:
        signal.signal(signal.SIGINT, old)
    return rc


def _bring_up(namespace: str, alive) -> tuple[bool, str]:
    import rclpy

    from pose3d_ros.ros.dds import apply_dds_defaults
    from pose3d_ros.ros.lifecycle_manager import bring_up

    apply_dds_defaults()
    ns = "/" + namespace.strip("/") if namespace.strip("/") else ""
    rclpy.init(args=[])
    try:
        return bring_up([f"{ns}/kinect_driver", f"{ns}/pose3d_node"], alive=alive)
    finally:
        rclpy.shutdown()


def run(args: argparse.Namespace) -> int:
    which = args.command
    try:
        if which == "launch":
            return _launch(args)
        return _run_one(which, args)
    except ValueError as exc:
        print(f"pose3d-ros {which}: {exc}", file=sys.stderr)
        return 2
