"""Keras 0.2.0 objectives: values against scalar re-derivations of keras/objectives.py,
gradients against finite differences, and the weighted / masked batch-loss rule."""
import math

import numpy as np
import pytest

from reference import ConfigError, losses

from .helpers import central_differences


NAMES = ["mean_squared_error", "mean_absolute_error", "mean_absolute_percentage_error",
         "mean_squared_logarithmic_error", "squared_hinge", "hinge", "categorical_crossentropy",
         "binary_crossentropy", "poisson_loss"]
EPS64 = 1e-9


def _clip(x, lo, hi):
    return min(max(x, lo), hi)


def scalar_score(name, t, p, eps=EPS64):
    """One entry's score, written out element by element from keras/objectives.py 0.2.0."""
    k = len(t)
    if name == "mean_squared_error":
        return sum((p[j] - t[j]) ** 2 for j in range(k)) / k
    if name == "mean_absolute_error":
        return sum(abs(p[j] - t[j]) for j in range(k)) / k
    if name == "mean_absolute_percentage_error":
        return sum(abs((t[j] - p[j]) / _clip(abs(t[j]), eps, math.inf)) for j in range(k)) / k * 100.0
    if name == "mean_squared_logarithmic_error":
        return sum((math.log(_clip(p[j], eps, math.inf) + 1) - math.log(_clip(t[j], eps, math.inf) + 1)) ** 2
                   for j in range(k)) / k
    if name == "squared_hinge":
        return sum(max(1 - t[j] * p[j], 0.0) ** 2 for j in range(k)) / k
    if name == "hinge":
        return sum(max(1 - t[j] * p[j], 0.0) for j in range(k)) / k
    if name == "categorical_crossentropy":
        pc = [_clip(v, eps, 1 - eps) for v in p]
        s = sum(pc)
        return -sum(t[j] * math.log(pc[j] / s) for j in range(k))
    if name == "binary_crossentropy":
        pc = [_clip(v, eps, 1 - eps) for v in p]
        return sum(-(t[j] * math.log(pc[j]) + (1 - t[j]) * math.log(1 - pc[j])) for j in range(k)) / k
    if name == "poisson_loss":
        return sum(p[j] - t[j] * math.log(p[j] + eps) for j in range(k)) / k
    raise AssertionError(name)


def sample(name, shape, rng):
    """(y_true, y_pred) in each loss's domain, away from its kinks and clip bounds."""
    if name in ("mean_squared_error",):
        return rng.normal(size=shape), rng.normal(size=shape)
    if name == "mean_absolute_error":
        t = rng.normal(size=shape)
        return t, t + rng.choice([-1, 1], size=shape) * rng.uniform(0.1, 1.0, size=shape)
    if name == "mean_absolute_percentage_error":
        t = rng.choice([-1, 1], size=shape) * rng.uniform(0.5, 2.0, size=shape)
        return t, t + rng.choice([-1, 1], size=shape) * rng.uniform(0.1, 1.0, size=shape)
    if name == "mean_squared_logarithmic_error":
        return rng.uniform(0.0, 3.0, size=shape), rng.uniform(0.1, 3.0, size=shape)
    if name in ("hinge", "squared_hinge"):
        t = rng.choice([-1.0, 1.0], size=shape)
        margin = rng.choice([-1, 1], size=shape) * rng.uniform(0.1, 1.0, size=shape)
        return t, t * (1.0 - margin)  # 1 - t*p = margin, never near 0
    if name == "categorical_crossentropy":
        t = rng.dirichlet(np.ones(shape[-1]), size=shape[:-1])  # soft targets exercise every term
        return t, rng.uniform(0.05, 0.9, size=shape)          # not normalised: renormalisation matters
    if name == "binary_crossentropy":
        return rng.uniform(0.0, 1.0, size=shape), rng.uniform(0.05, 0.95, size=shape)
    if name == "poisson_loss":
        return rng.uniform(0.0, 3.0, size=shape), rng.uniform(0.2, 3.0, size=shape)
    raise AssertionError(name)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("shape", [(4, 3), (2, 5, 3)])
def test_score_matches_keras_formula(name, shape):
    rng = np.random.default_rng(1)
    t, p = sample(name, shape, rng)
    got = losses.get(name)(t, p)
    assert got.shape == shape[:-1]
    flat_t, flat_p = t.reshape(-1, shape[-1]), p.reshape(-1, shape[-1])
    expected = np.array([scalar_score(name, list(a), list(b)) for a, b in zip(flat_t, flat_p)]).reshape(shape[:-1])
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("name", NAMES)
def test_gradient_matches_finite_differences(name):
    rng = np.random.default_rng(2)
    shape = (3, 2, 4)
    t, p = sample(name, shape, rng)
    c = rng.normal(size=shape[:-1])
    loss = losses.get(name)

    def f(q):
        return float(np.sum(c * loss(t, q)))

    analytic = c[..., None] * loss.gradient(t, p)
    numeric = central_differences(f, p)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("rule", ["keras", "corrected"])
@pytest.mark.parametrize("name", ["categorical_crossentropy", "mean_squared_error", "binary_crossentropy"])
def test_weighted_masked_loss_gradient_matches_finite_differences(name, rule):
    rng = np.random.default_rng(3)
    shape = (3, 4, 2)
    t, p = sample(name, shape, rng)
    w = rng.uniform(0.5, 2.0, size=shape[:-1])
    w[1, 2] = 0.0
    mask = np.array([[0, 1, 1, 1], [1, 1, 1, 1], [0, 0, 1, 1]], dtype=float)

    def f(q):
        return float(losses.weighted_loss(name, t, q, w, mask, rule)[0])

    _, grad = losses.weighted_loss(name, t, p, w, mask, rule)
    numeric = central_differences(f, p)
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-9)
    if rule == "corrected":  # masked entries get no gradient at all
        assert np.all(grad[mask == 0] == 0)
    else:                    # ... but they do under 0.2.0's rule
        assert np.all(np.abs(grad[mask == 0]).sum(axis=-1) > 0)


def test_masked_loss_rule_on_a_hand_made_batch():
    # 2 sequences x 3 steps, 1 output unit, mse; sequence 0 has its first step masked.
    y_true = np.array([[[0.0], [1.0], [2.0]], [[1.0], [1.0], [1.0]]])
    y_pred = np.array([[[3.0], [1.5], [2.0]], [[0.0], [2.0], [1.0]]])
    mask = np.array([[0.0, 1.0, 1.0], [1.0, 1.0, 1.0]])
    # per-entry squared errors: [[9, 0.25, 0], [1, 1, 0]]; 5 unmasked entries
    keras_value, keras_grad = losses.weighted_loss("mse", y_true, y_pred, None, mask, "keras")
    assert keras_value == pytest.approx((9 + 0.25 + 0 + 1 + 1 + 0) / 5, abs=1e-15)   # 2.25
    corrected_value, corrected_grad = losses.weighted_loss("mse", y_true, y_pred, None, mask, "corrected")
    assert corrected_value == pytest.approx((0.25 + 0 + 1 + 1 + 0) / 5, abs=1e-15)   # 0.45
    # d/dp of (p-t)^2 / 5 is 2(p-t)/5; the masked entry has it only under the keras rule
    np.testing.assert_allclose(keras_grad[..., 0], [[1.2, 0.2, 0.0], [-0.4, 0.4, 0.0]], atol=1e-15)
    np.testing.assert_allclose(corrected_grad[..., 0], [[0.0, 0.2, 0.0], [-0.4, 0.4, 0.0]], atol=1e-15)
    # with sample weights (2 for sequence 1): denominator sum(mask*w) = 2 + 2*3 = 8
    w = np.array([[1.0, 1.0, 1.0], [2.0, 2.0, 2.0]])
    value, _ = losses.weighted_loss("mse", y_true, y_pred, w, mask, "keras")
    assert value == pytest.approx((9 + 0.25 + 2 * 1 + 2 * 1) / 8, abs=1e-15)
    # without a mask the denominator is sum(w)
    value, _ = losses.weighted_loss("mse", y_true, y_pred, w, None)
    assert value == pytest.approx((9 + 0.25 + 2 * 1 + 2 * 1) / 9, abs=1e-15)


def test_zero_weight_entries_are_left_out():
    t = np.array([[1.0], [2.0]])
    p = np.array([[np.inf], [3.0]])
    value, grad = losses.weighted_loss("mse", t, p, np.array([0.0, 1.0]))
    assert value == 1.0
    np.testing.assert_array_equal(grad, [[0.0], [2.0]])


def test_categorical_crossentropy_clips_with_the_float_types_epsilon():
    t = np.array([[1.0, 0.0]])
    p = np.array([[0.0, 1.0]])
    assert losses.EPSILON[np.dtype("float32")] == 1e-7 and losses.EPSILON[np.dtype("float64")] == 1e-9
    v64 = losses.get("categorical_crossentropy")(t, p)[0]
    assert v64 == pytest.approx(-math.log(1e-9 / (1e-9 + (1 - 1e-9))), rel=1e-12)
    v32 = losses.get("categorical_crossentropy")(t.astype(np.float32), p.astype(np.float32))[0]
    lo, hi = np.float32(1e-7), np.float32(1) - np.float32(1e-7)
    assert v32.dtype == np.float32
    assert float(v32) == pytest.approx(-math.log(float(lo) / (float(lo) + float(hi))), rel=1e-6)
    # gradients vanish where the prediction was clipped (Theano's clip passes them only inside)
    assert losses.get("categorical_crossentropy").gradient(t, p)[0, 0] == 0.0


@pytest.mark.parametrize("alias,full", [
    ("mse", "mean_squared_error"), ("MSE", "mean_squared_error"),
    ("mae", "mean_absolute_error"), ("MAE", "mean_absolute_error"),
    ("mape", "mean_absolute_percentage_error"), ("MAPE", "mean_absolute_percentage_error"),
    ("msle", "mean_squared_logarithmic_error"), ("MSLE", "mean_squared_logarithmic_error"),
])
def test_short_and_full_names(alias, full):
    assert losses.get(alias) is losses.get(full)
    assert losses.get(alias).name == full


def test_every_keras_objective_name_is_accepted():
    for name in NAMES:
        assert losses.get(name).name == name


def test_unknown_loss_lists_the_accepted_names():
    with pytest.raises(ConfigError) as err:
        losses.get("cross_entropy")
    message = str(err.value)
    assert "cross_entropy" in message
    for name in NAMES + ["mse", "msle"]:
        assert name in message


def test_accuracy_rules():
    # categorical: argmax over the last axis, every entry counts
    t = np.array([[0, 1, 0], [1, 0, 0], [0, 0, 1], [0, 0, 1]])
    p = np.array([[0.1, 0.8, 0.1], [0.2, 0.7, 0.1], [0.3, 0.3, 0.4], [0.5, 0.1, 0.4]])
    assert losses.accuracy(t, p, "categorical") == 0.5
    # binary: Theano rounds 0.5 up (half away from zero)
    assert losses.accuracy(np.array([[1.0], [0.0], [1.0], [0.0]]), np.array([[0.5], [0.49], [0.2], [0.9]]), "binary") == 0.5
    with pytest.raises(ConfigError):
        losses.accuracy(t, p, "sparse")
