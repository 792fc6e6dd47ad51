"""Action and gesture recognition on tracked 3D skeletons (ROS-free).

* :mod:`.features` - window normalisation (root, body scale, heading), NaN filling, mirroring, resampling;
* :mod:`.gestures` - rule-based interaction gestures with documented thresholds (wave, raise, point + 3D ray, ...);
* :mod:`.classifier` - small temporal-conv classifier (numpy at run time and for training), versioned ``.npz``;
* :mod:`.training` - labelled sequences (DeepMimic mocap, JSONL, npz) -> augmented windows;
* :mod:`.recognizer` - per-track windows, debouncing, :class:`~.events.ActionEventData` on starts;
* :mod:`.synthetic` - generated gesture / look-alike sequences for tests and benchmarks.
"""
