"""Convolution1D and MaxPooling1D (reference/convolutional.py): Keras 0.2.0's own
predictions and files (tests/fixtures/keras02), closed forms (np.convolve, window
maxima written out), finite differences, and one-sentence refusals."""
import json

import numpy as np
import pytest

import reference as R
from reference import build
from reference.keras_files import KerasFileError
from reference.errors import ConfigError, InputError

from . import keras02
from .finite_differences import check_layer_gradients
from .helpers import record

CONV_FIXTURES = ["conv_valid_pool_lstm", "conv_same_pool_gru", "conv_full_sub2_rnn", "conv_valid_sub2_jzs1"]


@pytest.mark.parametrize("name", CONV_FIXTURES)
def test_conv_models_reproduce_keras(name):
    record(f"keras02 {name}", keras02.check_prediction(name))


@pytest.mark.parametrize("name", CONV_FIXTURES)
def test_conv_configs_are_written_back_as_keras_wrote_them(name, tmp_path):
    keras02.check_written_back(name, keras02.load(name), tmp_path)  # the pooling's empty HDF5 group too


def _conv_model(border_mode, K, s=1, d=3, f=2, activation="linear", dtype="float64"):
    model = R.Sequential(dtype=dtype, seed=3)
    model.add(R.Convolution1D(f, K, border_mode=border_mode, subsample_length=s, activation=activation,
                              input_shape=(None, d)))
    rng = np.random.default_rng(K * 10 + s)
    model.set_weights([rng.normal(size=(f, d, K, 1)), rng.normal(size=(f,))])
    return model


@pytest.mark.parametrize("border_mode,K,s", [("valid", 3, 1), ("valid", 2, 2), ("same", 4, 1), ("same", 3, 1),
                                             ("full", 3, 2), ("full", 1, 3)])
def test_convolution_is_a_true_convolution(border_mode, K, s):
    """Closed form: numpy's np.convolve (which flips the kernel) per input and output
    channel; 'same' is 'full' cropped from (K-1)//2; subsampling keeps steps 0, s, ..."""
    model = _conv_model(border_mode, K, s)
    W, b = model.get_weights()
    X = np.random.default_rng(1).normal(size=(2, 7, 3))
    L = X.shape[1]
    expected = np.zeros((2, L + K - 1, 2))
    for n in range(2):
        for f in range(2):
            for c in range(3):
                expected[n, :, f] += np.convolve(X[n, :, c], W[f, c, :, 0], mode="full")
    start = {"valid": K - 1, "full": 0, "same": (K - 1) // 2}[border_mode]
    length = {"valid": L - K + 1, "full": L + K - 1, "same": L}[border_mode]
    expected = expected[:, start:start + length][:, ::s] + b
    got = model.predict(X)
    assert got.shape == expected.shape == (2, model.output_shape[0] or got.shape[1], 2)
    np.testing.assert_allclose(got, expected, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("pool,stride,ignore_border,L", [(2, None, True, 7), (3, 1, True, 6), (2, 3, True, 8),
                                                         (3, 2, False, 6), (2, 3, False, 6), (4, 2, False, 3)])
def test_max_pooling_windows(pool, stride, ignore_border, L):
    """Closed form: windows start at 0, stride, ...; ignore_border=False keeps Theano's
    partial last windows (count (L-1)//st + 1 if st >= p else max(0, (L-1-p)//st + 1) + 1)."""
    layer = R.MaxPooling1D(pool, stride, ignore_border)
    model = R.Sequential([layer], dtype="float64")
    X = np.random.default_rng(2).normal(size=(2, L, 3))
    st = stride or pool
    if ignore_border:
        starts = range(0, L - pool + 1, st)
    else:
        count = (L - 1) // st + 1 if st >= pool else max(0, (L - 1 - pool) // st + 1) + 1
        starts = [i * st for i in range(count)]
    expected = np.stack([X[:, i:i + pool].max(axis=1) for i in starts], axis=1)
    np.testing.assert_array_equal(model.predict(X), expected)
    assert layer.get_config() == {"name": "MaxPooling1D", "stride": st, "pool_length": pool,
                                  "ignore_border": ignore_border}


@pytest.mark.parametrize("border_mode,K,s,activation", [("valid", 3, 1, "tanh"), ("same", 4, 1, "linear"),
                                                        ("full", 3, 2, "sigmoid"), ("valid", 2, 3, "linear")])
def test_convolution_gradients_match_finite_differences(border_mode, K, s, activation):
    layer = _conv_model(border_mode, K, s, activation=activation).layers[0]
    check_layer_gradients(layer, np.random.default_rng(7).normal(size=(2, 8, 3)))  # W, b and the input


@pytest.mark.parametrize("pool,stride,ignore_border", [(2, None, True), (3, 1, True), (3, 2, False), (2, 3, False)])
def test_max_pooling_gradient_goes_to_the_window_maxima(pool, stride, ignore_border):
    layer = R.Sequential([R.MaxPooling1D(pool, stride, ignore_border, input_shape=(None, 3))], dtype="float64").layers[0]
    check_layer_gradients(layer, np.random.default_rng(8).normal(size=(2, 9, 3)))
    # ties (Theano's max gradient): every element equal to the window's max gets it
    layer = R.MaxPooling1D(2)
    R.Sequential([layer], dtype="float64").forward(np.array([[[1.0], [1.0], [0.0], [2.0]]]))
    dX, _ = layer.backward(np.array([[[1.0], [1.0]]]))
    np.testing.assert_array_equal(dX[0, :, 0], [1.0, 1.0, 0.0, 1.0])


def test_convolution_weights_and_config_as_keras():
    layer = R.Convolution1D(4, 3, input_dim=3, input_length=7, W_regularizer="l2", W_constraint="maxnorm")
    model = R.Sequential([layer], dtype="float64", seed=0)
    W, b = model.get_weights()
    assert W.shape == (4, 3, 3, 1) and b.shape == (4,) and not b.any()
    assert 0.049 < np.max(np.abs(W)) <= 0.05  # init 'uniform' (scale 0.05)
    assert model.output_shape == (5, 4)
    config = model.get_config()["layers"][0]
    assert config == {"name": "Convolution1D", "nb_filter": 4, "filter_length": 3, "init": "uniform",
                      "activation": "linear", "border_mode": "valid", "subsample_length": 1,
                      "W_regularizer": {"name": "WeightRegularizer", "l1": 0.0, "l2": 0.01}, "b_regularizer": None,
                      "activity_regularizer": None, "W_constraint": {"name": "MaxNorm", "m": 2},
                      "b_constraint": None, "input_dim": 3, "input_length": 7, "input_shape": (7, 3)}


def test_bad_convolutions_and_poolings_get_one_sentence(tmp_path):
    with pytest.raises(ConfigError, match="Convolution1D: unknown border_mode 'causal'; accepted: valid, same, full"):
        R.Convolution1D(2, 3, border_mode="causal")
    with pytest.raises(ConfigError, match="'same' takes subsample_length 1 only"):
        R.Convolution1D(2, 3, border_mode="same", subsample_length=2)
    with pytest.raises(ConfigError, match="pool_length 5 is longer than the sequence \\(4 steps\\)"):
        R.Sequential([R.Convolution1D(2, 2, input_shape=(5, 3)), R.MaxPooling1D(5)])
    with pytest.raises(ConfigError, match="shorter than the filter_length 4"):
        R.Sequential([R.Convolution1D(2, 4, input_shape=(3, 3))])
    with pytest.raises(ConfigError, match=r"MaxPooling1D takes \(time, features\) per sample, got per-sample "
                                          r"shape \(4,\)"):  # once an IndexError from its output_shape
        R.Sequential([R.MaxPooling1D(2, input_shape=(4,))])
    model = R.Sequential([R.Convolution1D(2, 3, input_shape=(None, 3)), R.MaxPooling1D(3)])
    with pytest.raises(InputError, match="pool_length 3 is longer than the sequence \\(2 steps\\)"):
        model.predict(np.zeros((1, 4, 3)))
    with pytest.raises(InputError, match="a sequence of 2 steps is shorter than the filter_length 3"):
        model.predict(np.zeros((1, 2, 3)))
    masked = R.Sequential([R.Embedding(5, 3, mask_zero=True), R.Convolution1D(2, 2)])
    with pytest.raises(InputError, match="Convolution1D cannot follow a layer with a mask"):
        masked.predict(np.array([[1, 2, 0]]))
    # from a file: the layer named, nothing built
    config = {"name": "Sequential", "layers": [
        {"name": "Convolution1D", "input_shape": [7, 3], "nb_filter": 2, "filter_length": 3, "border_mode": "causal"}]}
    with pytest.raises(KerasFileError, match=r"layer 0 \(Convolution1D\).*unknown border_mode"):
        build.model_from_json(json.dumps(config), keras_version="0.2.0")
