"""FunctionalModel (reference/functional.py): a functional model against the equivalent
Sequential and Graph models, against its layers run one by one, and its gradients
against central differences; shared layers, multi-output and merge layers, masks along
the calls; what it refuses."""
import numpy as np
import pytest

import reference as r
from reference.errors import ConfigError, InputError
from reference.functional import FunctionalModel
from reference.layers import Layer
from reference.merging import MergeLayer

from .finite_differences import check_model_gradients

DTYPES = ("float32", "float64")


def _ids(rng, n=5, T=6, vocab=9):
    """Token ids with zeros on the left, on the right and in the middle (every mask kind)."""
    X = rng.integers(1, vocab, size=(n, T))
    X[0, :2] = 0
    X[1, -3:] = 0
    X[2, 2] = 0
    return X


@pytest.mark.parametrize("dtype", DTYPES)
def test_a_functional_chain_is_the_sequential_of_its_layers(dtype, rng):
    seq = r.Sequential(dtype=dtype, seed=1)
    seq.add(r.Embedding(9, 4, mask_zero=True))
    seq.add(r.LSTM(5, return_sequences=True))
    seq.add(r.GRU(3))
    seq.add(r.Dense(2, activation="softmax"))
    X = _ids(rng)
    expected = seq.predict(X)
    m = FunctionalModel(dtype=dtype)
    m.add_input("ids", (None,), "int32")
    previous = "ids"
    for layer in [r.Embedding(9, 4, mask_zero=True), r.LSTM(5, return_sequences=True), r.GRU(3),
                  r.Dense(2, activation="softmax")]:
        previous, _ = m.add_node(layer, [previous])
    m.set_outputs([previous])
    m.set_weights(seq.get_weights())
    Y = m.predict(X)
    assert isinstance(Y, np.ndarray) and Y.dtype == np.dtype(dtype)
    assert np.array_equal(Y, expected)  # the same computation, bit for bit
    assert np.array_equal(m.predict([X]), expected)  # a list of one array is accepted as well
    for a, b in zip(m.gradients(X, np.ones_like(Y)), seq.gradients(X, np.ones_like(Y))):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("mode", ["concat", "sum", "mul", "ave"])
def test_a_merge_of_two_branches_is_the_graph_merge(mode, rng):
    """Unmasked inputs: a Graph's merge (0.2.0's Merge) computes the same numbers."""
    g = r.Graph(dtype="float64", seed=3)
    g.add_input("a", (None, 3))
    g.add_input("b", (None, 4))
    g.add_node(r.LSTM(5, return_sequences=True), "la", input="a")
    g.add_node(r.GRU(5, return_sequences=True), "lb", input="b")
    g.add_node(r.SimpleRNN(2), "top", inputs=["la", "lb"], merge_mode=mode)
    g.add_output("out", input="top")
    m = FunctionalModel(dtype="float64")
    m.add_input("a", (None, 3))
    m.add_input("b", (None, 4))
    m.add_node(r.LSTM(5, return_sequences=True), ["a"], name="la")
    m.add_node(r.GRU(5, return_sequences=True), ["b"], name="lb")
    m.add_node(MergeLayer(mode), ["la", "lb"], name="merge")
    m.add_node(r.SimpleRNN(2), ["merge"], name="top")
    m.set_outputs(["top"])
    m.set_weights(g.get_weights())
    A, B = rng.normal(size=(4, 6, 3)), rng.normal(size=(4, 6, 4))
    assert np.array_equal(m.predict([A, B]), g.predict({"a": A, "b": B})["out"])


def _separately(layer, X, mask=None):
    return layer.forward(X, mask)


@pytest.mark.parametrize("dtype", DTYPES)
def test_a_shared_layer_applies_one_set_of_weights_at_each_call(dtype, rng):
    shared = r.LSTM(4, return_sequences=True)
    m = FunctionalModel(dtype=dtype, seed=2)
    m.add_input("a", (None, 3))
    m.add_input("b", (None, 3))
    m.add_node(shared, ["a"], name="shared")
    assert m.add_node(shared, ["b"]) == ("shared", 1)  # the same object again: a second call
    m.add_node(MergeLayer("sub"), [("shared", 0), ("shared", 1)], name="diff")
    m.set_outputs(["diff", ("shared", 1, 0)])
    assert len(m.get_weights()) == 12 and m.layers == [shared, m.layers[1]]  # weights listed once
    A, B = (rng.normal(size=(3, 5, 3)).astype(dtype) for _ in range(2))
    diff, second = m.predict([A, B])
    alone = r.Sequential(dtype=dtype)
    alone.add(r.LSTM(4, return_sequences=True, input_dim=3))
    alone.set_weights(shared.get_weights())
    assert np.array_equal(second, alone.predict(B))
    assert np.array_equal(diff, alone.predict(A) - alone.predict(B))
    assert m.output_names == ["diff", "shared"]


def test_gradients_of_a_shared_layer_sum_over_its_calls():
    rng = np.random.default_rng(0)
    shared = r.GRU(2, return_sequences=True)
    m = FunctionalModel(dtype="float64", seed=4)
    m.add_input("ids", (None,), "int32")
    m.add_input("x", (None, 2))
    m.add_node(r.Embedding(7, 2, mask_zero=True), ["ids"], name="emb")
    m.add_node(shared, ["emb"], name="shared")
    m.add_node(shared, ["x"])
    m.add_node(shared, [("shared", 1)])  # A(A(x)): a call on the output of another call
    m.add_node(MergeLayer("concat"), [("shared", 0), ("shared", 2)], name="cat")
    m.add_node(r.LSTM(2), ["cat"], name="top")
    m.set_outputs(["top", ("shared", 1)])
    X = [_ids(rng, n=4, T=5, vocab=7), rng.normal(size=(4, 5, 2))]
    assert check_model_gradients(_ListObjective(m), X, nonzero=True) < 1e-6


class _ListObjective:
    """A functional model seen by check_model_gradients: sum over its outputs of sum(Y * G)."""

    def __init__(self, model):
        self.model = model

    def predict(self, X):
        return np.concatenate([y.ravel() for y in self.model.predict(X)])

    def gradients(self, X, G):
        shapes = [y.shape for y in self.model.predict(X)]
        parts, start = [], 0
        for s in shapes:
            size = int(np.prod(s))
            parts.append(G[start:start + size].reshape(s))
            start += size
        return self.model.gradients(X, parts)

    def get_weights(self):
        return self.model.get_weights()

    def set_weights(self, ws):
        self.model.set_weights(ws)


class Halves(Layer):
    """A test layer with two outputs (the multi-output protocol): the first and second half
    of the features, each handing on the mask it got."""
    nb_outputs = 2

    def output_shape(self, input_shape):
        k = input_shape[-1] // 2
        return [tuple(input_shape[:-1]) + (k,), tuple(input_shape[:-1]) + (input_shape[-1] - k,)]

    def output_mask(self, mask):
        return [mask, mask]

    def forward(self, X, mask=None, train=False, rng=None):
        self._k = X.shape[-1] // 2
        return [X[..., :self._k], X[..., self._k:]]

    def backward(self, dY):
        shapes = [self._k, None]
        dY = [np.zeros(dY[1].shape[:-1] + (self._k,)) if dY[0] is None else dY[0],
              np.zeros(dY[0].shape[:-1] + (shapes[0],)) if dY[1] is None else dY[1]]
        return np.concatenate(dY, axis=-1), []


def test_a_multi_output_layer_gives_one_tensor_per_output_with_its_mask(rng):
    m = FunctionalModel(dtype="float64", seed=5)
    m.add_input("ids", (None,), "int32")
    m.add_node(r.Embedding(9, 6, mask_zero=True), ["ids"], name="emb")
    m.add_node(Halves(), ["emb"], name="halves")
    m.add_node(r.LSTM(3, return_sequences=True), [("halves", 0, 0)], name="first")
    m.add_node(r.LSTM(3, return_sequences=True), [("halves", 0, 1)], name="second")
    m.set_outputs(["first", "second", ("halves", 0, 1)])
    assert m.output_shape == [(None, 3), (None, 3), (None, 3)]
    assert m.output_names == ["first", "second", "halves"]
    X = _ids(rng)
    first, second, half = m.predict(X)
    emb = m.layers[0]
    E = emb.forward(X)
    mask = emb.output_mask(None)
    assert np.array_equal(half, E[..., 3:])
    assert np.array_equal(first, m.layers[2].forward(E[..., :3], mask))  # the mask reached both halves
    assert np.array_equal(second, m.layers[3].forward(E[..., 3:], mask))
    assert check_model_gradients(_ListObjective(m), X, nonzero=True) < 1e-6


def test_masks_flow_along_the_calls_and_through_merges(rng):
    """emb(mask) and a Masking branch concatenated on the features: the LSTM on top gets the
    AND of the two masks (2.x Concatenate's rule), a float input none."""
    m = FunctionalModel(dtype="float64", seed=6)
    m.add_input("ids", (None,), "int32")
    m.add_input("x", (None, 2))
    m.add_node(r.Embedding(9, 3, mask_zero=True), ["ids"], name="emb")
    m.add_node(r.Masking(0.0), ["x"], name="masking")
    m.add_node(MergeLayer("concat"), ["emb", "masking"], name="cat")
    m.add_node(r.LSTM(4, return_sequences=True), ["cat"], name="top")
    m.add_node(r.LSTM(4, return_sequences=True), ["x"], name="plain")
    m.set_outputs(["top", "plain"])
    ids = _ids(rng)
    x = rng.normal(size=ids.shape + (2,))
    x[3, 1] = 0.0
    top, plain = m.predict([ids, x])
    emb, masking, _, lstm, lstm_plain = m.layers
    mask = (ids != 0) * np.any(x != 0, axis=-1)
    expected = lstm.forward(np.concatenate([emb.forward(ids), x], axis=-1), mask.astype(np.float64))
    assert np.array_equal(top, expected)
    assert np.array_equal(plain, lstm_plain.forward(x))


def test_weights_follow_the_order_layers_were_added_not_the_call_order(rng):
    m = FunctionalModel(dtype="float64", seed=7)
    m.add_input("x", (None, 2))
    late, early = r.Dense(3), r.TimeDistributedDense(2)
    m.add_layer(late, "late")  # listed first (a config's order), called second
    m.add_layer(early, "early")
    m.add_node(early, ["x"])
    m.add_node(r.GRU(4), ["early"], name="gru")
    m.add_node(late, ["gru"])
    m.set_outputs(["late"])
    assert [layer.name for layer in m.layers] == ["late", "early", "gru"]
    assert [w.shape for w in m.get_weights()[:2]] == [(4, 3), (3,)]
    weights = [rng.normal(size=w.shape) for w in m.get_weights()]
    m.set_weights(weights)
    assert all(np.array_equal(a, b) for a, b in zip(m.get_weights(), weights))
    with pytest.raises(ConfigError, match="weight arrays"):
        m.set_weights(weights[:-1])


def test_an_output_may_be_an_input_or_the_same_tensor_twice(rng):
    m = FunctionalModel(dtype="float64")
    m.add_input("x", (None, 2))
    m.add_node(r.SimpleRNN(3), ["x"], name="rnn")
    m.set_outputs(["rnn", "x", "rnn"])
    assert m.output_names == ["rnn", "x_1", "rnn_1"]
    X = rng.normal(size=(2, 4, 2))
    a, b, c = m.predict(X)
    assert np.array_equal(a, c) and np.array_equal(b, X)


def test_summary_lists_inputs_calls_and_outputs():
    m = FunctionalModel()
    m.add_input("x", (None, 2))
    shared = r.SimpleRNN(2, return_sequences=True)
    m.add_node(shared, ["x"], name="rnn")
    m.add_node(shared, ["rnn"])
    m.set_outputs([("rnn", 1)])
    text = m.summary(print_fn=lambda s: None)
    assert "rnn [1]" in text and "rnn[0][0]" in text and "(shared)" in text and "Total params: 10" in text


def _model():
    m = FunctionalModel()
    m.add_input("x", (None, 2))
    m.add_input("ids", (4,), "int32")
    return m


@pytest.mark.parametrize("build, pattern", [
    (lambda m: m.add_node(r.LSTM(2), ["nope"]), "unknown layer 'nope'; known so far: 'x, ids'"),
    (lambda m: m.add_node(r.LSTM(2), [("x", 1)]), "has no call .node. 1"),
    (lambda m: m.add_node(r.LSTM(2), [("x", 0, 1)]), "tensor index 1"),
    (lambda m: m.add_node(r.TimeDistributedDense(2), ["x", "x"]), "takes one input, got 2"),
    (lambda m: m.add_node(MergeLayer("sum"), ["x"]), "two or more inputs, got 1"),
    (lambda m: m.add_node(r.LSTM(2), ["ids"]), "integer token ids and feeds an Embedding only"),
    (lambda m: m.add_node(r.LSTM(2, input_dim=3), ["x"]), "declares input width 3"),
    (lambda m: m.add_node(r.LSTM(2), ["x"], name="x"), "duplicate layer name 'x'"),
    (lambda m: m.add_input("x", (None, 2)), "duplicate layer name 'x'"),
    (lambda m: m.add_input("y", (None, 0)), "positive integers"),
    (lambda m: m.add_input("y", (None, 2), "complex64"), "unknown dtype 'complex64'"),
    (lambda m: m.set_outputs([]), "non-empty list of outputs"),
    (lambda m: m.get_weights(), "no layers"),
    (lambda m: m.to_json(), "no Keras 0.2.0 config"),
])
def test_bad_models_get_one_sentence(build, pattern):
    with pytest.raises(ConfigError, match=pattern):
        build(_model())


def test_a_layer_never_called_is_refused():
    m = _model()
    m.add_layer(r.Dense(2), "idle")
    m.add_node(r.SimpleRNN(2), ["x"], name="rnn")
    m.set_outputs(["rnn"])
    with pytest.raises(ConfigError, match="'idle' of the functional model is never called"):
        m.predict([np.zeros((1, 3, 2)), np.zeros((1, 4), int)])


def test_bad_predict_data_gets_one_sentence(rng):
    m = _model()
    m.add_node(r.SimpleRNN(2), ["x"], name="rnn")
    m.add_node(r.Embedding(5, 2), ["ids"], name="emb")
    m.set_outputs(["rnn", "emb"])
    ok = [rng.normal(size=(2, 3, 2)), np.ones((2, 4), int)]
    assert [y.shape for y in m.predict(ok)] == [(2, 2), (2, 4, 2)]
    for data, pattern in ((ok[0], "list of 2 arrays .x, ids, in this order., got one ndarray"),
                          (ok[:1], "got 1 arrays"),
                          ([ok[0][..., :1], ok[1]], "input 'x' must have shape"),
                          ([ok[0], ok[1] + 0.5], "token ids and must be integers"),
                          ([ok[0], ok[1][:1]], "one batch size"),
                          ([ok[0], np.ones((2, 4, 1), int)], "input 'ids' must have shape")):
        with pytest.raises(InputError, match=pattern):
            m.predict(data)
    with pytest.raises(InputError, match="one array per output"):
        m.gradients(ok, [np.ones((2, 2))])
