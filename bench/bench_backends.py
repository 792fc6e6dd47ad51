"""Benchmark the ONNX Runtime backend: intra-op threads x graph optimisation level, ms per inference.

Runs on the default 2D model shipped in ``pose3d_ros/resources/models/`` at its configured input size (or
``--model`` / ``--hw``); with ``--synthetic`` (or when no model ships) on a CPM-like convolution stack built here
with the ``onnx`` helper API. Each configuration gets its own session (setup not timed) and ``--warmup`` untimed
runs; its ``--repeats`` timed ``run()`` calls (monotonic high-resolution clock) are split over ``--rounds`` rounds
that each visit every configuration, so load from other processes spreads over all of them.
Prints a markdown table, writes JSON under ``out/bench/``.

    PYTHONPATH=. .venv/bin/python bench/bench_backends.py --repeats 50
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from pose3d_ros.inference import create_backend
from pose3d_ros.inference.onnxruntime_backend import GRAPH_OPTIMIZATION_LEVELS

RNG_SEED = 0


def shipped_default() -> tuple[Path, tuple[int, int]] | None:
    """The default 2D model (``models.json``) and its configured input ``(H, W)``, or None if none ships."""
    try:
        from pose3d_ros.models.registry import get_model_config, verify_checksum

        config = get_model_config()
        return verify_checksum(config), config.input_size
    except Exception as exc:  # no manifest / no model yet: the caller falls back to the synthetic net
        print(f"no usable shipped model ({exc})", file=sys.stderr)
        return None


def synthetic_model(path: Path, size: int = 368, width: int = 32, depth: int = 8) -> Path:
    """CPM-like fully-convolutional net: stride-8 stem, ``depth`` 3x3 convs, 1x1 heads to 19 maps + 38 PAFs."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(RNG_SEED)
    nodes, inits = [], []
    prev, channels = "image", 3

    def conv(name: str, out_c: int, k: int, stride: int, relu: bool = True) -> None:
        nonlocal prev, channels
        w = (rng.normal(size=(out_c, channels, k, k)) * np.sqrt(2.0 / (channels * k * k))).astype(np.float32)
        inits.extend([numpy_helper.from_array(w, f"{name}_w"), numpy_helper.from_array(np.zeros(out_c, np.float32),
                                                                                       f"{name}_b")])
        nodes.append(helper.make_node("Conv", [prev, f"{name}_w", f"{name}_b"], [f"{name}_c"],
                                      kernel_shape=[k, k], strides=[stride, stride], pads=[k // 2] * 4))
        out = f"{name}_c"
        if relu:
            nodes.append(helper.make_node("Relu", [out], [f"{name}_r"]))
            out = f"{name}_r"
        prev, channels = out, out_c

    for i in range(3):  # stride 8 like CPM / OpenPose backbones
        conv(f"stem{i}", width, 3, 2)
    for i in range(depth):
        conv(f"body{i}", width, 3, 1)
    trunk, trunk_c = prev, channels
    conv("heat", 19, 1, 1, relu=False)
    nodes.append(helper.make_node("Identity", [prev], ["heatmaps"]))
    prev, channels = trunk, trunk_c
    conv("paf", 38, 1, 1, relu=False)
    nodes.append(helper.make_node("Identity", [prev], ["pafs"]))
    graph = helper.make_graph(
        nodes, "synthetic_cpm",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, size, size])],
        [helper.make_tensor_value_info("heatmaps", TensorProto.FLOAT, [1, 19, size // 8, size // 8]),
         helper.make_tensor_value_info("pafs", TensorProto.FLOAT, [1, 38, size // 8, size // 8])],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def make_inputs(backend, hw: tuple[int, int], rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Seeded inputs for every model input; dynamic dimensions: batch 1, the last two ``hw``, others 1."""
    feed = {}
    for spec in backend.inputs:
        rank = len(spec.shape)
        fill = [1] * (rank - 2) + list(hw) if rank >= 2 else [1] * rank
        shape = tuple(fill[i] if d is None else d for i, d in enumerate(spec.shape))
        if np.issubdtype(spec.dtype, np.floating):
            feed[spec.name] = rng.random(shape, dtype=np.float32).astype(spec.dtype)
        else:
            feed[spec.name] = rng.integers(0, 255, size=shape).astype(spec.dtype)
    return feed


def time_configs(
    model: Path, configs: list[tuple[int, str, bool | None]], warmup: int, repeats: int, rounds: int,
    hw: tuple[int, int],
) -> list[dict]:
    """Median / p95 / min ms of one ``run`` per (threads, level, spinning) configuration.

    Each round runs every configuration in turn (its own session, ``warmup`` untimed runs, then its share of the
    ``repeats``), so a burst of load from another process on the shared cores is spread over all configurations.
    Runs of one configuration stay consecutive: interleaving single runs would let one session's spinning
    worker threads steal the core from the next session.
    """
    per_round = [repeats // rounds + (1 if r < repeats % rounds else 0) for r in range(rounds)]
    samples: list[list[float]] = [[] for _ in configs]
    round_medians: list[list[float]] = [[] for _ in configs]
    shapes: dict[str, list[int]] = {}
    rng = np.random.default_rng(RNG_SEED)
    for count in per_round:
        if count == 0:
            continue
        for j, (threads, level, spinning) in enumerate(configs):
            with create_backend(
                model, device="cpu", threads=threads, graph_optimization=level, allow_spinning=spinning
            ) as backend:
                feed = make_inputs(backend, hw, rng)
                shapes = {k: list(v.shape) for k, v in feed.items()}
                for _ in range(warmup):
                    backend.run(feed)
                times = []
                for _ in range(count):
                    start = time.perf_counter()
                    backend.run(feed)
                    times.append((time.perf_counter() - start) * 1e3)
            samples[j].extend(times)
            round_medians[j].append(float(np.median(times)))
    results = []
    for (threads, level, spinning), row, medians in zip(configs, samples, round_medians, strict=True):
        arr = np.asarray(row)
        results.append({
            "threads": threads, "graph_optimization": level,
            "spinning": {None: "default", True: "on", False: "off"}[spinning],
            "median_ms": float(np.median(arr)), "p95_ms": float(np.percentile(arr, 95)),
            "mean_ms": float(arr.mean()), "min_ms": float(arr.min()), "round_medians_ms": medians,
            "repeats": int(arr.size), "input_shapes": shapes,
        })
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None, help="ONNX model (default: the shipped 2D model)")
    parser.add_argument("--synthetic", action="store_true", help="use a synthetic CPM-like convolution net")
    parser.add_argument("--size", type=int, default=368, help="synthetic net input size (368)")
    parser.add_argument("--hw", type=int, nargs=2, default=None, metavar=("H", "W"),
                        help="input height/width for models with dynamic H/W (default: the model config's size)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="intra-op thread counts (1 2)")
    parser.add_argument("--levels", nargs="+", default=list(GRAPH_OPTIMIZATION_LEVELS),
                        choices=list(GRAPH_OPTIMIZATION_LEVELS), help="graph optimisation levels (all four)")
    parser.add_argument("--spinning", nargs="+", default=["default"], choices=["default", "on", "off"],
                        help="ONNX Runtime idle-thread spinning settings to compare (default)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed runs per configuration and round (3)")
    parser.add_argument("--repeats", type=int, default=30, help="timed runs per configuration (30)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds the repeats are split over (3)")
    parser.add_argument("--out", type=Path, default=Path("out/bench/backends.json"), help="JSON output path")
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.warmup < 0 or args.rounds < 1:
        parser.error("--repeats and --rounds must be >= 1, --warmup >= 0")

    tmp = None
    model, hw = args.model, tuple(args.hw) if args.hw else None
    if model is None and not args.synthetic:
        found = shipped_default()
        if found is not None:
            model, hw = found[0], hw or found[1]
        else:
            print("using the synthetic net", file=sys.stderr)
    if model is None:
        tmp = tempfile.TemporaryDirectory()
        model = synthetic_model(Path(tmp.name) / "synthetic_cpm.onnx", size=args.size)
    hw = hw or (args.size, args.size)
    spin = {"default": None, "on": True, "off": False}
    configs = [(t, lvl, spin[sp]) for t in args.threads for lvl in args.levels for sp in args.spinning]
    results = time_configs(model, configs, args.warmup, args.repeats, args.rounds, hw)
    label = "synthetic CPM-like net" if tmp else model.name
    load = os.getloadavg()[0]  # other processes on the same cores inflate every number: report it
    print(f"\nONNX Runtime CPU, {label}, inputs {results[0]['input_shapes']}, {os.cpu_count()} cores, "
          f"1-min load average {load:.2f} at the end\n")
    print("| threads | graph opt | spinning | median ms | p95 ms | min ms | round medians ms |")
    print("|---:|---|---|---:|---:|---:|---|")
    for r in results:
        rounds = " / ".join(f"{m:.1f}" for m in r["round_medians_ms"])
        print(f"| {r['threads']} | {r['graph_optimization']} | {r['spinning']} | {r['median_ms']:.2f} "
              f"| {r['p95_ms']:.2f} | {r['min_ms']:.2f} | {rounds} |")
    import onnxruntime

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "model": label, "onnxruntime": onnxruntime.__version__, "cpu_count": os.cpu_count(),
        "machine": platform.machine(), "processor": platform.processor(), "load_average_1min": load,
        "results": results,
    }, indent=2))
    print(f"\nwrote {args.out}")
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
