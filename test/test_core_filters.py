"""Tests for pose3d_ros.core.filters.OneEuroFilter."""

import numpy as np
import pytest
from numpy.testing import assert_allclose

from pose3d_ros.core.filters import OneEuroFilter, smoothing_factor


def test_first_sample_passes_through():
    x = np.arange(6.0).reshape(2, 3)
    assert_allclose(OneEuroFilter()(x, 0.0), x)


def test_worked_example_alpha_with_beta_zero():
    f = OneEuroFilter(min_cutoff=1.0, beta=0.0)
    f(np.array([0.0]), 0.0)
    alpha = 1.0 / (1.0 + (1.0 / (2 * np.pi)) / 0.1)
    assert_allclose(f(np.array([1.0]), 0.1), [alpha])
    assert_allclose(smoothing_factor(0.1, 1.0), alpha)


def test_irregular_dt_uses_actual_step():
    a, b = OneEuroFilter(), OneEuroFilter()
    a(np.zeros(1), 0.0)
    b(np.zeros(1), 0.0)
    # A longer gap lets the output move further towards the new sample.
    assert a(np.ones(1), 0.02)[0] < b(np.ones(1), 0.2)[0]


def test_constant_signal_is_unchanged():
    f = OneEuroFilter(min_cutoff=0.5, beta=1.0)
    for k in range(20):
        out = f(np.full((16, 3), 2.5), k / 30)
    assert_allclose(out, 2.5)


def test_reduces_jitter_of_static_signal():
    rng = np.random.default_rng(0)
    f = OneEuroFilter(min_cutoff=1.0, beta=0.0)
    raw = 1.0 + rng.normal(0, 0.01, size=(300, 16, 3))
    out = np.stack([f(raw[k], k / 30) for k in range(300)])
    assert out[50:].std() < 0.4 * raw[50:].std()


def test_beta_reduces_lag_on_fast_motion():
    ramp = np.arange(60) / 30.0 * 2.0  # 2 units/s
    errs = []
    for beta in (0.0, 2.0):
        f = OneEuroFilter(min_cutoff=1.0, beta=beta)
        out = np.array([f(np.array([v]), k / 30)[0] for k, v in enumerate(ramp)])
        errs.append(np.abs(out[-10:] - ramp[-10:]).mean())
    assert errs[1] < 0.5 * errs[0]


def test_nan_elements_are_skipped_and_keep_state():
    f = OneEuroFilter(min_cutoff=1.0)
    f(np.array([0.0, 0.0]), 0.0)
    out = f(np.array([np.nan, 1.0]), 0.1)
    assert np.isnan(out[0]) and 0 < out[1] < 1
    assert f.value[0] == 0.0
    out = f(np.array([1.0, 1.0]), 0.2)
    assert 0 < out[0] < 1  # filtered from the kept state, not restarted


def test_stale_element_restarts():
    f = OneEuroFilter(min_cutoff=1.0, reset_after_s=0.5)
    f(np.array([0.0]), 0.0)
    f(np.array([np.nan]), 0.1)
    assert_allclose(f(np.array([5.0]), 1.0), [5.0])


def test_repeated_stamp_returns_previous_and_backwards_resets():
    f = OneEuroFilter()
    f(np.array([0.0]), 0.0)
    first = f(np.array([1.0]), 0.1)
    assert_allclose(f(np.array([9.0]), 0.1), first)
    assert_allclose(f(np.array([7.0]), 0.05), [7.0])


def test_shape_change_resets():
    f = OneEuroFilter()
    f(np.zeros(3), 0.0)
    assert_allclose(f(np.ones(4), 0.1), np.ones(4))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"min_cutoff": 0.0}, "min_cutoff"), ({"beta": -1.0}, "beta"), ({"d_cutoff": np.nan}, "d_cutoff")],
)
def test_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        OneEuroFilter(**kwargs)


def test_bad_stamp():
    with pytest.raises(ValueError, match="stamp"):
        OneEuroFilter()(np.zeros(2), np.nan)
