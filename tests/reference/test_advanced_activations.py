"""LeakyReLU, PReLU, ParametricSoftplus, ThresholdedLinear, ThresholdedReLU
(reference/advanced_activations.py): 0.2.0's arguments, configs and weights, closed
forms, gradients by finite differences (inputs kept off the kinks), masks handed on,
and bad input in one sentence."""
import numpy as np
import pytest

import reference as r
from reference.errors import ConfigError, InputError

from .finite_differences import check_layer_gradients


def built(layer, shape):
    layer.build(shape, "float64", np.random.default_rng(0))
    return layer


def inputs(shape, away_from=(), seed=0):
    """Normal inputs at least 0.01 from every kink."""
    X = np.random.default_rng(seed).normal(size=shape)
    for kink in away_from:
        near = np.abs(X - kink) < 0.01
        X[near] = kink + 0.05
    return X


CONFIGS = [
    (r.LeakyReLU(), {"name": "LeakyReLU", "alpha": 0.3}),
    (r.PReLU(), {"name": "PReLU", "init": "zero"}),
    (r.ParametricSoftplus(), {"name": "ParametricSoftplus", "alpha_init": 0.2, "beta_init": 5.0}),
    (r.ThresholdedLinear(), {"name": "ThresholdedLinear", "theta": 1.0}),
    (r.ThresholdedReLU(), {"name": "ThresholdedReLU", "theta": 1.0}),
]


@pytest.mark.parametrize("layer, config", CONFIGS, ids=[c["name"] for _, c in CONFIGS])
def test_defaults_configs_and_masks(layer, config):
    assert layer.get_config() == config
    mask = np.ones((2, 5))
    assert layer.output_mask(mask) is mask  # MaskedLayers in 0.2.0: the mask passes, unapplied


def test_leaky_relu():
    layer = built(r.LeakyReLU(alpha=0.2), (None, 3))
    X = inputs((2, 5, 3), away_from=(0.0,))
    assert np.max(np.abs(layer.forward(X) - np.where(X > 0, X, 0.2 * X))) < 1e-15
    check_layer_gradients(layer, X, kinks=(0.0,))
    assert layer.forward(np.zeros((1, 1, 3))).tolist() == [[[0.0] * 3]]
    layer.forward(np.zeros((1, 1, 1)))
    assert layer.backward(np.ones((1, 1, 1)))[0].item() == 0.5 * (1 + 0.2)  # Theano's slope at 0


def test_prelu():
    layer = built(r.PReLU(), (5, 3))
    assert layer.weight_names == ["alphas"] and layer.get_weights()[0].shape == (5, 3)
    assert not layer.get_weights()[0].any()  # init 'zero': relu at first
    alphas = np.random.default_rng(1).normal(size=(5, 3))
    layer.set_weights([alphas])
    X = inputs((2, 5, 3), away_from=(0.0,))
    assert np.max(np.abs(layer.forward(X) - np.where(X > 0, X, alphas * X))) < 1e-15
    check_layer_gradients(layer, X, kinks=(0.0,))
    assert built(r.PReLU(init="one"), (4,)).get_weights()[0].tolist() == [1.0] * 4


def test_parametric_softplus():
    layer = built(r.ParametricSoftplus(alpha_init=0.3, beta_init=2.0), (5, 3))
    alphas, betas = layer.get_weights()
    assert layer.weight_names == ["alphas", "betas"] and alphas.shape == betas.shape == (5, 3)
    assert np.all(alphas == 0.3) and np.all(betas == 2.0)
    rng = np.random.default_rng(1)
    alphas, betas = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    layer.set_weights([alphas, betas])
    X = inputs((2, 5, 3))
    assert np.max(np.abs(layer.forward(X) - alphas * np.log1p(np.exp(betas * X)))) < 1e-14
    check_layer_gradients(layer, X)


def test_thresholded_linear_and_relu():
    linear, relu = built(r.ThresholdedLinear(theta=0.5), (None, 3)), built(r.ThresholdedReLU(theta=0.5), (None, 3))
    X = inputs((2, 5, 3), away_from=(-0.5, 0.5))
    assert np.array_equal(linear.forward(X), np.where(np.abs(X) < 0.5, 0.0, X))
    assert np.array_equal(relu.forward(X), np.where(X > 0.5, X, 0.0))
    check_layer_gradients(linear, X, kinks=(-0.5, 0.5))
    check_layer_gradients(relu, X, kinks=(0.5,))
    edge = np.array([[-0.5, 0.5]])
    assert linear.forward(edge).tolist() == [[-0.5, 0.5]] and relu.forward(edge).tolist() == [[0.0, 0.0]]


def test_per_sample_weights_need_a_known_length():
    for cls in (r.PReLU, r.ParametricSoftplus):
        model = r.Sequential()
        model.add(r.GRU(4, input_shape=(None, 3), return_sequences=True))
        with pytest.raises(ConfigError, match=rf"layer {cls.__name__.lower()}_1: {cls.__name__} has weights of the "
                                              r"full per-sample input shape, got \(None, 4\)"):
            model.add(cls())
        layer = built(cls(), (5, 4))
        with pytest.raises(InputError, match=r"was built for per-sample shape \(5, 4\), got \(6, 4\)"):
            layer.forward(np.ones((1, 6, 4)))


@pytest.mark.parametrize("make, message", [
    (lambda: r.LeakyReLU("0.3"), "LeakyReLU: alpha must be a number"),
    (lambda: r.ThresholdedReLU(None), "ThresholdedReLU: theta must be a number"),
    (lambda: r.ParametricSoftplus(beta_init=float("inf")), "ParametricSoftplus: beta_init must be a number"),
    (lambda: r.PReLU(init="zeros"), "unknown init 'zeros'; accepted: "),
])
def test_bad_arguments_get_one_sentence(make, message):
    with pytest.raises(ConfigError, match=message):
        make()
