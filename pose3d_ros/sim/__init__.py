"""Simulators for tests, benchmarks and training data: a Kinect v1 depth renderer (:mod:`.kinect_depth`),
synthetic gesture sequences (:mod:`.gestures`) and a synthetic RGB-D camera (:mod:`.synthetic_source`).

Nothing at run time imports this package except the driver's ``synthetic`` backend, which exists for tests.
"""
