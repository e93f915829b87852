"""The shape layers of Keras 0.2.0's core.py (reference/layers.py): constructor
arguments, get_config as 0.2.0 wrote it, output shapes, forward against closed forms,
backward against finite differences, masks, and bad input in one sentence."""
import numpy as np
import pytest

import reference as r
from reference.errors import ConfigError, InputError

from .finite_differences import check_layer_gradients, check_model_gradients


def built(layer, input_shape, dtype="float64"):
    layer.build(input_shape, dtype, np.random.default_rng(0))
    return layer


def test_repeat_vector():
    layer = r.RepeatVector(3)
    assert layer.get_config() == {"name": "RepeatVector", "n": 3}
    built(layer, (4,))
    assert layer.get_weights() == [] and layer.output_shape((4,)) == (3, 4)
    X = np.arange(8.0).reshape(2, 4)
    Y = layer.forward(X)
    assert Y.shape == (2, 3, 4) and all(np.array_equal(Y[:, t], X) for t in range(3))
    assert layer.output_mask(None) is None
    check_layer_gradients(layer, np.random.default_rng(1).normal(size=(2, 4)))


def test_repeat_vector_bad_input():
    for n in (0, -2, 2.5, "3", True, None):
        with pytest.raises(ConfigError, match=r"RepeatVector: n must be a positive integer"):
            r.RepeatVector(n)
    model = r.Sequential()
    model.add(r.LSTM(3, input_shape=(None, 2), return_sequences=True))
    with pytest.raises(ConfigError, match=r"layer repeatvector_1: RepeatVector takes \(batch, features\) input"):
        model.add(r.RepeatVector(2))


def test_repeat_vector_between_recurrent_layers_trains():
    """The encoder-decoder of examples/addition_rnn.py: gradients flow through the repeat."""
    model = r.Sequential(dtype="float64", seed=0)
    model.add(r.LSTM(4, input_shape=(None, 3)))
    model.add(r.RepeatVector(2))
    model.add(r.GRU(3, return_sequences=True))
    X = np.random.default_rng(0).normal(size=(2, 5, 3))
    # the encoder's first weight (reached through the repeat) and the decoder's last
    check_model_gradients(model, X, arrays=(0, len(model.get_weights()) - 1), nonzero=True)


# ------------------------------------------------------------------------------------
# Reshape, Permute, Flatten, TimeDistributedMerge, MaxoutDense
# ------------------------------------------------------------------------------------

def test_reshape():
    layer = r.Reshape([4, 3])  # a JSON list: kept as 0.2.0's tuple
    assert layer.get_config() == {"name": "Reshape", "dims": (4, 3)}
    built(layer, (6, 2))
    assert layer.output_shape((6, 2)) == (4, 3) and layer.get_weights() == []
    X = np.arange(24.0).reshape(2, 6, 2)
    assert np.array_equal(layer.forward(X), X.reshape(2, 4, 3))  # C order, per sample
    check_layer_gradients(layer, np.random.default_rng(1).normal(size=(2, 6, 2)))
    assert "!!python/tuple [4, 3]" in r.Sequential([r.Reshape((4, 3), input_shape=(12,))]).to_yaml()


def test_permute():
    layer = r.Permute((2, 1))
    assert layer.get_config() == {"name": "Permute", "dims": (2, 1)}
    built(layer, (5, 3))
    assert layer.output_shape((5, 3)) == (3, 5) and layer.output_shape((None, 3)) == (3, None)
    X = np.random.default_rng(0).normal(size=(2, 5, 3))
    assert np.array_equal(layer.forward(X), X.transpose(0, 2, 1))
    check_layer_gradients(layer, X)
    three = built(r.Permute((3, 1, 2)), (2, 3, 4))
    X3 = np.random.default_rng(1).normal(size=(2, 2, 3, 4))
    assert three.output_shape((2, 3, 4)) == (4, 2, 3)
    assert np.array_equal(three.forward(X3), X3.transpose(0, 3, 1, 2))
    check_layer_gradients(three, X3)


def test_flatten():
    layer = r.Flatten()
    assert layer.get_config() == {"name": "Flatten"}  # 0.2.0's Flatten has no get_config of its own
    built(layer, (5, 3))
    assert layer.output_shape((5, 3)) == (15,)
    X = np.random.default_rng(0).normal(size=(2, 5, 3))
    assert np.array_equal(layer.forward(X), X.reshape(2, 15))
    check_layer_gradients(layer, X)


@pytest.mark.parametrize("mode", ["sum", "ave"])
def test_time_distributed_merge(mode):
    layer = r.TimeDistributedMerge(mode)
    assert layer.get_config() == {"name": "TimeDistributedMerge", "mode": mode}
    assert r.TimeDistributedMerge().mode == "sum"
    built(layer, (None, 3))
    assert layer.output_shape((None, 3)) == (3,)
    X = np.random.default_rng(0).normal(size=(2, 5, 3))
    want = X.sum(axis=1) / (5 if mode == "ave" else 1)
    assert np.max(np.abs(layer.forward(X) - want)) < 1e-15
    check_layer_gradients(layer, X)


def test_maxout_dense():
    layer = r.MaxoutDense(3, nb_feature=2, input_dim=4)
    assert layer.get_config() == {
        "name": "MaxoutDense", "output_dim": 3, "init": "glorot_uniform", "nb_feature": 2, "W_regularizer": None,
        "b_regularizer": None, "activity_regularizer": None, "W_constraint": None, "b_constraint": None,
        "input_dim": 4}
    assert r.MaxoutDense(3).nb_feature == 4
    model = r.Sequential([layer], dtype="float64", seed=0)
    W, b = layer.get_weights()
    assert layer.weight_names == ["W", "b"] and W.shape == (2, 4, 3) and b.shape == (2, 3)
    assert not b.any() and np.max(np.abs(W)) <= np.sqrt(6.0 / (4 * 3 + 2))  # 0.2.0's fans of a 3-D shape
    rng = np.random.default_rng(1)
    layer.set_weights([rng.normal(size=W.shape), rng.normal(size=b.shape)])
    W, b = layer.get_weights()
    X = rng.normal(size=(5, 4))
    want = np.max([X @ W[f] + b[f] for f in range(2)], axis=0)
    assert np.max(np.abs(model.predict(X) - want)) < 1e-14
    check_layer_gradients(layer, X)


def test_shape_layers_hand_no_mask_on_and_refuse_one():
    for layer, shape in [(r.RepeatVector(2), (3,)), (r.Reshape((3, 2)), (2, 3)), (r.Permute((2, 1)), (2, 3)), (r.Flatten(), (2, 3)),
                         (r.TimeDistributedMerge(), (2, 3)), (r.MaxoutDense(2), (3,))]:
        built(layer, shape)
        assert layer.output_mask(np.ones((2, 2))) is None
        with pytest.raises(InputError, match=f"{type(layer).__name__} cannot follow a layer with a mask"):
            layer.forward(np.ones((2,) + shape), np.ones((2, 2)))


@pytest.mark.parametrize("build, message", [
    (lambda: r.Reshape((4, 2)).build((6, 4), "float64", None),
     r"Reshape cannot turn per-sample shape \(6, 4\) \(24 values\) into \(4, 2\) \(8 values\)"),
    (lambda: r.Reshape((0, 2)), r"Reshape: each of dims must be a positive integer, got 0"),
    (lambda: r.Reshape(4), r"Reshape: dims must be a non-empty list of positive integers, got 4"),
    (lambda: r.Permute((1, 3)).build((6, 4), "float64", None),
     r"Permute dims \(1, 3\) are not a permutation of the axes 1..2 of its per-sample input shape \(6, 4\)"),
    (lambda: r.Permute((0, 1)), r"Permute: each of dims must be a positive integer, got 0"),
    (lambda: r.Permute((1, 1)), r"Permute: dims \(1, 1\) name an axis twice"),
    (lambda: r.Flatten().build((None, 4), "float64", None),
     r"Flatten needs the per-sample shape, got \(None, 4\) \(a sequence of unknown length\)"),
    (lambda: r.TimeDistributedMerge("mul"), r"mode 'mul' is refused: Keras 0.2.0 could not build it"),
    (lambda: r.TimeDistributedMerge("max"), r"unknown mode 'max'; accepted: sum, ave"),
    (lambda: r.TimeDistributedMerge().build((4,), "float64", None),
     r"TimeDistributedMerge takes \(batch, time, features\) input, got per-sample shape \(4,\)"),
    (lambda: r.MaxoutDense(3).build((5, 4), "float64", None),
     r"MaxoutDense takes \(batch, features\) input, got per-sample shape \(5, 4\)"),
    (lambda: r.MaxoutDense(3, nb_feature=0), r"MaxoutDense: nb_feature must be a positive integer, got 0"),
])
def test_bad_shapes_and_modes_get_one_sentence(build, message):
    with pytest.raises(ConfigError, match=message):
        build()


def test_reshape_of_a_sequence_of_unknown_length_is_checked_when_it_runs():
    model = r.Sequential([r.TimeDistributedDense(2, input_dim=3), r.Reshape((4, 2))], dtype="float64")
    assert model.predict(np.ones((1, 4, 3))).shape == (1, 4, 2)
    with pytest.raises(InputError, match=r"Reshape cannot turn per-sample shape \(5, 2\) \(10 values\) into"):
        model.predict(np.ones((1, 5, 3)))
