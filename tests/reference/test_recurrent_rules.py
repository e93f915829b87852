"""The mask rules of the Keras releases, go_backwards and Keras 0.3.0's SimpleRNN, checked
against closed forms that do not go through the rules' code: each row's unmasked steps
run through the UNMASKED layer on their own (the compacted sequence), then placed where
the rule puts them; go_backwards against the unmasked layer on the time-reversed input.
Their backward against central differences (float64)."""
import json
import os

import numpy as np
import pytest

import reference as R
from reference.errors import ConfigError
from rnn2onnx.conformance.models import build_model

from .finite_differences import check_layer_gradients, check_model_gradients
from .helpers import mask_pattern

TOL = {"float64": 1e-12, "float32": 2e-6}
CELLS = ("SimpleRNN", "GRU", "LSTM", "JZS1", "JZS2", "JZS3")
n, T, d, k = 5, 7, 3, 4


def build(kind, dtype="float64", weights=None, **kw):
    """The layer (k units over d features) and its model; `weights` replace the initial ones."""
    model = build_model([(kind, dict(kw, output_dim=k))], dtype=dtype, weights=None, features=d)
    if weights is not None:
        model.set_weights(weights)
    return model.layers[0], model


def masks():
    """Left and right padding, holes, and an all-masked row."""
    out = {kind: mask_pattern(kind, n, T) for kind in ("left", "right", "holes")}
    m = mask_pattern("holes", n, T)
    m[2] = 0
    out["all-masked row"] = m
    return out


def unmasked_rows(plain, X, keep):
    """Per row i, the unmasked layer's outputs on X[i, keep[i]] alone (or None)."""
    return [plain.predict(X[i:i + 1, keep[i]])[0] if keep[i].any() else None for i in range(len(X))]


def close(a, b, dtype):
    scale = max(1.0, float(np.max(np.abs(b))))
    return float(np.max(np.abs(np.asarray(a, np.float64) - b))) <= TOL[dtype] * scale


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("return_sequences", [True, False])
@pytest.mark.parametrize("kind", CELLS)
def test_carry_repeats_the_last_unmasked_output(rng, kind, return_sequences, dtype):
    plain, _ = build(kind, return_sequences=True)
    weights = plain.get_weights()
    _, plain_model = build(kind, weights=weights, return_sequences=True)
    layer, _ = build(kind, dtype, weights, return_sequences=return_sequences, mask_rule="carry")
    X = rng.normal(size=(n, T, d))
    for label, M in masks().items():
        keep = M > 0
        runs = unmasked_rows(plain_model, X, keep)
        expected = np.zeros((n, T, k))
        for i in range(n):
            seen, prev = 0, np.zeros(k)
            for t in range(T):
                if keep[i, t]:
                    prev, seen = runs[i][seen], seen + 1
                expected[i, t] = prev
        Y = layer.forward(X.astype(dtype), M)
        assert close(Y, expected if return_sequences else expected[:, -1], dtype), label


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("kind", CELLS)
def test_skip_sample_outputs_zero_at_masked_steps(rng, kind, dtype):
    _, plain_model = build(kind, return_sequences=True)
    weights = plain_model.get_weights()
    layer, _ = build(kind, dtype, weights, return_sequences=True, mask_rule="skip_sample")
    X = rng.normal(size=(n, T, d))
    X[1, 0] = 0.0  # an unmasked input that is exactly zero: Keras 0.3.1 skips it too
    for label, M in masks().items():
        keep = (M > 0) & np.any(X != 0, axis=-1)
        runs = unmasked_rows(plain_model, X, keep)
        expected = np.zeros((n, T, k))
        for i in range(n):
            if runs[i] is not None:
                expected[i, keep[i]] = runs[i]
        assert close(layer.forward(X.astype(dtype), M), expected, dtype), label


@pytest.mark.parametrize("kind", CELLS)
def test_skip_batch_skips_steps_masked_in_every_row(rng, kind):
    _, plain_model = build(kind, return_sequences=True)
    layer, _ = build(kind, weights=plain_model.get_weights(), return_sequences=True, mask_rule="skip_batch")
    X = rng.normal(size=(n, T, d))
    for label, M in masks().items():
        M = M.copy()
        M[:, 3] = 0  # one step masked in every row
        steps = np.any(M > 0, axis=0)
        # the steps kept run on the masked input (a masked row of a kept step reads zeros)
        expected = np.zeros((n, T, k))
        expected[:, steps] = plain_model.predict((X * M[:, :, None])[:, steps])
        assert close(layer.forward(X, M), expected, "float64"), label


@pytest.mark.parametrize("rule", ["skip_batch", "skip_sample"])
def test_skip_rules_ignore_the_mask_without_return_sequences(rng, rule):
    _, plain_model = build("LSTM")
    layer, _ = build("LSTM", weights=plain_model.get_weights(), mask_rule=rule)
    X = rng.normal(size=(n, T, d))
    X[0, 2] = 0.0  # no mask, no data test either
    M = mask_pattern("holes", n, T)
    assert close(layer.forward(X, M), plain_model.predict(X), "float64")


def test_reset_is_the_default_and_differs_from_carry(rng):
    """With holes the rules give different numbers (left padding alone would not show it)."""
    X, M = rng.normal(size=(n, T, d)), mask_pattern("holes", n, T)
    default, model = build("GRU", return_sequences=True)
    assert default.mask_rule == "reset"
    reset, _ = build("GRU", weights=model.get_weights(), return_sequences=True, mask_rule="reset")
    carry, _ = build("GRU", weights=model.get_weights(), return_sequences=True, mask_rule="carry")
    assert np.array_equal(default.forward(X, M), reset.forward(X, M))
    assert not np.allclose(reset.forward(X, M), carry.forward(X, M))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("return_sequences", [True, False])
@pytest.mark.parametrize("kind", CELLS + ("SimpleDeepRNN",))
def test_go_backwards_is_the_layer_on_the_reversed_input(rng, kind, return_sequences, dtype):
    """Outputs in processing order: the first is the last timestep's."""
    _, plain_model = build(kind, return_sequences=return_sequences)
    layer, _ = build(kind, dtype, plain_model.get_weights(), return_sequences=return_sequences, go_backwards=True)
    X = rng.normal(size=(n, T, d))
    assert close(layer.forward(X.astype(dtype)), plain_model.predict(X[:, ::-1]), dtype)


@pytest.mark.parametrize("rule", ["reset", "skip_sample", "carry"])
def test_go_backwards_reverses_the_mask_with_the_input(rng, rule):
    _, forward_model = build("LSTM", return_sequences=True, mask_rule=rule)
    weights = forward_model.get_weights()
    forward_layer = forward_model.layers[0]
    layer, _ = build("LSTM", weights=weights, return_sequences=True, mask_rule=rule, go_backwards=True)
    X, M = rng.normal(size=(n, T, d)), mask_pattern("holes", n, T)
    assert close(layer.forward(X, M), forward_layer.forward(X[:, ::-1], M[:, ::-1]), "float64")


def test_simple_rnn_mul_is_keras_030s_cell(rng):
    """h[t] = f((x[t]·W + b) * (h[t-1]·U)), written out step by step."""
    layer, _ = build("SimpleRNN", return_sequences=True, combine="mul", activation="tanh")
    W, U, b = layer.get_weights()
    X = rng.normal(size=(n, T, d))
    h, expected = np.zeros((n, k)), []
    for t in range(T):
        h = np.tanh((X[:, t] @ W + b) * (h @ U))
        expected.append(h)
    assert close(layer.forward(X), np.stack(expected, axis=1), "float64")


def test_gru_of_keras_030_is_activation_set_to_inner_activation(rng):
    """Keras 0.3.0's GRU computes its candidate with inner_activation (its `activation` is
    never read): written out from that release's step, it is our GRU with
    activation=inner_activation."""
    layer, _ = build("GRU", return_sequences=True, activation="hard_sigmoid", inner_activation="hard_sigmoid")
    Wz, Uz, bz, Wr, Ur, br, Wh, Uh, bh = layer.get_weights()
    hs = lambda a: np.clip(0.2 * a + 0.5, 0.0, 1.0)  # noqa: E731
    X = rng.normal(size=(n, T, d))
    h, expected = np.zeros((n, k)), []
    for t in range(T):
        x = X[:, t]
        z, r = hs(x @ Wz + bz + h @ Uz), hs(x @ Wr + br + h @ Ur)
        hh = hs(x @ Wh + bh + (r * h) @ Uh)
        h = z * h + (1 - z) * hh
        expected.append(h)
    assert close(layer.forward(X), np.stack(expected, axis=1), "float64")


# ------------------------------------------------------------------------------------
# arguments and configs
# ------------------------------------------------------------------------------------

def test_unknown_mask_rule_is_refused_with_the_accepted_ones():
    with pytest.raises(ConfigError, match="reset, skip_batch, skip_sample, carry"):
        R.LSTM(3, mask_rule="freeze")


def test_stateful_is_refused_with_the_reason():
    with pytest.raises(ConfigError, match="next predict call"):
        R.GRU(3, stateful=True)
    with pytest.raises(ConfigError, match="true or false"):
        R.GRU(3, go_backwards="yes")


def test_simple_deep_rnn_has_only_the_reset_rule():
    with pytest.raises(ConfigError, match="0.1.x-0.2.0"):
        R.SimpleDeepRNN(3, mask_rule="carry")


def test_simple_rnn_combine_is_checked():
    with pytest.raises(ConfigError, match="add, mul"):
        R.SimpleRNN(3, combine="pow")


def test_config_names_only_what_differs_from_keras_020():
    assert not {"mask_rule", "go_backwards", "stateful", "combine"} & set(R.SimpleRNN(3, input_dim=2).get_config())
    config = R.SimpleRNN(3, input_dim=2, mask_rule="carry", go_backwards=True, combine="mul").get_config()
    assert (config["mask_rule"], config["go_backwards"], config["combine"]) == ("carry", True, "mul")


# ------------------------------------------------------------------------------------
# backward: central differences
# ------------------------------------------------------------------------------------

@pytest.mark.parametrize("rule,go_backwards", [("carry", False), ("carry", True), ("skip_sample", False),
                                               ("skip_batch", True), ("reset", True)])
@pytest.mark.parametrize("kind", ["SimpleRNN", "GRU", "LSTM", "JZS1", "JZS3"])
def test_gradients_match_finite_differences(rng, kind, rule, go_backwards):
    layer, _ = build(kind, return_sequences=True, mask_rule=rule, go_backwards=go_backwards,
                     activation="tanh", inner_activation="sigmoid")
    layer.set_weights([rng.normal(scale=0.7, size=w.shape) for w in layer.get_weights()])
    M = mask_pattern("holes", 4, 6)
    M[:, 3] = 0  # a step masked in every row: skip_batch skips it
    check_layer_gradients(layer, rng.normal(size=(4, 6, d)), M)


@pytest.mark.parametrize("return_sequences", [True, False])
def test_carry_gradients_without_return_sequences(rng, return_sequences):
    layer, _ = build("LSTM", return_sequences=return_sequences, mask_rule="carry", go_backwards=True,
                     inner_activation="sigmoid")
    layer.set_weights([rng.normal(scale=0.7, size=w.shape) for w in layer.get_weights()])
    M = mask_pattern("right", 4, 6)  # right padding read backwards: the last output is an early one
    check_layer_gradients(layer, rng.normal(size=(4, 6, d)), M)


@pytest.mark.parametrize("go_backwards", [False, True])
def test_simple_rnn_mul_gradients(rng, go_backwards):
    layer, _ = build("SimpleRNN", return_sequences=True, combine="mul", activation="tanh",
                     go_backwards=go_backwards, mask_rule="skip_batch")
    layer.set_weights([rng.normal(size=w.shape) for w in layer.get_weights()])
    check_layer_gradients(layer, rng.normal(size=(3, 5, d)), mask_pattern("left", 3, 5))


@pytest.mark.parametrize("rule", ["skip_sample", "carry"])
def test_model_gradients_through_an_embedding_mask(rng, rule):
    """model.gradients (what fit uses) with the mask of an Embedding, stacked layers."""
    model = R.Sequential(dtype="float64")
    model.add(R.Embedding(6, d, mask_zero=True))
    model.add(R.GRU(k, return_sequences=True, mask_rule=rule, go_backwards=True, inner_activation="sigmoid"))
    model.add(R.LSTM(k, mask_rule=rule, inner_activation="sigmoid"))
    model.add(R.Dense(2))
    model.set_weights([rng.normal(scale=0.7, size=w.shape) for w in model.get_weights()])
    ids = np.where(mask_pattern("holes", n, T) > 0, rng.integers(1, 6, size=(n, T)), 0)
    check_model_gradients(model, ids, nonzero=True)


# ------------------------------------------------------------------------------------
# against the Keras releases themselves: layers built by hand from the fixture files
# (tests/fixtures/keras_releases; reading the files is the readers' job, tested there)
# ------------------------------------------------------------------------------------

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures", "keras_releases")
# release -> (mask_rule, SimpleRNN combine, GRU candidate reads inner_activation)
RELEASE_RULES = {"0.3.0": ("skip_batch", "mul", True), "0.3.1": ("skip_sample", "add", False),
                 "0.3.2": ("carry", "add", False), "0.3.3": ("carry", "add", False)}


def _fixture_cases():
    for release in RELEASE_RULES:
        manifest = os.path.join(FIXTURES, release, "MANIFEST.json")
        if not os.path.exists(manifest):
            continue
        with open(manifest, encoding="utf-8") as f:
            cases = json.load(f)["cases"]
        for name, case in sorted(cases.items()):
            if "error" in case or name.split("_")[0] in ("stateful", "dropout", "timedistributed", "repeat"):
                continue  # refused (stateful), or layers and keys beyond these rules
            yield release, name


def _hand_built(release, config, dtype):
    rule, combine, gru_bug = RELEASE_RULES[release]
    model = R.Sequential(dtype=dtype)
    for layer in config["layers"]:
        kind = layer["name"]
        if kind == "Embedding":
            model.add(R.Embedding(layer["input_dim"], layer["output_dim"], mask_zero=layer["mask_zero"]))
        elif kind == "Masking":
            model.add(R.Masking(layer["mask_value"], input_shape=tuple(layer["input_shape"])))
        elif kind == "Dense":
            model.add(R.Dense(layer["output_dim"], activation=layer["activation"]))
        else:
            kw = dict(return_sequences=layer["return_sequences"], go_backwards=layer["go_backwards"], mask_rule=rule,
                      activation=layer["activation"])
            if kind == "SimpleRNN":
                kw["combine"] = combine
            else:
                kw["inner_activation"] = layer["inner_activation"]
                if kind == "GRU" and gru_bug:
                    kw["activation"] = layer["inner_activation"]
            if layer.get("input_shape"):
                kw["input_shape"] = tuple(layer["input_shape"])
            model.add(getattr(R, kind)(layer["output_dim"], **kw))
    return model


def hand_built_fixture(release, name):
    """(model with the fixture's weights, dtype, the npz arrays) of one fixture case."""
    h5py = pytest.importorskip("h5py")
    path = os.path.join(FIXTURES, release, name)
    with open(path + ".json", encoding="utf-8") as f:
        config = json.load(f)
    dtype = "float64" if name.endswith("f64") else "float32"
    model = _hand_built(release, config, dtype)
    with h5py.File(path + ".h5", "r") as f:
        model.set_weights([f[f"layer_{k}"][f"param_{j}"][()] for k in range(f.attrs["nb_layers"])
                           for j in range(f[f"layer_{k}"].attrs["nb_params"])])
    return model, dtype, np.load(path + ".npz")


def keras_predictions(data):
    """[(input, what the release predicted)]: the batch, and the batch masked at one step."""
    return [(data["X" + key], data["Y" + key] if "Y" + key in data else data["Y" + key + "_original"])
            for key in ("", "_step") if "X" + key in data]


@pytest.mark.parametrize("release,name", list(_fixture_cases()))
def test_rules_reproduce_the_keras_release(release, name):
    model, dtype, data = hand_built_fixture(release, name)
    tol = 1e-9 if dtype == "float64" else 2e-5
    for X, Y in keras_predictions(data):
        assert np.max(np.abs(model.predict(X) - Y)) / max(1.0, float(np.max(np.abs(Y)))) <= tol
