"""Sequential: SPEC's public contract (predict, gradients, get/set_weights, dtype,
summary) on whole models, checked against the independent oracle."""
import numpy as np
import pytest

import reference as R

from .helpers import (Act, Cell, Dense, Embedding, Oracle, Probe, draw_weights, mask_pattern, max_rel_diff,
                      random_weights, record, rel_error, token_ids)


def test_spec_contract_example(rng):
    """The example of SPEC's contract, checked against the oracle (forward and FD)."""
    oracle = Oracle([Embedding(11, 5, mask_zero=True), Cell("LSTM", 7, return_sequences=True, truncate_gradient=3)],
                    None)
    X = token_ids(rng, mask_pattern("holes", 4, 8), 11)
    E = rng.uniform(-1, 1, size=(11, 5))
    lstm = draw_weights(oracle, X, rng)[1:]
    model = R.Sequential(dtype="float64")
    model.add(R.Embedding(11, 5, mask_zero=True, weights=[E]))
    model.add(R.LSTM(7, return_sequences=True, truncate_gradient=3, weights=lstm))
    Y = model.predict(X)
    assert Y.shape == (4, 8, 7)
    assert max_rel_diff(Y, oracle.predict([E] + lstm, X)) < 1e-10
    G = rng.normal(size=Y.shape)
    grads = model.gradients(X, G)
    assert [g.shape for g in grads] == [w.shape for w in model.get_weights()]
    probe = Probe()
    fd = oracle.fd_gradients([E] + lstm, X, G, probe=probe)
    assert probe.margin > 1e-3
    assert record("FD gradient SPEC example", rel_error(grads, fd)) < 1e-6


def test_default_dtype_is_float32(rng):
    model = R.Sequential()
    model.add(R.GRU(3, input_dim=2))
    assert model.dtype == np.float32
    assert all(w.dtype == np.float32 for w in model.get_weights())
    assert model.predict(rng.normal(size=(2, 4, 2))).dtype == np.float32


@pytest.mark.parametrize("batch_size", [1, 2, 3, 128])
def test_predict_in_batches(rng, batch_size):
    model = R.Sequential(dtype="float64")
    model.add(R.Embedding(6, 3, mask_zero=True))
    model.add(R.LSTM(4, return_sequences=True))
    model.add(R.GRU(2))
    model.set_weights(random_weights([w.shape for w in model.get_weights()], rng, 1.0))
    X = token_ids(rng, mask_pattern("left", 7, 5), 6)
    whole = np.concatenate([model.predict(X[i:i + 1]) for i in range(7)])
    np.testing.assert_allclose(model.predict(X, batch_size=batch_size), whole, rtol=1e-13)


def test_get_and_set_weights(rng):
    model = R.Sequential(dtype="float64")
    model.add(R.Embedding(6, 3))
    model.add(R.SimpleDeepRNN(4, depth=2, return_sequences=True))
    model.add(R.TimeDistributedDense(2))
    model.add(R.JZS1(3))
    model.add(R.Dense(2))
    shapes = [(6, 3)] + [(3, 4), (4, 4), (4, 4), (4,)] + [(4, 2), (2,)] + \
        [(2, 3), (3,), (2, 3), (3, 3), (3,), (3, 3), (3,), (2, 3)] + [(3, 2), (2,)]
    assert [w.shape for w in model.get_weights()] == shapes
    weights = random_weights(shapes, rng, 1.0)
    model.set_weights(weights)
    for a, b in zip(model.get_weights(), weights):
        np.testing.assert_array_equal(a, b)
    X = rng.integers(0, 6, size=(2, 5))
    before = model.predict(X)
    weights[1][:] = 0.0  # the model keeps its own copy
    np.testing.assert_array_equal(model.predict(X), before)
    with pytest.raises(R.ConfigError, match=str(len(shapes))):
        model.set_weights(weights[:-1])


def test_gradients_leave_the_model_unchanged(rng):
    model = R.Sequential(dtype="float64")
    model.add(R.GRU(3, input_dim=2, return_sequences=True, truncate_gradient=2))
    X = rng.normal(size=(2, 5, 2))
    G = rng.normal(size=(2, 5, 3))
    w0 = [w.copy() for w in model.get_weights()]
    Y0 = model.predict(X)
    g1 = model.gradients(X, G)
    g2 = model.gradients(X, G)
    for a, b in zip(g1, g2):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(model.get_weights(), w0):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(model.predict(X), Y0)
    for a, b in zip(model.gradients(X, 2 * G), g1):
        np.testing.assert_allclose(a, 2 * b, rtol=1e-12, atol=1e-15)


def test_gradients_in_prediction_mode_with_dropout(rng):
    """gradients() runs in prediction mode: Dropout(p) is the fixed scale (1-p), i.e. the
    same as folding (1-p) into the next layer's weights."""
    def build(dropout):
        m = R.Sequential(dtype="float64")
        m.add(R.Embedding(6, 3, mask_zero=True))
        m.add(R.LSTM(4, return_sequences=True))
        if dropout:
            m.add(R.Dropout(0.4))
        m.add(R.GRU(2))
        return m
    with_dropout, folded = build(True), build(False)
    weights = random_weights([w.shape for w in with_dropout.get_weights()], rng, 1.0)
    with_dropout.set_weights(weights)
    scaled = list(weights)
    for j in (0, 3, 6):  # GRU's W_z, W_r, W_h (after E and LSTM's 12 arrays)
        scaled[13 + j] = 0.6 * weights[13 + j]
    folded.set_weights(scaled)
    X = token_ids(rng, mask_pattern("right", 3, 5), 6)
    np.testing.assert_allclose(with_dropout.predict(X), folded.predict(X), rtol=1e-13)
    G = rng.normal(size=(3, 2))
    gd, gf = with_dropout.gradients(X, G), folded.gradients(X, G)
    for a, b in zip(gd[:13], gf[:13]):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-14)


@pytest.mark.parametrize("kind", ["left", "holes"])
def test_time_distributed_stack_against_oracle(rng, kind):
    """Embedding(mask_zero) -> JZS2(seq) -> TimeDistributedDense-like Dense(tanh) per step
    -> SimpleRNN -> Dense(softmax), checked forward and by finite differences."""
    oracle = Oracle([Embedding(7, 3, mask_zero=True), Cell("JZS2", 4, return_sequences=True),
                     Dense(3, "tanh"), Cell("SimpleRNN", 3, activation="tanh", truncate_gradient=2),
                     Dense(2), Act("softmax")], None)
    X = token_ids(rng, mask_pattern(kind, 3, 6), 7)
    weights = draw_weights(oracle, X, rng)
    model = R.Sequential(dtype="float64")
    model.add(R.Embedding(7, 3, mask_zero=True))
    model.add(R.JZS2(4, return_sequences=True))
    model.add(R.TimeDistributedDense(3, activation="tanh"))
    model.add(R.SimpleRNN(3, activation="tanh", truncate_gradient=2))
    model.add(R.Dense(2))
    model.add(R.Activation("softmax"))
    model.set_weights(weights)
    assert max_rel_diff(model.predict(X), oracle.predict(weights, X)) < 1e-10
    G = rng.normal(size=(3, 2))
    assert record("FD gradient TDD stack", rel_error(model.gradients(X, G), oracle.fd_gradients(weights, X, G))) < 1e-6


def test_summary():
    model = R.Sequential()
    model.add(R.Embedding(11, 5, mask_zero=True, input_length=8))
    model.add(R.LSTM(7, return_sequences=True))
    model.add(R.GRU(3))
    model.add(R.Dense(2))
    lines = []
    text = model.summary(print_fn=lines.append)
    assert lines == [text]
    lstm_params = 4 * (5 * 7 + 7 * 7 + 7)
    gru_params = 3 * (7 * 3 + 3 * 3 + 3)
    for name, kind, shape, params in [("embedding_1", "Embedding", "(batch, 8, 5)", 55),
                                      ("lstm_1", "LSTM", "(batch, 8, 7)", lstm_params),
                                      ("gru_1", "GRU", "(batch, 3)", gru_params),
                                      ("dense_1", "Dense", "(batch, 2)", 8)]:
        row = next(line for line in text.splitlines() if line.startswith(name))
        assert kind in row and shape in row and row.split()[-1] == str(params)
    total = 55 + lstm_params + gru_params + 8
    assert f"Total params: {total}" in text
    assert model.count_params() == total
