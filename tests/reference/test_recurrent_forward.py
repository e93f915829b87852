"""Forward checks of the recurrent layers against sources that do not share their code:

- the ONNX operator definitions' own NumPy reference implementations (the backend
  node-test generators' LSTMHelper / GRUHelper / RNNHelper), after mapping the Keras
  weight order and layout to ONNX's;
- closed forms: SimpleDeepRNN(depth=1, linear lags) is SimpleRNN; left padding is
  invisible; right padding is not; a masked step resets the state; SimpleDeepRNN's lag
  masks, with hand-computed values;
- float32 and float64.

(The per-step oracle of tests/reference/helpers.py is compared with every cell, mask
kind and mask source in test_recurrent_gradients.py.)
"""
import numpy as np
import pytest

import reference as R

from .helpers import (CELLS, Cell, Embedding, Masking, Oracle, cell_specs, max_rel_diff, random_weights,
                      record)

FWD_TOL = 1e-10


def single_layer(layer, weights=None, dtype="float64"):
    model = R.Sequential(dtype=dtype)
    model.add(layer)
    if weights is not None:
        model.set_weights(weights)
    return model


# ------------------------------------------------------------------------------------
# ONNX operator definitions
# ------------------------------------------------------------------------------------

def _onnx_helper(module, name):
    mod = pytest.importorskip(f"onnx.backend.test.case.node.{module}")
    return getattr(mod, name)


def _keras_to_onnx(weights, names, onnx_order, rng):
    """Keras per-gate (W (d,k), U (k,k), b (k,)) -> ONNX W (1, G*k, d), R (1, G*k, k),
    B (1, 2*G*k) with the bias split at random between Wb and Rb (ONNX adds them)."""
    w = dict(zip(names, weights))
    Wo = np.concatenate([w[f"W_{g}"].T for g in onnx_order])[None]
    Ro = np.concatenate([w[f"U_{g}"].T for g in onnx_order])[None]
    Wb = [rng.uniform(-1, 1, size=w[f"b_{g}"].shape) for g in onnx_order]
    Rb = [w[f"b_{g}"] - wb for g, wb in zip(onnx_order, Wb)]
    return Wo, Ro, np.concatenate(Wb + Rb)[None]


@pytest.mark.parametrize("n,T,d,k", [(1, 3, 2, 5), (4, 7, 3, 6), (2, 1, 4, 4)])
def test_lstm_matches_onnx_definition(rng, n, T, d, k):
    LSTMHelper = _onnx_helper("lstm", "LSTMHelper")
    names = [name for name, _ in cell_specs("LSTM", d, k)]
    weights = random_weights([s for _, s in cell_specs("LSTM", d, k)], rng, scale=1.0)
    X = rng.normal(size=(n, T, d))
    W, Rm, B = _keras_to_onnx(weights, names, "iofc", rng)  # ONNX gate order i, o, f, c
    Y, Y_h, Y_c = LSTMHelper(X=X.transpose(1, 0, 2), W=W, R=Rm, B=B).step()
    model = single_layer(R.LSTM(k, input_dim=d, activation="tanh", inner_activation="sigmoid",
                                return_sequences=True), weights)
    ours = model.predict(X)
    assert record("forward vs ONNX LSTMHelper", max_rel_diff(ours, Y[:, 0].transpose(1, 0, 2))) < FWD_TOL
    last = single_layer(R.LSTM(k, input_dim=d, activation="tanh", inner_activation="sigmoid"), weights)
    assert max_rel_diff(last.predict(X), Y_h[0]) < FWD_TOL


@pytest.mark.parametrize("n,T,d,k", [(1, 3, 2, 5), (4, 7, 3, 6), (2, 1, 4, 4)])
def test_gru_matches_onnx_definition(rng, n, T, d, k):
    GRUHelper = _onnx_helper("gru", "GRUHelper")
    names = [name for name, _ in cell_specs("GRU", d, k)]
    weights = random_weights([s for _, s in cell_specs("GRU", d, k)], rng, scale=1.0)
    X = rng.normal(size=(n, T, d))
    W, Rm, B = _keras_to_onnx(weights, names, "zrh", rng)
    Y, Y_h = GRUHelper(X=X.transpose(1, 0, 2), W=W, R=Rm, B=B, linear_before_reset=0).step()
    model = single_layer(R.GRU(k, input_dim=d, activation="tanh", inner_activation="sigmoid",
                               return_sequences=True), weights)
    assert record("forward vs ONNX GRUHelper", max_rel_diff(model.predict(X), Y[:, 0].transpose(1, 0, 2))) < FWD_TOL
    last = single_layer(R.GRU(k, input_dim=d, activation="tanh", inner_activation="sigmoid"), weights)
    assert max_rel_diff(last.predict(X), Y_h[0]) < FWD_TOL


@pytest.mark.parametrize("n,T,d,k", [(1, 3, 2, 5), (4, 7, 3, 6), (2, 1, 4, 4)])
def test_simple_rnn_matches_onnx_definition(rng, n, T, d, k):
    RNNHelper = _onnx_helper("rnn", "RNNHelper")
    W, U, b = random_weights([(d, k), (k, k), (k,)], rng, scale=1.0)
    Wb = rng.uniform(-1, 1, size=k)
    X = rng.normal(size=(n, T, d))
    Y, Y_h = RNNHelper(X=X.transpose(1, 0, 2), W=W.T[None], R=U.T[None],
                       B=np.concatenate([Wb, b - Wb])[None]).step()
    model = single_layer(R.SimpleRNN(k, input_dim=d, activation="tanh", return_sequences=True), [W, U, b])
    assert record("forward vs ONNX RNNHelper", max_rel_diff(model.predict(X), Y[:, 0].transpose(1, 0, 2))) < FWD_TOL
    last = single_layer(R.SimpleRNN(k, input_dim=d, activation="tanh"), [W, U, b])
    assert max_rel_diff(last.predict(X), Y_h[0]) < FWD_TOL


def test_onnx_default_examples():
    """The ONNX test-case inputs themselves (weights 0.1 everywhere), float64."""
    LSTMHelper = _onnx_helper("lstm", "LSTMHelper")
    GRUHelper = _onnx_helper("gru", "GRUHelper")
    X = np.array([[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]])  # ONNX layout (time 1, batch 3, input 2)
    k = 3
    W4, R4 = 0.1 * np.ones((1, 4 * k, 2)), 0.1 * np.ones((1, 4 * k, k))
    _, Y_h, _ = LSTMHelper(X=X, W=W4, R=R4).step()
    lstm = [0.1 * np.ones((2, k)), 0.1 * np.ones((k, k)), np.zeros(k)] * 4
    ours = single_layer(R.LSTM(k, input_dim=2, activation="tanh", inner_activation="sigmoid"), lstm)
    assert max_rel_diff(ours.predict(X.transpose(1, 0, 2)), Y_h[0]) < FWD_TOL
    W3, R3 = 0.1 * np.ones((1, 3 * k, 2)), 0.1 * np.ones((1, 3 * k, k))
    _, Y_h = GRUHelper(X=X, W=W3, R=R3).step()
    gru = [0.1 * np.ones((2, k)), 0.1 * np.ones((k, k)), np.zeros(k)] * 3
    ours = single_layer(R.GRU(k, input_dim=2, activation="tanh", inner_activation="sigmoid"), gru)
    assert max_rel_diff(ours.predict(X.transpose(1, 0, 2)), Y_h[0]) < FWD_TOL


# ------------------------------------------------------------------------------------
# closed forms
# ------------------------------------------------------------------------------------

def _cell_weights(cell, d, k, rng, depth=3, scale=0.8):
    return random_weights([s for _, s in cell_specs(cell, d, k, depth)], rng, scale)


def _cell_layer(cell, k, depth=3, **kw):
    if cell == "SimpleDeepRNN":
        kw["depth"] = depth
    return getattr(R, cell)(k, **kw)


CELL_DEPTHS = [(c, 3) for c in CELLS] + [("SimpleDeepRNN", 1), ("SimpleDeepRNN", 2)]
IDS = [f"{c}-{d}" if c == "SimpleDeepRNN" else c for c, d in CELL_DEPTHS]


def lookback(cell, depth):
    """How many steps back a cell reads: SimpleDeepRNN's depth, else 1."""
    return depth if cell == "SimpleDeepRNN" else 1


def embedding_model(cell, k, vocab, dim, weights, depth=3, **kw):
    model = R.Sequential(dtype="float64")
    model.add(R.Embedding(vocab, dim, mask_zero=True))
    model.add(_cell_layer(cell, k, depth, **kw))
    model.set_weights(weights)
    return model


@pytest.mark.parametrize("mask_kind", ["none", "holes"])
def test_simple_deep_rnn_depth_one_with_linear_lags_is_simple_rnn(rng, mask_kind):
    d, k = 3, 4
    W, U, b = random_weights([(d, k), (k, k), (k,)], rng, 1.0)
    X = rng.normal(size=(3, 6, d))
    if mask_kind == "holes":
        X[1, 2] = 0.0
        X[2, [0, 4]] = 0.0
    for rs in (False, True):
        deep = R.Sequential(dtype="float64")
        deep.add(R.Masking(input_shape=(None, d)))
        deep.add(R.SimpleDeepRNN(k, depth=1, activation="tanh", inner_activation="linear", return_sequences=rs))
        deep.set_weights([W, U, b])
        simple = R.Sequential(dtype="float64")
        simple.add(R.Masking(input_shape=(None, d)))
        simple.add(R.SimpleRNN(k, activation="tanh", return_sequences=rs))
        simple.set_weights([W, U, b])
        assert max_rel_diff(deep.predict(X), simple.predict(X)) < 1e-12
        G = rng.normal(size=(3, 6, k) if rs else (3, k))
        for gd, gs in zip(deep.gradients(X, G), simple.gradients(X, G)):
            np.testing.assert_allclose(gd, gs, rtol=1e-12, atol=1e-14)
    # and with the default hard_sigmoid lags it is not
    deep = single_layer(R.SimpleDeepRNN(k, depth=1, activation="tanh", input_dim=d), [W, U, b])
    simple = single_layer(R.SimpleRNN(k, activation="tanh", input_dim=d), [W, U, b])
    assert max_rel_diff(deep.predict(X), simple.predict(X)) > 1e-3


@pytest.mark.parametrize("cell,depth", CELL_DEPTHS, ids=IDS)
def test_left_padding_is_invisible(rng, cell, depth):
    k, vocab, dim = 4, 9, 3
    weights = [rng.uniform(-1, 1, size=(vocab, dim))] + _cell_weights(cell, dim, k, rng, depth)
    seq = rng.integers(1, vocab, size=5)
    for pad in (1, 2, 4):
        padded = np.concatenate([np.zeros(pad, int), seq])[None]
        last = embedding_model(cell, k, vocab, dim, weights, depth)
        assert max_rel_diff(last.predict(padded), last.predict(seq[None])) < 1e-13
        full = embedding_model(cell, k, vocab, dim, weights, depth, return_sequences=True)
        assert max_rel_diff(full.predict(padded)[:, pad:], full.predict(seq[None])) < 1e-13
    # the same through Masking on float input
    E = weights[0]
    Xf = E[seq][None]
    Xp = np.concatenate([np.full((1, 3, dim), 7.0), Xf], axis=1)
    model = R.Sequential(dtype="float64")
    model.add(R.Masking(mask_value=7.0, input_shape=(None, dim)))
    model.add(_cell_layer(cell, k, depth))
    model.set_weights(weights[1:])
    assert max_rel_diff(model.predict(Xp), model.predict(Xf)) < 1e-13


@pytest.mark.parametrize("cell,depth", CELL_DEPTHS, ids=IDS)
def test_right_padding_is_not_invisible(rng, cell, depth):
    """The cell keeps running over right padding, from a reset state: with more pads
    than the cell looks back (depth for SimpleDeepRNN, else 1) the last output is the
    output of a lone padding step, whatever came before."""
    k, vocab, dim = 4, 9, 3
    weights = [rng.uniform(-1, 1, size=(vocab, dim))] + _cell_weights(cell, dim, k, rng, depth)
    model = embedding_model(cell, k, vocab, dim, weights, depth)
    seq = rng.integers(1, vocab, size=5)
    pads = lookback(cell, depth) + 1
    padded = np.concatenate([seq, np.zeros(pads, int)])[None]
    assert max_rel_diff(model.predict(padded), model.predict(seq[None])) > 1e-3
    lone_pad = model.predict(np.zeros((1, 1), int))
    assert max_rel_diff(model.predict(padded), lone_pad) < 1e-13
    other = np.concatenate([rng.integers(1, vocab, size=3), np.zeros(pads, int)])[None]
    assert max_rel_diff(model.predict(other), lone_pad) < 1e-13


@pytest.mark.parametrize("cell,depth", CELL_DEPTHS, ids=IDS)
def test_masked_steps_reset_the_state(rng, cell, depth):
    k, vocab, dim = 4, 9, 3
    weights = [rng.uniform(-1, 1, size=(vocab, dim))] + _cell_weights(cell, dim, k, rng, depth)
    model = embedding_model(cell, k, vocab, dim, weights, depth, return_sequences=True)
    head, tail = rng.integers(1, vocab, size=3), rng.integers(1, vocab, size=3)
    hole = np.zeros(lookback(cell, depth), int)
    with_hole = model.predict(np.concatenate([head, hole, tail])[None])
    # after the hole, the cell runs as if the sequence started there
    assert max_rel_diff(with_hole[:, 3 + len(hole):], model.predict(tail[None])) < 1e-13
    # outputs are still computed at the masked steps (from the padding row, carried state)
    assert max_rel_diff(with_hole[:, :4], model.predict(np.concatenate([head, [0]])[None])) < 1e-13
    assert np.all(np.abs(with_hole[:, 3]) > 0)
    # a masked step does not freeze the state: the output after it differs from skipping it
    skipped = model.predict(np.concatenate([head, tail])[None])
    assert max_rel_diff(with_hole[:, 3 + len(hole)], skipped[:, 3]) > 1e-3


def test_simple_deep_rnn_lag_masks_by_hand():
    """depth 2, linear f, hard_sigmoid lags, W=0, b=0, U_1=U_2=1, k=1:
    h[t] = sum_j m[t-j] * hs(h[t-j]), lags before the start contribute nothing, although
    hs(0) = 0.5 (so this tells the rule apart from 'missing lags are zero states')."""
    hs = lambda x: min(max(0.2 * x + 0.5, 0.0), 1.0)  # noqa: E731
    weights = [np.zeros((1, 1)), np.ones((1, 1)), np.ones((1, 1)), np.zeros(1)]
    model = R.Sequential(dtype="float64")
    model.add(R.Masking(mask_value=-1.0, input_shape=(None, 1)))
    model.add(R.SimpleDeepRNN(1, depth=2, activation="linear", return_sequences=True))
    model.set_weights(weights)
    X = np.zeros((2, 4, 1))
    X[1, 1] = -1.0  # masked step 1 in sample 1
    Y = model.predict(X)[..., 0]
    expected0 = [0.0, 0.5, hs(0.5) + 0.5, hs(hs(0.5) + 0.5) + hs(0.5)]  # 0, .5, 1.1, 1.32
    expected1 = [0.0, 0.5, 0.0 + 0.5, hs(0.5) + 0.0]                    # 0, .5, .5, .6
    np.testing.assert_allclose(Y[0], expected0, rtol=1e-14)
    np.testing.assert_allclose(Y[1], expected1, rtol=1e-14)
    np.testing.assert_allclose(Y[0], [0.0, 0.5, 1.1, 1.32], rtol=1e-14)


def test_lstm_one_step_by_hand():
    """One step from the zero state: c = i * f(xc), h = o * f(c); hard_sigmoid gates."""
    x = np.array([[[0.3, -1.2]]])
    weights = []
    cols = {"i": [0.5, 1.0], "c": [2.0, -0.5], "f": [9.0, 9.0], "o": [-1.0, 0.25]}
    bias = {"i": 0.1, "c": -0.2, "f": 1.0, "o": 0.3}
    for g in "icfo":
        weights += [np.array(cols[g])[:, None], np.array([[3.0]]), np.array([bias[g]])]
    model = single_layer(R.LSTM(1, input_dim=2), weights)
    hs = lambda v: min(max(0.2 * v + 0.5, 0.0), 1.0)  # noqa: E731
    pre = {g: 0.3 * cols[g][0] - 1.2 * cols[g][1] + bias[g] for g in "icfo"}
    c = hs(pre["i"]) * np.tanh(pre["c"])
    assert np.isclose(model.predict(x)[0, 0], hs(pre["o"]) * np.tanh(c), rtol=1e-15)


def test_gru_one_step_by_hand():
    """From the zero state, h = (1 - z) * f(xh): z from hard_sigmoid, f sigmoid (defaults)."""
    weights = []
    for g, (wv, bv) in zip("zrh", [(0.7, 0.1), (5.0, 5.0), (-0.4, 0.2)]):
        weights += [np.array([[wv]]), np.array([[2.0]]), np.array([bv])]
    model = single_layer(R.GRU(1, input_dim=1), weights)
    x = 0.9
    z = min(max(0.2 * (0.7 * x + 0.1) + 0.5, 0.0), 1.0)
    hh = 1.0 / (1.0 + np.exp(-(-0.4 * x + 0.2)))
    assert np.isclose(model.predict(np.array([[[x]]]))[0, 0], (1 - z) * hh, rtol=1e-15)


@pytest.mark.parametrize("cell", ["JZS1", "JZS2", "JZS3"])
def test_jzs_one_step_by_hand(rng, cell):
    """From the zero state every JZS cell gives h = z * f(candidate)."""
    d, k = 3, 2
    names = [n for n, _ in cell_specs(cell, d, k)]
    weights = random_weights([s for _, s in cell_specs(cell, d, k)], rng, 1.0)
    w = dict(zip(names, weights))
    x = rng.normal(size=(1, 1, d))
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    z = sig(x[0] @ w["W_z"] + w["b_z"])
    if cell == "JZS1":
        cand = np.tanh(np.tanh(x[0] @ w["P"]) + w["b_h"])
    else:
        cand = np.tanh(x[0] @ w["W_h"] + w["b_h"])
    model = single_layer(getattr(R, cell)(k, input_dim=d), weights)
    assert max_rel_diff(model.predict(x), z * cand) < 1e-14


# ------------------------------------------------------------------------------------
# dtypes
# ------------------------------------------------------------------------------------

@pytest.mark.parametrize("cell,depth", CELL_DEPTHS, ids=IDS)
def test_float32_and_float64(rng, cell, depth):
    k, vocab, dim, n, T = 5, 8, 3, 4, 7
    weights = [rng.uniform(-1, 1, size=(vocab, dim))] + _cell_weights(cell, dim, k, rng, depth)
    X = rng.integers(0, vocab, size=(n, T))
    oracle = Oracle([Embedding(vocab, dim, mask_zero=True), Cell(cell, k, depth=depth, return_sequences=True)], None)
    expected = oracle.predict(weights, X)
    G = rng.normal(size=(n, T, k))
    for dtype, tol in (("float64", FWD_TOL), ("float32", 1e-5)):
        model = R.Sequential(dtype=dtype)
        model.add(R.Embedding(vocab, dim, mask_zero=True))
        model.add(_cell_layer(cell, k, depth, return_sequences=True))
        model.set_weights(weights)
        Y = model.predict(X)
        assert Y.dtype == np.dtype(dtype)
        assert all(w.dtype == np.dtype(dtype) for w in model.get_weights())
        assert record(f"forward vs oracle ({dtype})", max_rel_diff(Y, expected)) < tol
        grads = model.gradients(X, G)
        assert all(g.dtype == np.dtype(dtype) for g in grads)
        if dtype == "float64":
            g64 = grads
        else:
            for a, b in zip(grads, g64):
                if np.any(b):
                    assert record("float32 vs float64 gradients", max_rel_diff(a, b)) < 1e-4
                else:
                    assert not np.any(a)


def test_float32_input_to_float64_model_and_back(rng):
    d, k = 3, 4
    weights = _cell_weights("LSTM", d, k, rng)
    X = rng.normal(size=(2, 5, d))
    m64 = single_layer(R.LSTM(k, input_dim=d), weights, "float64")
    m32 = single_layer(R.LSTM(k, input_dim=d), weights, "float32")
    assert m64.predict(X.astype(np.float32)).dtype == np.float64
    assert m32.predict(X).dtype == np.float32
    np.testing.assert_allclose(m32.predict(X), m64.predict(X.astype(np.float32)), rtol=1e-5, atol=1e-6)


def test_masking_layer_source_matches_oracle(rng):
    """Masking with a non-zero mask_value zeroes the masked steps before the cell."""
    d, k = 3, 4
    oracle = Oracle([Masking(0.5), Cell("GRU", k, return_sequences=True)], d)
    weights = random_weights(oracle.flat_shapes, rng, 1.0)
    X = rng.normal(size=(3, 6, d))
    X[0, 2] = 0.5
    X[2, :3] = 0.5
    X[1, 4, 0] = 0.5  # only one feature equal: not masked
    model = R.Sequential(dtype="float64")
    model.add(R.Masking(mask_value=0.5, input_shape=(None, d)))
    model.add(R.GRU(k, return_sequences=True))
    model.set_weights(weights)
    assert max_rel_diff(model.predict(X), oracle.predict(weights, X)) < FWD_TOL
