"""The shape layers of Keras 0.2.0's core.py (reference/layers.py): constructor
arguments, get_config as 0.2.0 wrote it, output shapes, forward against closed forms,
backward against finite differences, masks, and bad input in one sentence."""
import numpy as np
import pytest

import reference as r
from reference.errors import ConfigError, InputError

from .finite_differences import check_layer_gradients


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
    layer = built(r.RepeatVector(2), (3,))
    with pytest.raises(InputError, match="does not take a masked input"):
        layer.forward(np.ones((2, 3)), np.ones((2, 5)))


def test_repeat_vector_between_recurrent_layers_trains():
    """The encoder-decoder of examples/addition_rnn.py: gradients flow through the repeat."""
    model = r.Sequential(dtype="float64", seed=0)
    model.add(r.LSTM(4, input_shape=(None, 3)))
    model.add(r.RepeatVector(2))
    model.add(r.GRU(3, return_sequences=True))
    X = np.random.default_rng(0).normal(size=(2, 5, 3))
    G = np.random.default_rng(1).normal(size=(2, 2, 3))
    grads = model.gradients(X, G)
    weights = model.get_weights()
    eps = 1e-6
    for k in (0, len(weights) - 1):  # the encoder's first weight (through the repeat) and the decoder's last
        idx = np.unravel_index(np.argmax(np.abs(grads[k])), grads[k].shape)
        values = []
        for sign in (1, -1):
            ws = [w.copy() for w in weights]
            ws[k][idx] += sign * eps
            model.set_weights(ws)
            values.append(np.sum(model.predict(X) * G))
        model.set_weights(weights)
        fd = (values[0] - values[1]) / (2 * eps)
        assert abs(fd - grads[k][idx]) <= 1e-6 * max(1.0, abs(fd))
