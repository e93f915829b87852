"""The reference classes' parameters for Keras 1.x/2.x layers (reference/keras_files/layers12.py
translates files into them): closed forms, and finite differences of every new backward."""
import numpy as np
import pytest

from reference import activations
from reference.advanced_activations import ELU, PReLU
from reference.convolutional import AveragePooling1D, Convolution1D, MaxPooling1D
from reference.errors import ConfigError, InputError
from reference.layers import Dense, TimeDistributedMerge
from reference.normalization import BatchNormalization

from .finite_differences import check_layer_gradients


def _built(layer, shape, dtype="float64", seed=0):
    layer.build(shape, dtype, np.random.default_rng(seed))
    return layer


def _conv(K, border_mode, s=1, d=1, flip=True, rule="theano", features=1, filters=1, W=None):
    layer = _built(Convolution1D(filters, K, border_mode=border_mode, subsample_length=s, dilation_rate=d,
                                 flip=flip, same_rule=rule), (None, features))
    if W is not None:
        layer.set_weights([np.asarray(W, float).reshape(1, 1, K, 1), np.zeros(1)])
    return layer


# -- Convolution1D ------------------------------------------------------------------------
@pytest.mark.parametrize("flip, expected", [(True, [1, 2, 3]), (False, [3, 2, 1])])
def test_a_true_convolution_flips_the_kernel_and_a_correlation_does_not(flip, expected):
    # an impulse at step 2 of 5; valid window t covers steps t..t+2 and meets it at tap 2 - t:
    # a true convolution weighs tap k by W[K-1-k] (out[t] = W[t]), a correlation by W[k]
    X = np.zeros((1, 5, 1))
    X[0, 2, 0] = 1.0
    assert _conv(3, "valid", flip=flip, W=[1, 2, 3]).forward(X)[0, :, 0].tolist() == expected


@pytest.mark.parametrize("K, L, s, rule, left, T", [
    (3, 7, 1, "theano", 1, 7), (4, 7, 1, "theano", 2, 7), (4, 7, 1, "tensorflow", 1, 7),
    (3, 7, 2, "theano", 1, 4), (3, 7, 2, "tensorflow", 1, 4), (3, 8, 2, "tensorflow", 0, 4),
    (4, 7, 3, "theano", 2, 3), (4, 7, 3, "tensorflow", 1, 3), (5, 6, 2, "theano", 2, 3),
])
def test_same_padding_rules(K, L, s, rule, left, T):
    """Theano's 'half': K//2 zeros first, ceil(L/s) windows; TensorFlow's SAME: total =
    max((ceil(L/s)-1)*s + K - L, 0), total//2 first (depends on L when s > 1)."""
    layer = _conv(K, "same", s=s, rule=rule, flip=False, W=np.eye(K)[0])  # tap 0 alone: X[t*s - left]
    X = np.arange(1.0, L + 1).reshape(1, L, 1)
    Y = layer.forward(X)[0, :, 0]
    assert len(Y) == T == layer.output_length(L)
    expected = [t * s - left + 1 if 0 <= t * s - left < L else 0 for t in range(T)]
    assert Y.tolist() == expected


def test_causal_dilated_convolution_reads_only_the_past():
    # causal: d*(K-1) zeros first; output t reads X[t], X[t-d], X[t-2d] (taps of a correlation)
    layer = _conv(3, "causal", d=2, flip=False, W=[100, 10, 1])
    X = np.arange(1.0, 8.0).reshape(1, 7, 1)
    Y = layer.forward(X)[0, :, 0]
    x = lambda i: X[0, i, 0] if i >= 0 else 0.0  # noqa: E731
    assert Y.tolist() == [100 * x(t - 4) + 10 * x(t - 2) + x(t) for t in range(7)]


def test_zero_padding_of_0_2_0_stays_refused_with_strides_and_needs_a_rule_for_dilation():
    with pytest.raises(ConfigError, match="subsample_length 1 only"):
        Convolution1D(2, 3, border_mode="same", subsample_length=2)
    with pytest.raises(ConfigError, match="dilation_rate needs a same_rule"):
        Convolution1D(2, 3, dilation_rate=2)
    with pytest.raises(ConfigError, match="border_mode"):
        Convolution1D(2, 3, border_mode="causal")


@pytest.mark.parametrize("border_mode, K, s, d, flip, rule", [
    ("same", 4, 2, 1, False, "tensorflow"), ("same", 3, 3, 1, True, "theano"), ("causal", 3, 1, 2, True, "theano"),
    ("valid", 2, 1, 3, False, "tensorflow"), ("same", 2, 1, 2, False, "tensorflow"),
])
def test_convolution_parameters_gradients(border_mode, K, s, d, flip, rule):
    layer = Convolution1D(3, K, border_mode=border_mode, subsample_length=s, dilation_rate=d, flip=flip,
                          same_rule=rule, activation="tanh")
    _built(layer, (None, 2))
    check_layer_gradients(layer, np.random.default_rng(1).normal(size=(2, 7, 2)))


# -- pooling ------------------------------------------------------------------------------
@pytest.mark.parametrize("p, s, L, rule, windows", [
    # Theano: pad p-2 (odd p > 2) or p-1 first; windows clipped to the sequence
    (2, 2, 5, "theano", [(0, 1), (1, 3), (3, 5)]),
    (3, 1, 4, "theano", [(0, 2), (0, 3), (1, 4), (2, 4)]),
    (4, 3, 7, "theano", [(0, 1), (0, 4), (3, 7)]),
    # TensorFlow: SAME
    (2, 2, 5, "tensorflow", [(0, 2), (2, 4), (4, 5)]),
    (3, 2, 6, "tensorflow", [(0, 3), (2, 5), (4, 6)]),
    (4, 3, 7, "tensorflow", [(0, 3), (2, 6), (5, 7)]),
])
def test_same_pooling_windows(p, s, L, rule, windows):
    X = np.random.default_rng(0).normal(size=(2, L, 3))
    for cls, reduce in ((MaxPooling1D, np.max), (AveragePooling1D, np.mean)):
        layer = _built(cls(p, s, border_mode="same", same_rule=rule), (None, 3))
        Y = layer.forward(X)
        expected = np.stack([reduce(X[:, a:b], axis=1) for a, b in windows], axis=1)
        np.testing.assert_allclose(Y, expected, rtol=1e-14, atol=0)


def test_average_pooling_valid_is_the_window_mean():
    X = np.random.default_rng(0).normal(size=(2, 7, 3))
    Y = _built(AveragePooling1D(3, 2), (None, 3)).forward(X)
    np.testing.assert_allclose(Y, np.stack([X[:, t:t + 3].mean(axis=1) for t in (0, 2, 4)], axis=1), rtol=1e-14)


@pytest.mark.parametrize("cls", [MaxPooling1D, AveragePooling1D])
@pytest.mark.parametrize("p, s, rule", [(3, 2, "tensorflow"), (4, 3, "theano"), (2, 1, "theano")])
def test_same_pooling_gradients(cls, p, s, rule):
    layer = _built(cls(p, s, border_mode="same", same_rule=rule), (None, 2))
    check_layer_gradients(layer, np.random.default_rng(2).normal(size=(2, 7, 2)))


# -- BatchNormalization --------------------------------------------------------------------
def test_batch_normalization_with_a_variance_along_an_axis():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2, 5, 3))
    layer = _built(BatchNormalization(epsilon=1e-3, axis=-1, variance=True), (None, 3))
    gamma, beta, mean, var = rng.normal(size=3), rng.normal(size=3), rng.normal(size=3), rng.uniform(0.5, 2, 3)
    layer.set_weights([gamma, beta, mean, var])
    np.testing.assert_allclose(layer.forward(X), gamma * (X - mean) / np.sqrt(var + 1e-3) + beta, rtol=1e-14)
    assert not layer.needs_length and layer.output_mask("m") == "m"
    # axis 1 of a (batch, time, features) input: one statistic per step
    layer = _built(BatchNormalization(epsilon=1e-3, axis=1, variance=True), (5, 3))
    w = [rng.uniform(0.5, 2, 5) for _ in range(4)]
    layer.set_weights(w)
    c = [v[None, :, None] for v in w]
    np.testing.assert_allclose(layer.forward(X), c[0] * (X - c[2]) / np.sqrt(c[3] + 1e-3) + c[1], rtol=1e-14)


def test_batch_normalization_mode_1_of_keras_1():
    X = np.random.default_rng(0).normal(size=(4, 3))
    layer = _built(BatchNormalization(epsilon=0.1, mode=1, axis=-1, variance=True), (3,))
    layer.set_weights([np.ones(3), np.zeros(3), np.zeros(3), np.ones(3)])
    m = X.mean(axis=-1, keepdims=True)
    std = np.sqrt(X.var(axis=-1, keepdims=True) + 0.1)
    np.testing.assert_allclose(layer.forward(X), (X - m) / (std + 0.1), rtol=1e-14)


@pytest.mark.parametrize("mode, axis, shape", [(0, -1, (5, 3)), (0, 1, (5, 3)), (1, -1, (5, 3)), (0, -1, (3,))])
def test_batch_normalization_parameters_gradients(mode, axis, shape):
    layer = _built(BatchNormalization(epsilon=1e-3, mode=mode, axis=axis, variance=True), shape)
    rng = np.random.default_rng(3)
    n = layer.get_weights()[0].shape
    layer.set_weights([rng.normal(size=n), rng.normal(size=n), rng.normal(size=n), rng.uniform(0.5, 2, n)])
    check_layer_gradients(layer, rng.normal(size=(2,) + shape))


def test_batch_normalization_axis_is_checked_and_training_it_refused():
    with pytest.raises(ConfigError, match="samples axis"):
        BatchNormalization(axis=0)
    with pytest.raises(ConfigError, match="not an axis"):
        _built(BatchNormalization(axis=3), (None, 3))
    layer = _built(BatchNormalization(axis=-1, variance=True), (None, 3))
    with pytest.raises(InputError, match="training"):
        layer.forward(np.ones((2, 4, 3)), train=True)


# -- Dense, global pooling, PReLU, ELU, activations -----------------------------------------
def test_dense_on_the_last_axis_acts_per_step_and_hands_the_mask_on():
    rng = np.random.default_rng(0)
    layer = _built(Dense(2, last_axis=True), (None, 3))
    W, b = rng.normal(size=(3, 2)), rng.normal(size=2)
    layer.set_weights([W, b])
    X = rng.normal(size=(2, 4, 3))
    np.testing.assert_allclose(layer.forward(X), X @ W + b, rtol=1e-14)
    assert layer.output_mask("m") == "m" and Dense(2).output_mask("m") is None
    with pytest.raises(InputError, match="TimeDistributedDense"):
        _built(Dense(2), (3,)).forward(X)
    check_layer_gradients(layer, X)


def test_global_pooling_and_the_masked_mean():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3, 4, 2))
    mask = np.array([[1, 1, 0, 0], [0, 1, 1, 1], [0, 0, 0, 0]], float)
    gmax = _built(TimeDistributedMerge("max", global_pooling=True), (None, 2))
    np.testing.assert_array_equal(gmax.forward(X), X.max(axis=1))
    with pytest.raises(InputError, match="mask"):
        gmax.forward(X, mask)
    gavg = _built(TimeDistributedMerge("ave", global_pooling=True, masked_mean=True), (None, 2))
    Y = gavg.forward(X, mask)
    np.testing.assert_allclose(Y[0], X[0, :2].mean(axis=0), rtol=1e-14)
    np.testing.assert_allclose(Y[1], X[1, 1:].mean(axis=0), rtol=1e-14)
    assert np.isnan(Y[2]).all()  # 0/0: Keras's sum(x*m)/sum(m) for a sample with every step masked
    with pytest.raises(ConfigError, match="accepted: ave, max"):
        TimeDistributedMerge("sum", global_pooling=True)
    with pytest.raises(ConfigError, match="accepted: sum, ave"):
        TimeDistributedMerge("max")
    check_layer_gradients(gmax, X)
    check_layer_gradients(gavg, X, mask[:2].repeat(1, axis=0)[[0, 1, 1]])


def test_prelu_shared_axes_broadcast_one_alpha():
    layer = _built(PReLU(shared_axes=[1]), (None, 3))
    assert layer.get_weights()[0].shape == (1, 3) and not layer.needs_length
    alphas = np.array([[0.1, 0.2, 0.3]])
    layer.set_weights([alphas])
    X = np.random.default_rng(0).normal(size=(2, 5, 3))
    np.testing.assert_allclose(layer.forward(X), np.where(X > 0, X, alphas * X), rtol=1e-14)
    check_layer_gradients(layer, X, kinks=(0.0,))
    with pytest.raises(ConfigError, match="sequence of unknown length"):
        _built(PReLU(shared_axes=[2]), (None, 3))


def test_elu_layer_and_activations():
    X = np.array([[-2.0, -1e-9, 0.5, 3.0]])
    layer = _built(ELU(alpha=0.5), (4,))
    np.testing.assert_allclose(layer.forward(X), np.where(X > 0, X, 0.5 * np.expm1(X)), rtol=1e-15)
    check_layer_gradients(layer, np.random.default_rng(0).normal(size=(3, 4)), kinks=(0.0,))
    a, s = activations.SELU_ALPHA, activations.SELU_SCALE
    for name, f in [("elu", lambda x: np.where(x > 0, x, np.expm1(x))),
                    ("selu", lambda x: s * np.where(x > 0, x, a * np.expm1(x))),
                    ("softsign", lambda x: x / (1 + np.abs(x))), ("exponential", np.exp),
                    ("swish", lambda x: x / (1 + np.exp(-x))),
                    ("mish", lambda x: x * np.tanh(np.log1p(np.exp(x))))]:
        act = activations.get(name)
        np.testing.assert_allclose(act(X), f(X), rtol=1e-15)
        x = np.random.default_rng(1).normal(size=(5,))
        x = x[np.abs(x) > 1e-3]
        numeric = (act(x + 1e-6) - act(x - 1e-6)) / 2e-6
        np.testing.assert_allclose(act.backward(x, act(x), np.ones_like(x)), numeric, rtol=1e-6)
    assert activations.get("selu")(np.float32([-1.0])).dtype == np.float32


@pytest.mark.parametrize("kwargs", [{"max_value": 0.6, "negative_slope": 0.1, "threshold": 0.05},
                                    {"max_value": 1.0}, {"negative_slope": 0.3}, {"threshold": -0.2}])
def test_relu_layer_closed_form_and_gradients(kwargs):
    from reference.advanced_activations import ReLU

    layer = _built(ReLU(**kwargs), (None, 3))
    X = np.random.default_rng(0).normal(size=(2, 5, 3))
    m, a, t = kwargs.get("max_value"), kwargs.get("negative_slope", 0.0), kwargs.get("threshold", 0.0)
    y = np.where(X > t, X, 0.0)
    if m is not None:
        y = np.clip(y, 0.0, m)
    np.testing.assert_allclose(layer.forward(X), y - a * np.maximum(t - X, 0.0), rtol=1e-15)
    check_layer_gradients(layer, X, kinks=(0.0, t) + ((m,) if m is not None else ()))


@pytest.mark.parametrize("axis", [1, -1, 2])
def test_softmax_layer_along_an_axis(axis):
    from reference.advanced_activations import Softmax

    layer = _built(Softmax(axis=axis), (4, 3))
    X = np.random.default_rng(0).normal(size=(2, 4, 3))
    e = np.exp(X)
    np.testing.assert_allclose(layer.forward(X), e / e.sum(axis=axis, keepdims=True), rtol=1e-14)
    check_layer_gradients(layer, X)
    with pytest.raises(ConfigError, match="not an axis"):
        _built(Softmax(axis=3), (4, 3))


def test_temporal_padding_cropping_and_upsampling():
    from reference.convolutional import Cropping1D, UpSampling1D, ZeroPadding1D

    X = np.random.default_rng(0).normal(size=(2, 5, 3))
    pad = _built(ZeroPadding1D(2, 1), (None, 3))
    np.testing.assert_array_equal(pad.forward(X), np.concatenate([np.zeros((2, 2, 3)), X, np.zeros((2, 1, 3))], 1))
    crop = _built(Cropping1D(1, 2), (None, 3))
    np.testing.assert_array_equal(crop.forward(X), X[:, 1:3])
    assert _built(Cropping1D(2, 0), (None, 3)).forward(X).shape == (2, 3, 3)
    with pytest.raises(InputError, match="cannot crop"):
        crop.forward(X[:, :3])
    up = _built(UpSampling1D(2), (None, 3))
    np.testing.assert_array_equal(up.forward(X)[:, ::2], X)
    np.testing.assert_array_equal(up.forward(X)[:, 1::2], X)
    assert (pad.output_length(5), crop.output_length(5), up.output_length(5)) == (8, 2, 10)
    for layer in (pad, crop, up):
        check_layer_gradients(layer, X)
