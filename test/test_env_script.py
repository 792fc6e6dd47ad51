"""The README's shell set-up: `source scripts/env.sh`, then `pose3d-ros --help` runs from PATH."""

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(not (REPO / ".venv" / "lib" / "pose3d_ros" / "pose3d-ros").exists() or not shutil.which("bash"),
                    reason="needs the colcon install of scripts/setup_env.sh")
def test_sourcing_env_puts_the_command_on_path():
    out = subprocess.run(["bash", "-c", "source scripts/env.sh >/dev/null && command -v pose3d-ros && "
                          "pose3d-ros --help"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    first, _, rest = out.stdout.partition("\n")
    assert first.endswith("lib/pose3d_ros/pose3d-ros")
    assert "usage: pose3d-ros" in rest and "estimate" in rest
