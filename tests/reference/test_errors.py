"""Bad configurations and bad input get a clear ConfigError / InputError (or a warning),
never a NumPy traceback from deep inside; edge cases that must work do."""
import re
import warnings

import numpy as np
import pytest

import reference as R
from rnn2onnx.conformance.models import build_model

from .helpers import CELLS, cell_specs, random_weights

ACTIVATION_NAMES = ("linear", "sigmoid", "hard_sigmoid", "tanh", "relu", "softplus", "softmax")
INIT_NAMES = ("uniform", "normal", "lecun_uniform", "glorot_normal", "glorot_uniform", "he_normal",
              "he_uniform", "orthogonal", "identity", "zero", "one")


def make(cell, k, **kw):
    return getattr(R, cell)(k, **kw)


def model_of(*layers, dtype="float64"):
    """The layers as made (their own weights), one after the other."""
    return build_model(list(layers), dtype=dtype, weights=None)


# ------------------------------------------------------------------------------------
# weights
# ------------------------------------------------------------------------------------

@pytest.mark.parametrize("cell", CELLS)
def test_wrong_weight_count(cell):
    d, k = 3, 4
    specs = cell_specs(cell, d, k)
    weights = [np.zeros(s) for _, s in specs]
    with pytest.raises(R.ConfigError) as err:
        model_of(make(cell, k, input_dim=d, weights=weights[:-1]))
    msg = str(err.value)
    assert cell.lower() in msg and str(len(specs)) in msg and str(len(specs) - 1) in msg
    assert all(name in msg for name, _ in specs)
    model = model_of(make(cell, k, input_dim=d))
    with pytest.raises(R.ConfigError, match=str(len(specs))):
        model.set_weights(weights + [np.zeros(1)])


@pytest.mark.parametrize("cell", CELLS)
def test_wrong_weight_shape(cell):
    """The message names the layer, the array's position and name, expected vs given."""
    d, k = 3, 4
    specs = cell_specs(cell, d, k)
    for pos in (0, len(specs) - 1, len(specs) // 2):
        name, shape = specs[pos]
        weights = [np.zeros(s) for _, s in specs]
        bad = tuple(s + 1 for s in shape)
        weights[pos] = np.zeros(bad)
        with pytest.raises(R.ConfigError) as err:
            model_of(make(cell, k, input_dim=d, weights=weights))
        msg = str(err.value)
        assert cell.lower() in msg
        assert re.search(rf"\b{pos}\b", msg), msg
        assert name in msg and str(shape) in msg and str(bad) in msg
        model = model_of(make(cell, k, input_dim=d))
        with pytest.raises(R.ConfigError, match=re.escape(str(bad))):
            model.set_weights(weights)


def test_wrong_weight_shape_in_a_stack_names_the_layer():
    model = model_of(R.Embedding(5, 3), R.LSTM(4, return_sequences=True), R.GRU(2))
    weights = [np.zeros(w.shape) for w in model.get_weights()]
    weights[13 + 7] = np.zeros((2, 3))  # GRU's U_h, position 7 of gru_1
    with pytest.raises(R.ConfigError) as err:
        model.set_weights(weights)
    assert "gru_1" in str(err.value) and "U_h" in str(err.value) and "7" in str(err.value)


def test_non_numeric_weights():
    with pytest.raises(R.ConfigError, match="dtype"):
        model_of(R.SimpleRNN(2, input_dim=2, weights=[np.array([["a", "b"]] * 2), np.zeros((2, 2)), np.zeros(2)]))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_in_weights_warns(bad):
    weights = [np.zeros((2, 3)), np.zeros((3, 3)), np.zeros(3)]
    weights[1] = weights[1].copy()
    weights[1][0, 0] = bad
    with pytest.warns(RuntimeWarning, match=r"simplernn_1.*1.*\bU\b"):
        model = model_of(R.SimpleRNN(3, input_dim=2, weights=weights))
    clean = [np.zeros((2, 3)), np.zeros((3, 3)), np.zeros(3)]
    model.set_weights(clean)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.set_weights(clean)
    with pytest.warns(RuntimeWarning, match="NaN"):
        model.set_weights(weights)


# ------------------------------------------------------------------------------------
# configuration
# ------------------------------------------------------------------------------------

@pytest.mark.parametrize("cell", CELLS)
def test_unknown_activation_names(cell):
    with pytest.raises(R.ConfigError) as err:
        make(cell, 3, activation="gelu")
    assert "gelu" in str(err.value) and all(n in str(err.value) for n in ACTIVATION_NAMES)
    if cell != "SimpleRNN":
        with pytest.raises(R.ConfigError, match="hard_sigmoid"):
            make(cell, 3, inner_activation="hardsigmoid")


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("arg", ["init", "inner_init"])
def test_unknown_init_names(cell, arg):
    with pytest.raises(R.ConfigError) as err:
        make(cell, 3, **{arg: "xavier"})
    assert "xavier" in str(err.value) and all(n in str(err.value) for n in INIT_NAMES)


def test_unknown_forget_bias_init_is_refused_at_construction():
    with pytest.raises(R.ConfigError, match="glorot_uniform"):
        R.LSTM(3, forget_bias_init="ones")


def test_unknown_names_in_other_layers():
    with pytest.raises(R.ConfigError, match="softmax"):
        R.Activation("softmaxx")
    with pytest.raises(R.ConfigError, match="tanh"):
        R.Dense(3, activation="tan")
    with pytest.raises(R.ConfigError, match="uniform"):
        R.Dense(3, init="unifrom")
    with pytest.raises(R.ConfigError, match="uniform"):
        R.Embedding(3, 3, init="unifrom")
    with pytest.raises(R.ConfigError, match="activation"):
        R.LSTM(3, activation=42)


@pytest.mark.parametrize("depth", [0, -1, 1.5, "2", True])
def test_depth_must_be_a_positive_integer(depth):
    with pytest.raises(R.ConfigError, match="depth"):
        R.SimpleDeepRNN(3, depth=depth)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("K", [0, -2])
def test_truncate_gradient_zero_is_refused(cell, K):
    with pytest.raises(R.ConfigError, match="truncate_gradient"):
        make(cell, 3, truncate_gradient=K)


@pytest.mark.parametrize("cell", CELLS)
def test_output_dim_must_be_positive(cell):
    with pytest.raises(R.ConfigError, match="output_dim"):
        make(cell, 0)


def test_identity_init_needs_a_square_matrix():
    with pytest.raises(R.ConfigError, match="identity"):
        model_of(R.SimpleRNN(3, input_dim=2, init="identity"))


def test_model_level_configuration_errors():
    with pytest.raises(R.ConfigError, match="float32"):
        R.Sequential(dtype="int32")
    with pytest.raises(R.ConfigError):
        R.Sequential().add("LSTM")
    with pytest.raises(R.ConfigError, match="p"):
        R.Dropout(1.0)
    with pytest.raises(R.ConfigError, match="no layers"):
        R.Sequential().predict(np.zeros((1, 2, 3)))
    lazy = model_of(R.LSTM(3))
    with pytest.raises(R.ConfigError, match="input"):
        lazy.get_weights()


# ------------------------------------------------------------------------------------
# input
# ------------------------------------------------------------------------------------

@pytest.mark.parametrize("cell", CELLS)
def test_input_of_the_wrong_rank_or_width(cell):
    model = model_of(make(cell, 3, input_dim=2))
    for shape in [(4, 2), (4, 2, 2, 2), (4,)]:
        with pytest.raises(R.InputError, match="rank"):
            model.predict(np.zeros(shape))
    with pytest.raises(R.InputError, match="width"):
        model.predict(np.zeros((4, 5, 3)))
    with pytest.raises(R.InputError, match="width"):
        model.gradients(np.zeros((4, 5, 3)), np.zeros((4, 3)))
    lazy = model_of(make(cell, 3))
    with pytest.raises(R.InputError):
        lazy.predict(np.zeros((4, 2)))


def test_embedding_model_input_errors():
    model = model_of(R.Embedding(5, 3), R.LSTM(2))
    with pytest.raises(R.InputError, match=r"\[-5, 5\)"):
        model.predict(np.array([[1, 5]]))
    with pytest.raises(R.InputError, match=r"\[-5, 5\)"):
        model.predict(np.array([[1, -6]]))
    with pytest.raises(R.InputError, match="integer"):
        model.predict(np.array([[1.5, 2.0]]))
    with pytest.raises(R.InputError, match="batch, time"):
        model.predict(np.zeros((2, 3, 5), int))
    with pytest.raises(R.InputError):
        model.predict(np.array([["a", "b"]]))
    np.testing.assert_array_equal(model.predict(np.array([[1.0, 4.0]])), model.predict(np.array([[1, 4]])))


def test_non_numeric_float_input():
    with pytest.raises(R.InputError, match="numeric"):
        model_of(R.GRU(2, input_dim=1)).predict(np.array([[["x"]]]))


@pytest.mark.parametrize("first", ["float", "embedding"])
def test_empty_batch(first):
    model = model_of(R.Embedding(5, 3), R.GRU(2)) if first == "embedding" else model_of(R.GRU(2, input_dim=3))
    X = np.zeros((0, 4), int) if first == "embedding" else np.zeros((0, 4, 3))
    with pytest.raises(R.InputError, match="empty batch"):
        model.predict(X)
    with pytest.raises(R.InputError, match="empty batch"):
        model.gradients(X, np.zeros((0, 2)))


@pytest.mark.parametrize("cell", CELLS)
def test_empty_sequences(cell):
    model = model_of(make(cell, 2, input_dim=3))
    with pytest.raises(R.InputError, match="time"):
        model.predict(np.zeros((2, 0, 3)))
    emb = model_of(R.Embedding(5, 3), make(cell, 2))
    with pytest.raises(R.InputError, match="time"):
        emb.predict(np.zeros((2, 0), int))


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("return_sequences", [False, True])
def test_length_one_sequences_work(rng, cell, return_sequences):
    model = model_of(make(cell, 2, input_dim=3, return_sequences=return_sequences))
    model.set_weights(random_weights([w.shape for w in model.get_weights()], rng, 1.0))
    X = rng.normal(size=(3, 1, 3))
    Y = model.predict(X)
    assert Y.shape == ((3, 1, 2) if return_sequences else (3, 2)) and np.all(np.isfinite(Y))
    grads = model.gradients(X, np.ones_like(Y))
    assert all(np.all(np.isfinite(g)) for g in grads)


def test_gradients_with_a_wrong_G():
    model = model_of(R.LSTM(3, input_dim=2))
    with pytest.raises(R.InputError, match="shape"):
        model.gradients(np.zeros((2, 4, 2)), np.zeros((2, 4, 3)))


def test_dense_on_sequences_points_to_time_distributed_dense():
    model = model_of(R.LSTM(3, input_dim=2, return_sequences=True), R.Dense(2))
    with pytest.raises(R.InputError, match="TimeDistributedDense"):
        model.predict(np.zeros((2, 4, 2)))
