"""Recurrent layers started from given initial states (Keras 2.x's `initial_state`):
the forward starts from them, and backward's gradients of the states, the input and the
weights match central differences (float64)."""
import json
import os

import numpy as np
import pytest

import reference as r
from reference.keras_files import KerasFileError
from reference.errors import ConfigError, InputError
from reference.recurrent import GRU, LSTM, SimpleRNN

KINDS = {"LSTM": (LSTM, {}), "GRU": (GRU, {}), "GRU_ra": (GRU, {"reset_after": True}), "SimpleRNN": (SimpleRNN, {})}


def make(kind, go_backwards=False, return_sequences=True, truncate_gradient=-1, seed=0, initial_output="zero"):
    cls, extra = KINDS[kind]
    layer = cls(3, mask_rule="carry", go_backwards=go_backwards, return_sequences=return_sequences,
                truncate_gradient=truncate_gradient, inner_activation="sigmoid", initial_output=initial_output,
                **extra)
    layer.build((None, 2), "float64", np.random.default_rng(seed), True)
    rng = np.random.default_rng(seed + 1)
    layer.set_weights([rng.normal(0, 0.6, w.shape) for w in layer.get_weights()])
    return layer


def inputs(layer, n=3, T=5, seed=2):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, T, 2))
    states = [rng.normal(size=(n, 3)) for _ in range(layer.state_count)]
    mask = np.ones((n, T))
    mask[0, :2] = 0   # a masked prefix: the given states are carried over it
    mask[1, 3:] = 0   # a masked suffix
    return X, states, mask


def loss(layer, X, states, mask, G):
    return float(np.sum(layer.forward([X] + states, mask) * G))


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("go_backwards,initial_output", [(False, "zero"), (True, "zero"), (False, "state")])
def test_gradients_match_central_differences(kind, go_backwards, initial_output):
    layer = make(kind, go_backwards, initial_output=initial_output)
    X, states, mask = inputs(layer)
    Y = layer.forward([X] + states, mask)
    G = np.random.default_rng(5).normal(size=Y.shape)
    dXs, dW = layer.backward(G)
    eps = 1e-6
    for which, arrays in (("X", [X]), ("states", states)):
        grads = dXs[:1] if which == "X" else dXs[1:]
        for A, dA in zip(arrays, grads):
            num = np.zeros_like(A)
            for idx in np.ndindex(A.shape):
                old = A[idx]
                A[idx] = old + eps
                up = loss(layer, X, states, mask, G)
                A[idx] = old - eps
                down = loss(layer, X, states, mask, G)
                A[idx] = old
                num[idx] = (up - down) / (2 * eps)
            np.testing.assert_allclose(dA, num, rtol=1e-6, atol=1e-8)
    weights = layer.get_weights()
    for w, dw in zip(weights, dW):
        num = np.zeros_like(w)
        for idx in np.ndindex(w.shape):
            old = w[idx]
            w[idx] = old + eps
            layer.set_weights(weights)
            up = loss(layer, X, states, mask, G)
            w[idx] = old - eps
            layer.set_weights(weights)
            down = loss(layer, X, states, mask, G)
            w[idx] = old
            layer.set_weights(weights)
            num[idx] = (up - down) / (2 * eps)
        np.testing.assert_allclose(dw, num, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_zero_states_give_the_zero_start_and_a_masked_prefix_keeps_the_states(kind):
    layer = make(kind)
    X, states, mask = inputs(layer)
    zeros = [np.zeros_like(s) for s in states]
    np.testing.assert_array_equal(layer.forward([X] + zeros, mask), layer.forward(X, mask))
    Y = layer.forward([X] + states, mask)
    # row 0's first two steps are masked: its output there is 0 (Keras 2.x's Theano
    # backend's initial_output, tf.keras's zero output), and its first unmasked step
    # starts from the given states, as the row without the masked prefix does
    np.testing.assert_array_equal(Y[0, :2], 0)
    alone = layer.forward([X[:1, 2:]] + [s[:1] for s in states])
    np.testing.assert_allclose(Y[0, 2:], alone[0], rtol=1e-13, atol=1e-15)
    # keras-team 2.0-2.2.x on TensorFlow outputs the given h there instead
    layer.initial_output = "state"
    Y_state = layer.forward([X] + states, mask)
    np.testing.assert_array_equal(Y_state[0, :2], np.stack([states[0][0]] * 2))
    np.testing.assert_array_equal(Y_state[1:], Y[1:])


def test_the_number_of_states_must_match_the_cell():
    layer = make("LSTM")
    X, states, mask = inputs(layer)
    with pytest.raises(InputError, match="takes 2 initial state"):
        layer.forward([X, states[0]], mask)


def test_initial_states_need_the_carry_rule():
    layer = LSTM(3, mask_rule="reset")
    layer.build((None, 2), "float64", np.random.default_rng(0), True)
    X = np.zeros((1, 2, 2))
    with pytest.raises(ConfigError, match="mask_rule"):
        layer.forward([X, np.zeros((1, 3)), np.zeros((1, 3))])


def test_an_encoder_decoder_model_sends_the_gradients_through_the_states():
    """FunctionalModel.gradients: the encoder's weights get the gradient that reaches its
    final states through the decoder's initial states (central differences)."""
    from reference.functional import FunctionalModel

    m = FunctionalModel(dtype="float64", seed=3)
    m.add_input("a", (None, 2))
    m.add_input("b", (None, 2))
    m.add_node(LSTM(3, mask_rule="carry", return_state=True, inner_activation="sigmoid"), ["a"], name="enc")
    m.add_node(LSTM(3, mask_rule="carry", return_sequences=True, inner_activation="sigmoid"),
               ["b", ("enc", 0, 1), ("enc", 0, 2)], name="dec")
    m.set_outputs(["dec"])
    rng = np.random.default_rng(4)
    m.set_weights([rng.normal(0, 0.6, w.shape) for w in m.get_weights()])
    Xs = [rng.normal(size=(2, 4, 2)), rng.normal(size=(2, 3, 2))]
    G = rng.normal(size=(2, 3, 3))
    grads = m.gradients(Xs, G)
    weights = m.get_weights()
    eps = 1e-6
    for w, dw in zip(weights[:3], grads[:3]):  # the encoder's: reached only through the states
        assert np.abs(dw).max() > 0
        num = np.zeros_like(w)
        for idx in np.ndindex(w.shape):
            old = w[idx]
            values = []
            for v in (old + eps, old - eps):
                w[idx] = v
                m.set_weights(weights)
                values.append(float(np.sum(m.predict(Xs) * G)))
            w[idx] = old
            num[idx] = (values[0] - values[1]) / (2 * eps)
        m.set_weights(weights)
        np.testing.assert_allclose(dw, num, rtol=1e-6, atol=1e-9)


FIXTURE = os.path.join(os.path.dirname(__file__), "..", "fixtures", "keras_releases", "2.2.4",
                       "fn_encoder_decoder_lstm_f64.json")


def _decoder_reads(change):
    with open(FIXTURE) as f:
        config = json.load(f)
    (decoder,) = [entry for entry in config["config"]["layers"] if entry["name"] == "lstm_2"]
    change(decoder["inbound_nodes"][0])
    return json.dumps(config)


@pytest.mark.parametrize("change,pattern", [
    (lambda node: node.pop(), "takes 2 initial state"),
    (lambda node: node.append(["lstm_1", 0, 0, {}]), "takes 2 initial state"),
    (lambda node: node.__setitem__(1, ["floats", 0, 0, {}]), "initial state 0 must have shape"),
])
def test_a_keras_file_whose_states_do_not_fit_the_cell_is_refused(change, pattern):
    with pytest.raises(KerasFileError, match=pattern) as info:
        r.model_from_json(_decoder_reads(change), keras_version="2.2.4")
    assert len(str(info.value).splitlines()) == 1


def test_keras_releases_say_what_a_masked_prefix_outputs():
    from reference.keras_files.recurrent12 import initial_output_of

    assert [initial_output_of(release, backend) for release, backend in [
        ("2.2.4", "tensorflow"), ("2.1.6", "cntk"), ("2.2.4", "theano"), ("2.3.1", "tensorflow"),
        ("2.15.0", "tensorflow")]] == ["state", "state", "zero", "zero", "zero"]
