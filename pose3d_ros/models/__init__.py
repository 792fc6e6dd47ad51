"""2D pose networks: model registry (shipped ONNX files + configs), OpenPose decoding, the 3D-prior CPM stages."""
