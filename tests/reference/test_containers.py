"""Merge as the first layer of a Sequential (reference/containers.py), against files and
predictions written by the original Keras 0.2.0 (tests/fixtures/keras02)."""
import json
import os

import h5py
import numpy as np
import pytest

import reference as r
from reference.keras_files import KerasFileError
from reference.errors import ConfigError, InputError

from .finite_differences import check_model_gradients
from .helpers import cce_entries, record, sgd_step_error

FX = os.path.join(os.path.dirname(__file__), "..", "fixtures", "keras02")
MANIFEST = json.load(open(os.path.join(FX, "MANIFEST.json")))["fixtures"]
# every Merge-first fixture whose layers all exist in the reference
MERGE_FIXTURES = ["merge_sum", "merge_mul", "merge_ave", "merge_concat", "merge_concat_time_f64",
                  "merge_concat_time_f32", "merge_nested", "merge_nested_seq", "babi_rnn_f64", "babi_rnn_f32"]
TOLERANCE = {"float64": 1e-12, "float32": 1e-5}  # relative to max |Y|


def _load(name, kind="json", **kwargs):
    return r.load_model(os.path.join(FX, MANIFEST[name]["files"][f"config_{kind}"]),
                        os.path.join(FX, f"{name}.h5"), **kwargs)


def _data(name):
    data = np.load(os.path.join(FX, f"{name}.npz"))
    return [data[k] for k in MANIFEST[name]["input_keys"]], data["Y"]


@pytest.mark.parametrize("name", MERGE_FIXTURES)
def test_merge_models_reproduce_keras(name):
    floatx = MANIFEST[name]["floatX"]
    kinds = ["json"] + [k[len("config_"):] for k in MANIFEST[name]["files"] if k.startswith("config_yaml")]
    X, Y = _data(name)
    for kind in kinds:
        model = _load(name, kind)  # no dtype: the weights file's, Keras's floatX
        assert model.dtype == np.dtype(floatx)
        got = model.predict(X)
        assert got.dtype == np.dtype(floatx) and got.shape == Y.shape
        error = record(f"keras02 {name} ({kind})", float(np.max(np.abs(got - Y)) / np.max(np.abs(Y))))
        assert error <= TOLERANCE[floatx], kind


def test_merge_weights_are_the_branches_in_order_as_keras_stored_them(tmp_path):
    model = _load("merge_nested")
    with h5py.File(os.path.join(FX, "merge_nested.h5"), "r") as f:
        stored = [f[f"layer_{k}"][f"param_{j}"][()] for k in range(2)
                  for j in range(int(f[f"layer_{k}"].attrs["nb_params"]))]
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), stored))
    assert len(model.get_weights()) == len(stored) == 27
    path = str(tmp_path / "copy.h5")
    model.save_weights(path)
    with h5py.File(path, "r") as f:
        assert int(f.attrs["nb_layers"]) == 2 and int(f["layer_0"].attrs["nb_params"]) == 25
    other = _load("merge_nested")
    other.set_weights([w * 0.5 for w in model.get_weights()])
    other.load_weights(path)
    X, Y = _data("merge_nested")
    assert np.array_equal(other.predict(X), model.predict(X))


@pytest.mark.parametrize("name", ["babi_rnn_f64", "merge_mul", "merge_ave", "merge_nested"])
def test_merge_gradients_match_finite_differences(name):
    model = _load(name)
    X, _ = _data(name)
    # every weight array of every branch and of the Dense, at its largest entry
    check_model_gradients(model, X, rtol=1e-5, atol=1e-9, nonzero=True)


def test_merge_concat_axis_from_the_config_is_honoured():
    model = _load("merge_concat_time_f64")
    assert model.layers[0].concat_axis == 1
    assert model.layers[0].output_shape(None) == (9, 3)


def _branch(d=3, k=2):
    model = r.Sequential(dtype="float64")
    model.add(r.Dense(k, input_dim=d))
    return model


def test_bad_merges_and_inputs_get_one_sentence():
    with pytest.raises(ConfigError, match="two or more branches"):
        r.Merge([_branch()])
    with pytest.raises(ConfigError, match="unknown merge mode 'max'; accepted: sum, mul, ave, concat"):
        r.Merge([_branch(), _branch()], mode="max")
    with pytest.raises(ConfigError, match="needs branches of one output shape"):
        r.Merge([_branch(k=2), _branch(k=3)], mode="sum")
    model = r.Sequential(dtype="float64")
    model.add(r.Merge([_branch(), _branch()], mode="concat"))
    X = np.ones((2, 3))
    assert model.predict([X, 2 * X]).shape == (2, 4)
    with pytest.raises(InputError, match="takes a list of 2 arrays .* got 1$"):
        model.predict([X])
    with pytest.raises(InputError, match="takes a list of 2 arrays .* got one ndarray"):
        model.predict(X)
    with pytest.raises(InputError, match="Merge branch 1: input width must be 3"):
        model.predict([X, np.ones((2, 4))])


def test_merge_config_errors_name_the_branch():
    config = json.load(open(os.path.join(FX, "merge_sum.json")))
    config["layers"][0]["layers"] = config["layers"][0]["layers"][:1]
    with pytest.raises(KerasFileError, match=r"layer 0 \(Merge\): a Merge needs a list of two or more"):
        r.model_from_json(json.dumps(config))
    config = json.load(open(os.path.join(FX, "merge_sum.json")))
    config["layers"][0]["layers"][1]["layers"][0]["name"] = "BiLSTM"
    with pytest.raises(KerasFileError, match=r"layer 0 \(Merge\) branch 1: layer 0 .*unknown layer type"):
        r.model_from_json(json.dumps(config))


def _cce(y, p):
    return float(np.mean(cce_entries(y, p)))


def test_merge_first_models_train_with_one_array_per_branch():
    """train_on_batch([X0, X1], y): the loss before the step is the closed form of the
    predictions and each weight moves by -lr times the loss's finite-difference gradient;
    fit/evaluate take the same list (Keras 0.2.0: `fit([X0, X1], y)`)."""
    X, _ = _data("babi_rnn_f64")
    y = np.eye(10)[[1, 4, 7, 9]]
    model = _load("babi_rnn_f64")
    lr = 0.1
    model.compile(r.SGD(lr=lr), "categorical_crossentropy")
    weights = model.get_weights()
    loss0 = _cce(y, model.predict(X))
    assert model.evaluate(X, y, verbose=0) == pytest.approx(loss0, rel=1e-12)
    assert model.train_on_batch(X, y) == pytest.approx(loss0, rel=1e-12)
    after = model.get_weights()
    error = record("FD training step Merge babi_rnn_f64", sgd_step_error(model, weights, after,
                                                                        lambda: _cce(y, model.predict(X)), lr))
    assert error <= 1e-6
    # fit: one full batch without shuffling is that same step; the validation split is per array
    other = _load("babi_rnn_f64")
    other.compile(r.SGD(lr=lr), "categorical_crossentropy")
    history = other.fit(X + [], y, batch_size=4, nb_epoch=1, shuffle=False, verbose=0)
    assert history.history["loss"] == [pytest.approx(loss0, rel=1e-12)]
    assert all(np.allclose(a, b, rtol=0, atol=1e-15) for a, b in zip(other.get_weights(), after))
    other = _load("babi_rnn_f64")
    other.compile(r.SGD(lr=lr), "categorical_crossentropy")
    history = other.fit(X, y, batch_size=4, nb_epoch=1, shuffle=False, verbose=0, validation_split=0.5)
    held_out = _cce(y[2:], other.predict([x[2:] for x in X]))
    assert history.history["val_loss"] == [pytest.approx(held_out, rel=1e-12)]
    with pytest.raises(InputError, match="X has 4 samples but y has 3"):
        other.train_on_batch(X, y[:3])
    with pytest.raises(InputError, match=r"takes a list of 2 arrays"):
        other.fit(X[0], y, verbose=0)


def test_merge_first_configs_are_written_as_keras_wrote_them():
    """to_json/to_yaml of a loaded Merge-first model: Keras 0.2.0's own text (JSON equal as
    data; YAML byte for byte, block and 2015 flow style)."""
    import yaml

    for name in MERGE_FIXTURES:
        files = MANIFEST[name]["files"]
        model = _load(name)
        with open(os.path.join(FX, files["config_json"])) as f:
            assert json.loads(model.to_json()) == json.load(f), name
        for kind, flow in (("config_yaml_block", False), ("config_yaml_flow", None)):
            if kind in files:
                with open(os.path.join(FX, files[kind])) as f:
                    assert model.to_yaml(default_flow_style=flow) == f.read(), (name, kind)
