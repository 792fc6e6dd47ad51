"""The README's run command: `pose3d-ros demo` plays real footage through the real nodes and leaves results."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import REPO

pytestmark = [pytest.mark.ros, pytest.mark.slow]


def test_demo_runs_the_nodes_and_writes_video_plot_and_skeletons(ros_env, tmp_path):
    if not (REPO / "pose3d_ros/resources/footage").is_dir():
        pytest.skip("embedded footage missing")
    out = tmp_path / "demo"
    res = subprocess.run([sys.executable, "-m", "pose3d_ros.cli", "demo", "--output", str(out), "--frames", "8",
                          "--timeout", "120"], env=ros_env, cwd=tmp_path, capture_output=True, text=True, timeout=200)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["frames"] >= 8 and summary["frames_with_people"] >= 1
    assert {"annotated.mp4", "skeleton3d.png", "skeletons.jsonl"} <= set(summary["outputs"])
    assert summary["annotated_frames"] >= 1 and (out / "annotated.mp4").stat().st_size > 1000
    assert "| frames |" in res.stdout  # the printed summary table
