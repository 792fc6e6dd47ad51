"""The inference node refuses a corrupt prior or a 2D model that does not match its config at start-up (issue 14
§3): exit code 2, one ``cannot start:`` line naming the problem, no traceback. Real node process over DDS
(loopback only, its own ROS_DOMAIN_ID: the ``procs`` fixture)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import wait_for

from pose3d_ros.core.prior import default_prior_path
from pose3d_ros.models.registry import get_model_config

pytestmark = pytest.mark.ros


def _prior(dst: Path, **changes: np.ndarray) -> Path:
    with np.load(default_prior_path()) as data:
        arrays = {k: data[k] for k in data.files}
    arrays.update(changes)
    np.savez(dst, **arrays)
    return dst


def _zero_bone(dst: Path) -> Path:
    with np.load(default_prior_path()) as data:
        bones = data["bone_lengths"].copy()
    bones[6] = 0.0
    return _prior(dst, bone_lengths=bones)


def _wrong_model() -> dict:
    shipped = get_model_config("openpose_mobilenet_thin_s2")
    return {"name": "wrong_channels", "path": str(shipped.path), "family": "openpose", "layout": "openpose18",
            "heatmap_channels": 18, "paf_channels": 38}


CASES = {
    "zero_weights": (lambda d: {"prior_path": str(_prior(d / "p.npz", weights=np.zeros(24)))},
                     "PriorFileError: {dir}/p.npz: mixture weights are all zero"),
    "mean_17_joints": (lambda d: {"prior_path": str(_prior(d / "p.npz", means=np.zeros((24, 17, 3))))},
                       "means have 17 joints but layout 'pose3d16' has 16"),
    "zero_bone": (lambda d: {"prior_path": str(_zero_bone(d / "p.npz"))},
                  "mean bone lengths must be finite and > 0 m"),
    "wrong_model_channels": (lambda d: {"model": _wrong_model()},
                             "ModelConfigError: model 'wrong_channels' output 'heatmaps' has shape (1, 19, 24, 32); "
                             "the config expects (N, 18, H, W)"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_node_refuses_a_corrupt_prior_or_mismatched_model(procs, tmp_path, case):
    make, message = CASES[case]
    cfg = tmp_path / "pipeline.yaml"
    cfg.write_text(yaml.safe_dump({"pipeline": {**make(tmp_path), "tracking": False, "actions": False}}))
    node = procs.start(["-m", "pose3d_ros.ros.pose3d_node", "--ros-args", "-p", f"pipeline_config:={cfg}",
                        "-p", "process_mode:=always"], "node")
    wait_for(lambda: node.poll() is not None, 90, "the node to refuse its configuration")
    out = procs.output("node")
    assert node.returncode == 2, out
    assert "cannot start: " in out and message.format(dir=tmp_path) in out, out
    assert "Traceback" not in out, out
