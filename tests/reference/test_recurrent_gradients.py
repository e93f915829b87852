"""Finite-difference checks of `Sequential.gradients` for every recurrent cell.

The oracle is tests/reference/helpers.py, an independent per-step re-implementation
of SPEC. Full BPTT (truncate_gradient=-1) is checked against central differences of
sum(Y * G); truncated BPTT against central differences of the truncated surrogate
(history before T-K frozen at the unperturbed run, see helpers.Oracle.fd_gradients).
Each case also checks the forward pass against the oracle to 1e-10.
"""
import numpy as np
import pytest

from .helpers import (Act, Cell, Dense, Embedding, Masking, Oracle, Probe, draw_weights, mask_pattern,
                      max_rel_diff, record, reference_model, rel_error, token_ids)

N, T, D, K, VOCAB = 3, 6, 3, 4, 7
FD_TOL = 1e-6
FWD_TOL = 1e-10
KINK_MARGIN = 1e-3  # no kinked activation input within this of its kink (FD steps are <= 2e-4)

CELL_CONFIGS = {
    "SimpleRNN": ("SimpleRNN", {}),
    "SimpleDeepRNN-1": ("SimpleDeepRNN", {"depth": 1}),
    "SimpleDeepRNN-2": ("SimpleDeepRNN", {"depth": 2}),
    "SimpleDeepRNN-3": ("SimpleDeepRNN", {"depth": 3}),
    "GRU": ("GRU", {}),
    "LSTM": ("LSTM", {}),
    "JZS1": ("JZS1", {}),
    "JZS2": ("JZS2", {}),
    "JZS3": ("JZS3", {}),
}
# a non-default (activation, inner_activation) pair per configuration
OTHER_ACTIVATIONS = {
    "SimpleRNN": ("softplus", None),
    "SimpleDeepRNN-1": ("tanh", "relu"),
    "SimpleDeepRNN-2": ("linear", "tanh"),
    "SimpleDeepRNN-3": ("softplus", "sigmoid"),
    "GRU": ("tanh", "sigmoid"),
    "LSTM": ("softplus", "sigmoid"),
    "JZS1": ("sigmoid", "hard_sigmoid"),
    "JZS2": ("relu", "hard_sigmoid"),
    "JZS3": ("softplus", "tanh"),
}
SOURCES = [("none", "float"), ("none", "embedding"),
           ("left", "embedding"), ("right", "embedding"), ("holes", "embedding"),
           ("left", "masking"), ("right", "masking"), ("holes", "masking")]


def build_case(rng, config, activations, kind, source, return_sequences, truncate_gradient):
    cell, extra = CELL_CONFIGS[config]
    f, g = activations
    layer = Cell(cell, K, activation=f, inner_activation=g, return_sequences=return_sequences,
                 truncate_gradient=truncate_gradient, **extra)
    mask = mask_pattern(kind, N, T)
    if source == "embedding":
        oracle = Oracle([Embedding(VOCAB, D, mask_zero=True), layer], None)
        X = token_ids(rng, mask, VOCAB)
    elif source == "masking":
        value = -1.0
        oracle = Oracle([Masking(value), layer], D)
        X = rng.normal(size=(N, T, D))
        X[mask == 0] = value
    else:
        oracle = Oracle([layer], D)
        X = rng.normal(size=(N, T, D))
    weights = draw_weights(oracle, X, rng)
    G = rng.normal(size=(N, T, K) if return_sequences else (N, K))
    return oracle, weights, X, G


def check(oracle, weights, X, G, input_dim, label):
    model = reference_model(oracle, weights, input_dim)
    probe = Probe()
    expected = oracle.predict(weights, X, probe)
    Y = model.predict(X)
    assert Y.shape == expected.shape
    assert record("forward vs oracle (float64)", max_rel_diff(Y, expected)) < FWD_TOL
    fd = oracle.fd_gradients(weights, X, G, probe=probe)
    assert probe.margin > KINK_MARGIN, "an activation input sits on a kink: FD not valid there"
    grads = model.gradients(X, G)
    assert [gr.shape for gr in grads] == [w.shape for w in weights]
    err = record(f"FD gradient {label}", rel_error(grads, fd))
    assert err < FD_TOL, f"relative error {err:.2e}"
    return err


@pytest.mark.parametrize("truncate_gradient", [-1, 1, 3])
@pytest.mark.parametrize("return_sequences", [False, True], ids=["last", "seq"])
@pytest.mark.parametrize("kind,source", SOURCES, ids=[f"{k}-{s}" for k, s in SOURCES])
@pytest.mark.parametrize("pair", ["default", "other"])
@pytest.mark.parametrize("config", list(CELL_CONFIGS))
def test_gradients_match_finite_differences(rng, config, pair, kind, source, return_sequences,
                                            truncate_gradient):
    activations = (None, None) if pair == "default" else OTHER_ACTIVATIONS[config]
    oracle, weights, X, G = build_case(rng, config, activations, kind, source, return_sequences,
                                       truncate_gradient)
    check(oracle, weights, X, G, D, f"{config}, K={truncate_gradient}")


@pytest.mark.parametrize("kind", ["none", "left", "right", "holes"])
@pytest.mark.parametrize("truncations", [(-1, -1), (3, -1), (-1, 2), (4, 1)])
def test_stacked_model(rng, kind, truncations):
    """Embedding(mask_zero) -> LSTM(return_sequences) -> GRU -> Dense -> softmax."""
    t_lstm, t_gru = truncations
    oracle = Oracle([Embedding(VOCAB, D, mask_zero=True),
                     Cell("LSTM", 5, return_sequences=True, truncate_gradient=t_lstm),
                     Cell("GRU", 4, activation="tanh", truncate_gradient=t_gru),
                     Dense(3), Act("softmax")], None)
    mask = mask_pattern(kind, N, T)
    X = token_ids(rng, mask, VOCAB)
    weights = draw_weights(oracle, X, rng)
    G = rng.normal(size=(N, 3))
    check(oracle, weights, X, G, None, "stacked model")


@pytest.mark.parametrize("truncate_gradient", [-1, 3])
@pytest.mark.parametrize("config,activations", [
    ("SimpleDeepRNN-2", (None, None)), ("GRU", (None, None)), ("LSTM", (None, None)),
    ("JZS1", ("relu", "hard_sigmoid")), ("JZS3", ("tanh", "hard_sigmoid")), ("SimpleRNN", ("relu", None))])
def test_gradients_with_saturated_gates(rng, config, activations, truncate_gradient):
    """Large weights: hard_sigmoid inputs beyond +-2.5 and relu inputs below 0 (slope 0)."""
    oracle, _, X, G = build_case(rng, config, activations, "holes", "embedding", True, truncate_gradient)
    weights = draw_weights(oracle, X, rng, scale=2.5)
    probe = Probe()
    oracle.predict(weights, X, probe)
    assert probe.flat_side > 0
    check(oracle, weights, X, G, None, f"{config}, saturated")


@pytest.mark.parametrize("config", list(CELL_CONFIGS))
def test_truncation_changes_the_gradient(rng, config):
    """The truncated oracle is not the full gradient (so the checks above have teeth),
    and truncate_gradient >= T gives the full gradient."""
    oracle, weights, X, G = build_case(rng, config, (None, None), "none", "embedding", True, 2)
    full = Oracle(oracle.layers[:1] + [Cell(oracle.layers[1].cell, K, depth=oracle.layers[1].depth,
                                            return_sequences=True)], None)
    fd_full = full.fd_gradients(weights, X, G)
    fd_trunc = oracle.fd_gradients(weights, X, G)
    assert rel_error(fd_trunc, fd_full) > 1e-2
    grads_trunc = reference_model(oracle, weights).gradients(X, G)
    assert rel_error(grads_trunc, fd_full) > 1e-2
    # the embedding rows of tokens that only occur before T-K get nothing
    early_only = set(X[:, :T - 2].ravel()) - set(X[:, T - 2:].ravel())
    for token in early_only:
        assert np.all(grads_trunc[0][token] == 0)
    for K_big in (T, T + 5):
        long = Oracle(oracle.layers[:1] + [Cell(oracle.layers[1].cell, K, depth=oracle.layers[1].depth,
                                                return_sequences=True, truncate_gradient=K_big)], None)
        grads = reference_model(long, weights).gradients(X, G)
        assert rel_error(grads, fd_full) < FD_TOL


@pytest.mark.parametrize("config", list(CELL_CONFIGS))
@pytest.mark.parametrize("truncate_gradient", [-1, 1])
def test_length_one_sequences(rng, config, truncate_gradient):
    cell, extra = CELL_CONFIGS[config]
    oracle = Oracle([Embedding(VOCAB, D, mask_zero=True),
                     Cell(cell, K, return_sequences=True, truncate_gradient=truncate_gradient, **extra)], None)
    X = np.array([[3], [0], [5]])
    weights = draw_weights(oracle, X, rng)
    G = rng.normal(size=(3, 1, K))
    check(oracle, weights, X, G, None, "T=1")


@pytest.mark.parametrize("config", list(CELL_CONFIGS))
@pytest.mark.parametrize("truncate_gradient", [-1, 2])
def test_input_gradients(rng, config, truncate_gradient):
    """dX of a recurrent layer on float input with a mask with holes (what a layer below
    it receives), against finite differences of the oracle with respect to X."""
    cell, extra = CELL_CONFIGS[config]
    layer = Cell(cell, K, return_sequences=True, truncate_gradient=truncate_gradient, **extra)
    oracle = Oracle([layer], D)
    X = rng.normal(size=(N, T, D))
    mask = mask_pattern("holes", N, T)
    weights = draw_weights(oracle, X, rng)
    G = rng.normal(size=(N, T, K))
    ref = reference_model(oracle, weights, D).layers[0]
    ref.forward(X, mask)
    dX, _ = ref.backward(G)

    w = oracle._unflatten([np.asarray(v)[None] for v in weights])[0]
    _, frozen = layer.run(w, X[None], mask, Probe())
    eps, size = 1e-4, X.size
    steps = (eps, -eps, 2 * eps, -2 * eps)
    Xs = np.repeat(X[None], len(steps) * size, axis=0)
    flat = Xs.reshape(len(steps), size, size)
    for j, step in enumerate(steps):
        flat[j, np.arange(size), np.arange(size)] += step
    probe = Probe()
    Y, _ = layer.run(w, Xs, mask, probe, frozen)
    L = np.sum((Y * G[None]).reshape(len(steps), size, -1), axis=2)
    fd = ((8.0 * (L[0] - L[1]) - (L[2] - L[3])) / (12.0 * eps)).reshape(X.shape)
    assert probe.margin > KINK_MARGIN
    if truncate_gradient > 0:
        assert np.all(dX[:, :T - truncate_gradient] == 0)
    assert record("FD input gradient dX", rel_error([dX], [fd])) < FD_TOL
