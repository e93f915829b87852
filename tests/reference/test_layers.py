"""Every documented argument and default of the layers (SPEC "Arguments every recurrent
layer takes", the per-cell defaults, initializations by name, the other layers)."""
import numpy as np
import pytest

import reference as R
from rnn2onnx.conformance.models import build_model

from .helpers import (ACT, CELLS, DEFAULT_ACTIVATIONS, Cell, Embedding, Oracle, cell_specs, max_rel_diff,
                      random_weights)


def build(layer, d=None, dtype="float64", seed=0):
    """A model of the one layer as made (its own weights and initialisation); d: build a
    layer that does not know its input width on d features."""
    model = build_model([layer], dtype=dtype, seed=seed, weights=None)
    if d is not None and not layer.built:
        model.predict(np.zeros((1, 2, d)))
    return model


def make(cell, k, **kw):
    return getattr(R, cell)(k, **kw)


# ------------------------------------------------------------------------------------
# recurrent layers: weights, order, shapes, defaults
# ------------------------------------------------------------------------------------

@pytest.mark.parametrize("cell", CELLS)
def test_weight_order_and_shapes(cell):
    d, k = 3, 5
    model = build(make(cell, k, input_dim=d))
    shapes = [w.shape for w in model.get_weights()]
    assert shapes == [s for _, s in cell_specs(cell, d, k)]
    assert model.layers[0].count_params() == sum(int(np.prod(s)) for s in shapes)


@pytest.mark.parametrize("depth", [1, 2, 3, 5])
def test_simple_deep_rnn_depth(depth):
    model = build(R.SimpleDeepRNN(4, depth=depth, input_dim=2))
    assert [w.shape for w in model.get_weights()] == [s for _, s in cell_specs("SimpleDeepRNN", 2, 4, depth)]
    assert len(model.get_weights()) == depth + 2


def test_simple_deep_rnn_default_depth_is_3():
    assert len(build(R.SimpleDeepRNN(4, input_dim=2)).get_weights()) == 5


@pytest.mark.parametrize("cell", CELLS)
def test_default_activations_are_specs(rng, cell):
    """A layer built without activation arguments computes SPEC's defaults (GRU's f is
    sigmoid in 0.2.0), and another choice computes something else."""
    d, k, vocab = 3, 4, 6
    f, g = DEFAULT_ACTIVATIONS[cell]
    oracle = Oracle([Embedding(vocab, d), Cell(cell, k, activation=f, inner_activation=g, depth=2,
                                              return_sequences=True)], None)
    weights = random_weights(oracle.flat_shapes, rng, 1.0)
    X = rng.integers(0, vocab, size=(2, 5))
    model = build_model([make(cell, k, return_sequences=True, **({"depth": 2} if cell == "SimpleDeepRNN" else {}))],
                        "ids", "float64", weights=None, vocab=vocab, features=d)
    model.set_weights(weights)
    assert max_rel_diff(model.predict(X), oracle.predict(weights, X)) < 1e-12
    config = make(cell, k).get_config()
    assert config["activation"] == f
    if g is not None:
        assert config["inner_activation"] == g
    assert config["truncate_gradient"] == -1 and config["return_sequences"] is False
    assert config["init"] == "glorot_uniform" and config["inner_init"] == "orthogonal"
    other = Oracle([Embedding(vocab, d), Cell(cell, k, activation="linear", inner_activation="tanh", depth=2,
                                             return_sequences=True)], None)
    assert max_rel_diff(model.predict(X), other.predict(weights, X)) > 1e-3


@pytest.mark.parametrize("cell", CELLS)
def test_init_and_inner_init_reach_the_right_weights(cell):
    """init -> every W*, inner_init -> every U*, biases zero (LSTM's b_f one), P by its
    own rule."""
    d, k = 3, 4
    model = build(make(cell, k, input_dim=d, init="one", inner_init="zero"))
    for (name, _), w in zip(cell_specs(cell, d, k), model.get_weights()):
        if name.startswith("W"):
            assert np.all(w == 1), name
        elif name.startswith("U"):
            assert np.all(w == 0), name
        elif name == "b_f" and cell == "LSTM":
            assert np.all(w == 1)
        elif name.startswith("b"):
            assert np.all(w == 0), name
        else:
            assert name == "P"
            assert set(np.unique(np.abs(w))) == {1 / np.sqrt(d)}


@pytest.mark.parametrize("cell", CELLS)
def test_default_inits(cell):
    """glorot_uniform for W*, orthogonal x 1.1 for U*, zeros for biases."""
    d, k = 40, 30
    model = build(make(cell, k, input_dim=d), seed=3)
    bound = np.sqrt(6.0 / (d + k))
    for (name, _), w in zip(cell_specs(cell, d, k), model.get_weights()):
        if name.startswith("W"):
            assert np.max(np.abs(w)) <= bound and np.max(np.abs(w)) > 0.95 * bound
        elif name.startswith("U"):
            np.testing.assert_allclose(w.T @ w, 1.21 * np.eye(k), atol=1e-5)
        elif name.startswith("b"):
            assert np.all(w == (1.0 if (cell == "LSTM" and name == "b_f") else 0.0)), name


@pytest.mark.parametrize("fbi,value", [("one", 1.0), ("zero", 0.0)])
def test_lstm_forget_bias_init(fbi, value):
    model = build(R.LSTM(4, input_dim=3, forget_bias_init=fbi))
    w = dict(zip([n for n, _ in cell_specs("LSTM", 3, 4)], model.get_weights()))
    assert np.all(w["b_f"] == value)
    assert all(np.all(w[b] == 0) for b in ("b_i", "b_c", "b_o"))
    assert model.layers[0].get_config()["forget_bias_init"] == fbi


def test_lstm_forget_bias_init_by_other_names():
    model = build(R.LSTM(50, input_dim=3, forget_bias_init="uniform"))
    b_f = model.get_weights()[8]
    assert np.max(np.abs(b_f)) <= 0.05 and np.std(b_f) > 0.01


@pytest.mark.parametrize("cell", ["JZS1", "JZS2"])
def test_jzs_p_matrix(cell):
    # square: identity
    w = build(make(cell, 4, input_dim=4)).get_weights()[-1]
    np.testing.assert_array_equal(w, np.eye(4))
    # not square: +-1/sqrt(d), both signs, about half each
    d, k = 16, 40
    w = build(make(cell, k, input_dim=d), seed=1).get_weights()[-1]
    assert w.shape == (d, k)
    np.testing.assert_allclose(np.abs(w), 1 / np.sqrt(d))
    assert 0.35 < np.mean(w > 0) < 0.65


@pytest.mark.parametrize("cell", ["JZS1", "JZS2"])
def test_jzs_p_is_a_weight_like_the_others(rng, cell):
    """P is in get/set_weights, gets a gradient and changes the output."""
    d, k = 3, 4
    model = build(make(cell, k, input_dim=d))
    weights = random_weights([s for _, s in cell_specs(cell, d, k)], rng, 1.0)
    model.set_weights(weights)
    np.testing.assert_array_equal(model.get_weights()[-1], weights[-1])
    X = rng.normal(size=(2, 4, d))
    before = model.predict(X)
    grads = model.gradients(X, np.ones((2, k)))
    assert grads[-1].shape == (d, k) and np.any(grads[-1] != 0)
    weights[-1] = weights[-1] * -1.0
    model.set_weights(weights)
    assert max_rel_diff(model.predict(X), before) > 1e-3


@pytest.mark.parametrize("cell", CELLS)
def test_weights_argument(rng, cell):
    d, k = 3, 4
    weights = random_weights([s for _, s in cell_specs(cell, d, k)], rng, 1.0)
    model = build(make(cell, k, input_dim=d, weights=weights))
    for a, b in zip(model.get_weights(), weights):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("cell", CELLS)
def test_input_shape_arguments(cell):
    """input_dim (+ input_length) or input_shape=(input_length, input_dim) build the
    layer with no data; without them the first predict builds it."""
    for kw in ({"input_dim": 3}, {"input_dim": 3, "input_length": 6}, {"input_shape": (6, 3)},
               {"input_shape": (None, 3)}):
        model = build(make(cell, 4, **kw))
        assert model.layers[0].built
        assert model.predict(np.zeros((2, 6, 3))).shape == (2, 4)
    lazy = R.Sequential(dtype="float64")
    lazy.add(make(cell, 4))
    assert not lazy.layers[0].built
    assert lazy.predict(np.zeros((2, 5, 3))).shape == (2, 4)
    assert [w.shape for w in lazy.get_weights()] == [s for _, s in cell_specs(cell, 3, 4)]


@pytest.mark.parametrize("cell", CELLS)
def test_return_sequences_and_output_shape(cell):
    model = build(make(cell, 4, input_shape=(6, 3), return_sequences=True))
    assert model.predict(np.zeros((2, 6, 3))).shape == (2, 6, 4)
    assert model.output_shape == (6, 4)
    model = build(make(cell, 4, input_shape=(6, 3)))
    assert model.output_shape == (4,)


@pytest.mark.parametrize("cell", CELLS)
def test_truncate_gradient_does_not_change_the_forward(rng, cell):
    d, k = 3, 4
    weights = random_weights([s for _, s in cell_specs(cell, d, k)], rng, 1.0)
    X = rng.normal(size=(2, 6, d))
    outputs = [build(make(cell, k, input_dim=d, truncate_gradient=K, return_sequences=True, weights=weights))
               .predict(X) for K in (-1, 1, 3, 10)]
    for out in outputs[1:]:
        np.testing.assert_array_equal(out, outputs[0])
    assert build(make(cell, k, input_dim=d, truncate_gradient=2)).layers[0].get_config()["truncate_gradient"] == 2


# ------------------------------------------------------------------------------------
# initializations by name
# ------------------------------------------------------------------------------------

def _w(init, d, k, seed=0):
    """W of a SimpleRNN(k, init=init), shape (d, k)."""
    return build(R.SimpleRNN(k, input_dim=d, init=init), seed=seed).get_weights()[0]


def test_uniform_and_normal():
    w = _w("uniform", 100, 80)
    assert np.max(np.abs(w)) <= 0.05 and np.max(np.abs(w)) > 0.049 and abs(np.mean(w)) < 0.002
    w = _w("normal", 100, 80)
    assert abs(np.std(w) - 0.05) < 0.002 and abs(np.mean(w)) < 0.002


@pytest.mark.parametrize("init,fan", [("lecun_uniform", lambda d, k: 3.0 / d),
                                      ("glorot_uniform", lambda d, k: 6.0 / (d + k)),
                                      ("he_uniform", lambda d, k: 6.0 / d)])
def test_uniform_scaled_inits(init, fan):
    d, k = 60, 90
    w = _w(init, d, k)
    bound = np.sqrt(fan(d, k))
    assert np.max(np.abs(w)) <= bound and np.max(np.abs(w)) > 0.99 * bound
    assert abs(np.std(w) - bound / np.sqrt(3)) < 0.03 * bound


@pytest.mark.parametrize("init,fan", [("glorot_normal", lambda d, k: 2.0 / (d + k)),
                                      ("he_normal", lambda d, k: 2.0 / d)])
def test_normal_scaled_inits(init, fan):
    d, k = 60, 90
    w = _w(init, d, k)
    assert abs(np.std(w) - np.sqrt(fan(d, k))) < 0.03 * np.sqrt(fan(d, k))


@pytest.mark.parametrize("d,k", [(5, 5), (4, 9), (9, 4)])
def test_orthogonal_scale_1_1(d, k):
    w = _w("orthogonal", d, k)
    if d <= k:
        np.testing.assert_allclose(w @ w.T, 1.21 * np.eye(d), atol=1e-12)
    if d >= k:
        np.testing.assert_allclose(w.T @ w, 1.21 * np.eye(k), atol=1e-12)


def test_identity_zero_one():
    model = build(R.SimpleRNN(4, input_dim=4, init="zero", inner_init="identity"))
    W, U, b = model.get_weights()
    np.testing.assert_array_equal(U, np.eye(4))
    assert np.all(W == 0) and np.all(b == 0)
    np.testing.assert_array_equal(_w("one", 3, 4), np.ones((3, 4)))
    np.testing.assert_array_equal(_w("identity", 4, 4), np.eye(4))


def test_seeded_models_are_reproducible():
    a = build(R.LSTM(4, input_dim=3), seed=7).get_weights()
    b = build(R.LSTM(4, input_dim=3), seed=7).get_weights()
    c = build(R.LSTM(4, input_dim=3), seed=8).get_weights()
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(a[0], c[0])


# ------------------------------------------------------------------------------------
# activations
# ------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(ACT))
def test_activation_layer_values(name):
    x = np.linspace(-4, 4, 24).reshape(2, 3, 4)
    model = R.Sequential(dtype="float64")
    model.add(R.Activation(name, input_shape=(3, 4)))
    np.testing.assert_allclose(model.predict(x), ACT[name](x), rtol=1e-13, atol=1e-15)


def test_activation_values_by_hand():
    x = np.array([[-3.0, -2.5, -1.0, 0.0, 1.0, 2.5, 3.0]])
    model = lambda name: build(R.Activation(name, input_shape=(7,)))  # noqa: E731
    np.testing.assert_allclose(model("hard_sigmoid").predict(x), [[0, 0, 0.3, 0.5, 0.7, 1, 1]], atol=1e-15)
    np.testing.assert_allclose(model("relu").predict(x), [[0, 0, 0, 0, 1, 2.5, 3]])
    np.testing.assert_allclose(model("softplus").predict(x), np.log(1 + np.exp(x)), rtol=1e-14)
    np.testing.assert_allclose(model("softmax").predict(x).sum(axis=-1), [1.0])


@pytest.mark.parametrize("activation,bias,slope", [
    ("relu", 0.0, 0.5), ("relu", 1e-3, 1.0), ("relu", -1e-3, 0.0),
    ("hard_sigmoid", 2.5, 0.2), ("hard_sigmoid", -2.5, 0.2), ("hard_sigmoid", 2.5001, 0.0),
    ("hard_sigmoid", -2.6, 0.0), ("hard_sigmoid", 0.3, 0.2)])
def test_activation_derivatives_at_the_kinks(activation, bias, slope):
    """The original's Theano derivatives: relu = 0.5(x+|x|) has slope 0.5 at 0;
    hard_sigmoid has slope 0.2 on the closed interval [-2.5, 2.5]."""
    model = build(R.Dense(1, input_dim=1, activation=activation, weights=[np.zeros((1, 1)), np.array([bias])]))
    grads = model.gradients(np.ones((1, 1)), np.ones((1, 1)))
    assert grads[1][0] == pytest.approx(slope, abs=1e-15)
    # the same rule inside a recurrent cell (SimpleRNN with a = b at the first step)
    rnn = build(R.SimpleRNN(1, input_dim=1, activation=activation,
                            weights=[np.zeros((1, 1)), np.zeros((1, 1)), np.array([bias])]))
    assert rnn.gradients(np.ones((1, 1, 1)), np.ones((1, 1)))[2][0] == pytest.approx(slope, abs=1e-15)


def test_callable_activation():
    """A callable works forward; gradients need its `derivative(x, y)`."""
    def cube(x):
        return x ** 3

    rng = np.random.default_rng(0)
    weights = random_weights([(2, 3), (3, 3), (3,)], rng, 0.5)
    X = rng.normal(size=(2, 4, 2))
    model = build(R.SimpleRNN(3, input_dim=2, activation=cube, weights=weights))
    W, U, b = weights
    h = np.zeros((2, 3))
    for t in range(4):
        h = cube(X[:, t] @ W + b + h @ U)
    np.testing.assert_allclose(model.predict(X), h, rtol=1e-13)
    with pytest.raises(R.ConfigError, match="derivative"):
        model.gradients(X, np.ones((2, 3)))
    cube.derivative = lambda x, y: 3 * x ** 2
    model = build(R.SimpleRNN(3, input_dim=2, activation=cube, weights=weights))
    db = model.gradients(X, np.ones((2, 3)))[2]

    def loss(bias):
        h = np.zeros((2, 3))
        for t in range(4):
            h = cube(X[:, t] @ W + bias + h @ U)
        return h.sum()
    eps = 1e-6
    fd = [(loss(b + eps * e) - loss(b - eps * e)) / (2 * eps) for e in np.eye(3)]
    np.testing.assert_allclose(db, fd, rtol=1e-7)


# ------------------------------------------------------------------------------------
# the other layers
# ------------------------------------------------------------------------------------

def test_embedding(rng):
    E = rng.normal(size=(6, 3))
    model = build(R.Embedding(6, 3, weights=[E]))
    X = np.array([[0, 5, 2], [1, 1, 4]])
    np.testing.assert_array_equal(model.predict(X), E[X])
    assert model.get_weights()[0].shape == (6, 3)
    grads = model.gradients(X, np.ones((2, 3, 3)))
    np.testing.assert_array_equal(grads[0][:, 0], np.bincount(X.ravel(), minlength=6))


def test_embedding_defaults():
    layer = R.Embedding(200, 30, input_length=5)
    model = build(layer)
    E = model.get_weights()[0]
    assert np.max(np.abs(E)) <= 0.05 and np.max(np.abs(E)) > 0.049
    assert layer.get_config() == {"name": "Embedding", "input_dim": 200, "output_dim": 30, "init": "uniform",
                                  "input_length": 5, "mask_zero": False, "activity_regularizer": None,
                                  "W_regularizer": None, "W_constraint": None}
    assert model.predict(np.zeros((2, 5), int)).shape == (2, 5, 30)


def test_embedding_mask_zero_reaches_the_next_layer(rng):
    """With mask_zero the zero ids are masked; without it, index 0 is an ordinary row."""
    E = rng.normal(size=(5, 2))
    weights = random_weights([s for _, s in cell_specs("GRU", 2, 3)], rng, 1.0)
    X = np.array([[0, 0, 3, 4]])
    outs = {}
    for mask_zero in (False, True):
        model = R.Sequential(dtype="float64")
        model.add(R.Embedding(5, 2, mask_zero=mask_zero, weights=[E]))
        model.add(R.GRU(3, weights=weights))
        outs[mask_zero] = model.predict(X)
    unpadded = R.Sequential(dtype="float64")
    unpadded.add(R.Embedding(5, 2, weights=[E]))
    unpadded.add(R.GRU(3, weights=weights))
    np.testing.assert_allclose(outs[True], unpadded.predict(X[:, 2:]), rtol=1e-13)
    assert max_rel_diff(outs[False], outs[True]) > 1e-3


def test_masking_layer(rng):
    model = build(R.Masking(mask_value=2.0, input_shape=(None, 2)))
    X = rng.normal(size=(2, 3, 2))
    X[0, 1] = 2.0
    X[1, 2, 0] = 2.0
    Y = model.predict(X)
    assert np.all(Y[0, 1] == 0)
    np.testing.assert_array_equal(Y[1], X[1])
    np.testing.assert_array_equal(Y[0, [0, 2]], X[0, [0, 2]])
    assert R.Masking().mask_value == 0.0


def test_dense_and_time_distributed_dense(rng):
    W, b = rng.normal(size=(3, 2)), rng.normal(size=2)
    dense = build(R.Dense(2, input_dim=3, activation="tanh", weights=[W, b]))
    x = rng.normal(size=(4, 3))
    np.testing.assert_allclose(dense.predict(x), np.tanh(x @ W + b), rtol=1e-14)
    tdd = R.Sequential(dtype="float64")
    tdd.add(R.TimeDistributedDense(2, input_shape=(None, 3), weights=[W, b]))
    X = rng.normal(size=(4, 5, 3))
    np.testing.assert_allclose(tdd.predict(X), X @ W + b, rtol=1e-14)
    default = build(R.Dense(50, input_dim=40))
    Wd, bd = default.get_weights()
    bound = np.sqrt(6 / 90)
    assert np.max(np.abs(Wd)) <= bound and np.max(np.abs(Wd)) > 0.95 * bound and np.all(bd == 0)
    np.testing.assert_allclose(default.predict(x @ np.zeros((3, 40)) + 1.0), np.ones((4, 40)) @ Wd, rtol=1e-13)


def test_dropout_is_old_style():
    """Prediction multiplies by (1 - p); training multiplies by a 0/1 draw, not rescaled."""
    model = R.Sequential(dtype="float64", seed=0)
    model.add(R.Dropout(0.25, input_shape=(1000,)))
    X = np.full((2, 1000), 2.0)
    np.testing.assert_allclose(model.predict(X), 1.5)
    Y = model.layers[0].forward(X, train=True, rng=np.random.default_rng(0))
    assert set(np.unique(Y)) == {0.0, 2.0}
    assert 0.2 < np.mean(Y == 0) < 0.3
    np.testing.assert_allclose(model.gradients(X, np.ones((2, 1000))), [])


@pytest.mark.parametrize("middle", ["Activation", "Dropout", "TimeDistributedDense"])
def test_layers_that_pass_the_mask_on(rng, middle):
    """Embedding(mask_zero) -> <middle> -> GRU: the mask still reaches the GRU, so a
    left-padded sequence gives the unpadded answer."""
    middle_layer = {"Activation": ("Activation", {"activation": "tanh"}), "Dropout": ("Dropout", {"p": 0.3}),
                    "TimeDistributedDense": ("TimeDistributedDense", {"output_dim": 3})}[middle]
    m = build_model([middle_layer, ("GRU", {"output_dim": 2})], "embedding", "float64", weights=None, vocab=6,
                    features=3)
    m.set_weights(random_weights([w.shape for w in m.get_weights()], rng, 1.0))
    seq = np.array([[3, 1, 5]])
    padded = np.array([[0, 0, 3, 1, 5]])
    np.testing.assert_allclose(m.predict(padded), m.predict(seq), rtol=1e-13)


def test_recurrent_passes_the_mask_only_with_return_sequences(rng):
    def model(rs):
        return build_model([("LSTM", {"output_dim": 3, "return_sequences": rs}),
                            ("GRU" if rs else "Dense", {"output_dim": 2})],
                           "embedding", "float64", weights=None, vocab=6, features=3)
    m = model(True)
    m.set_weights(random_weights([w.shape for w in m.get_weights()], rng, 1.0))
    np.testing.assert_allclose(m.predict(np.array([[0, 0, 3, 1]])), m.predict(np.array([[3, 1]])), rtol=1e-13)
    m = model(False)
    assert m.predict(np.array([[0, 0, 3, 1]])).shape == (1, 2)


KERAS_SIGNATURES = {  # Keras 0.2.0's positional order after output_dim (the seed document)
    "SimpleRNN": ["init", "inner_init", "activation", "weights", "truncate_gradient", "return_sequences",
                  "input_dim", "input_length"],
    "SimpleDeepRNN": ["depth", "init", "inner_init", "activation", "inner_activation", "weights",
                      "truncate_gradient", "return_sequences", "input_dim", "input_length"],
    "GRU": ["init", "inner_init", "activation", "inner_activation", "weights", "truncate_gradient",
            "return_sequences", "input_dim", "input_length"],
    "LSTM": ["init", "inner_init", "forget_bias_init", "activation", "inner_activation", "weights",
             "truncate_gradient", "return_sequences", "input_dim", "input_length"],
}
for _jzs in ("JZS1", "JZS2", "JZS3"):
    KERAS_SIGNATURES[_jzs] = KERAS_SIGNATURES["GRU"]


@pytest.mark.parametrize("cell", CELLS)
def test_positional_arguments_in_keras_order(rng, cell):
    d, k = 3, 4
    values = {"depth": 2, "init": "one", "inner_init": "zero", "forget_bias_init": "zero", "activation": "linear",
              "inner_activation": "tanh", "truncate_gradient": 2, "return_sequences": True,
              "input_dim": d, "input_length": 5}
    depth = 2 if cell == "SimpleDeepRNN" else 3
    values["weights"] = random_weights([s for _, s in cell_specs(cell, d, k, depth)], rng, 1.0)
    layer = getattr(R, cell)(k, *[values[name] for name in KERAS_SIGNATURES[cell]])
    model = build(layer)
    config = layer.get_config()
    for name in KERAS_SIGNATURES[cell]:
        if name != "weights":
            assert config[name] == values[name], name
    for a, b in zip(model.get_weights(), values["weights"]):
        np.testing.assert_array_equal(a, b)
    assert model.predict(np.zeros((1, 5, d))).shape == (1, 5, k)
