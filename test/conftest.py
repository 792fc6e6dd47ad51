"""Shared fixtures: ROS isolation (loopback-only discovery, a test-unique ROS_DOMAIN_ID), subprocess helpers.

Markers are declared once in pyproject.toml (ros, fakenect, gpu, slow).
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
_domains = itertools.count()

try:  # the ROS shell needs rclpy + the colcon-built messages; ROS-free tests run without them
    import rclpy  # noqa: F401

    import pose3d_ros.ros  # noqa: F401 - makes pose3d_ros.msg importable from the source checkout

    HAVE_ROS = True
except ImportError:  # pragma: no cover - environment without ROS
    HAVE_ROS = False


def _next_domain() -> int:
    # 1..100 (Fast DDS port arithmetic keeps these valid); pid spreads parallel pytest runs apart
    return 1 + (os.getpid() * 7 + next(_domains)) % 100


def ros_environment() -> dict[str, str]:
    """Environment for ROS subprocesses: loopback-only discovery, a fresh domain, the source tree first (skips without
    ROS); :func:`ros_env` for one test, :func:`module_procs` for a module."""
    if not HAVE_ROS:
        pytest.skip("rclpy / pose3d_ros.msg not importable: run scripts/setup_env.sh")
    env = dict(os.environ)
    env.update(
        ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST",
        ROS_LOCALHOST_ONLY="1",
        ROS_DOMAIN_ID=str(_next_domain()),
        RMW_IMPLEMENTATION=env.get("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp"),
        PYTHONPATH=str(REPO) + os.pathsep + env.get("PYTHONPATH", ""),
        PYTHONUNBUFFERED="1",
        RCUTILS_LOGGING_BUFFERED_STREAM="0",
    )
    from pose3d_ros.ros.dds import apply_dds_defaults

    return dict(apply_dds_defaults(env))


@pytest.fixture
def ros_env() -> dict[str, str]:
    """Environment for one test's ROS subprocesses (:func:`ros_environment`)."""
    return ros_environment()


class Procs:
    """Started subprocesses; all are terminated (SIGINT, then kill) at the end of the test."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.env, self.cwd = env, cwd
        self.procs: list[subprocess.Popen] = []
        self.logs: list[Path] = []

    def start(self, args: list[str], name: str) -> subprocess.Popen:
        log = self.cwd / f"{name}.log"
        fh = open(log, "w")  # noqa: SIM115 - closed with the process
        p = subprocess.Popen(
            [sys.executable, *args], cwd=self.cwd, env=self.env, stdout=fh, stderr=subprocess.STDOUT, text=True
        )
        p._log_fh = fh  # type: ignore[attr-defined]
        self.procs.append(p)
        self.logs.append(log)
        return p

    def start_piped(self, args: list[str], name: str) -> subprocess.Popen:
        """Like :meth:`start`, with stdin and stdout as line-buffered text pipes (a helper that answers commands);
        stderr goes to the log."""
        log = self.cwd / f"{name}.log"
        fh = open(log, "w")  # noqa: SIM115 - closed with the process
        p = subprocess.Popen([sys.executable, *args], cwd=self.cwd, env=self.env, stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=fh, text=True, bufsize=1)
        p._log_fh = fh  # type: ignore[attr-defined]
        self.procs.append(p)
        self.logs.append(log)
        return p

    def output(self, name: str) -> str:
        return (self.cwd / f"{name}.log").read_text(errors="replace")

    def stop_all(self) -> None:
        import signal

        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        for p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=5)
            p._log_fh.close()  # type: ignore[attr-defined]


@pytest.fixture
def procs(ros_env: dict[str, str], tmp_path: Path):
    """Start ROS helper processes in ``tmp_path`` with :func:`ros_env`; stopped after the test."""
    pr = Procs(ros_env, tmp_path)
    yield pr
    pr.stop_all()


@pytest.fixture(scope="module")
def module_procs(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest):
    """:class:`Procs` shared by the tests of one module (one node serving several phases); stopped after the module."""
    pr = Procs(ros_environment(), tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1]))
    yield pr
    pr.stop_all()


def wait_for(cond: Callable[[], bool], timeout: float, what: str, poll: float = 0.1) -> None:
    """Wait until ``cond()`` is true or fail after ``timeout`` seconds naming ``what``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(poll)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
