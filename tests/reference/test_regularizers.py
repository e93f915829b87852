"""Regularizers, constraints and ActivityRegularization (reference/regularizers.py,
constraints.py, layers.py) in training: Keras 0.2.0's own training steps compared
weight by weight (tests/fixtures/keras02), the penalties and constraints in closed
form, the regularized gradient against finite differences, and configs."""
import json

import numpy as np
import pytest

import reference as R
from reference import constraints, build, regularizers
from reference.keras_files import KerasFileError
from reference.keras_files import text as keras_text
from reference.errors import ConfigError

from . import keras02
from .helpers import central_differences, record

TRAIN_TOLERANCE = {"float64": 1e-12, "float32": 1e-5}


@pytest.mark.parametrize("name", ["train_steps_sgd_f64", "train_steps_sgd_f32", "train_steps_adam"])
def test_training_steps_reproduce_keras_weight_by_weight(name):
    """Every weight (BatchNormalization's running statistics included) after each
    train_on_batch, and the loss it returned (regularization terms included)."""
    model = keras02.load(name, weights=False)
    floatx = keras02.MANIFEST[name]["floatX"]
    W0, steps = keras02.steps(name)
    model.set_dtype(floatx)
    model.set_weights(W0)
    model.compile(model.optimizer, model.loss)  # a fresh optimizer with the file's settings
    tol = TRAIN_TOLERANCE[floatx]
    worst = 0.0
    for k, (X, Y, loss, expected) in enumerate(steps, start=1):
        got_loss = model.train_on_batch(X, Y)
        assert abs(got_loss - loss) <= tol * abs(loss), (k, got_loss, loss)
        for j, (w, e) in enumerate(zip(model.get_weights(), expected)):
            err = float(np.max(np.abs(w - e)) / max(np.max(np.abs(e)), 1e-30))
            worst = max(worst, err)
            assert err <= tol * 10, (k, j, err)  # 10 ulp-scale steps of growth over the steps
    record(f"keras02 {name} (weights)", worst)
    # the model after the last step predicts what Keras's did (X = X_1)
    (X,), Y = keras02.data(name)
    assert keras02.relative_error(model.predict(X), Y) <= keras02.TOLERANCE[floatx]


@pytest.mark.parametrize("name", ["regularizers", "regularizers_nonneg_config"])
def test_regularizer_configs_reproduce_keras(name):
    record(f"keras02 {name}", keras02.check_prediction(name))
    model = keras02.load(name)
    for kind in keras02.config_kinds(name):
        text = open(keras02.path(keras02.MANIFEST[name]["files"][f"config_{kind}"]), encoding="utf-8").read()
        keras = json.loads(text) if kind == "json" else keras_text._listify(
            __import__("yaml").load(text, Loader=keras_text.KerasYamlLoader))
        assert json.loads(model.to_json()) == keras, kind


def _regularized_model(dtype="float64"):
    """Every layer kind that took regularizers in 0.2.0, each with some."""
    model = R.Sequential(dtype=dtype, seed=4)
    model.add(R.Embedding(6, 3, input_length=5, W_regularizer=regularizers.l2(0.03),
                          activity_regularizer=regularizers.activity_l1l2(0.02, 0.05)))
    model.add(R.Convolution1D(4, 2, activation="tanh", W_regularizer="l1l2", b_regularizer=regularizers.l1(0.1),
                              activity_regularizer=regularizers.activity_l2(0.3)))
    model.add(R.TimeDistributedDense(3, W_regularizer=regularizers.l1(0.05), b_regularizer="l2",
                                     activity_regularizer="activity_l1"))
    model.add(R.ActivityRegularization(l1=0.1, l2=0.2))
    model.add(R.LSTM(3))
    model.add(R.Dense(2, W_regularizer={"name": "WeightRegularizer", "l1": 0.01, "l2": 0.02},
                      activity_regularizer={"name": "ActivityRegularizer", "l1": 0.03, "l2": 0.04}))
    rng = np.random.default_rng(0)
    model.set_weights([w + rng.normal(0, 0.3, size=w.shape) for w in model.get_weights()])
    return model


def _data():
    rng = np.random.default_rng(1)
    return rng.integers(1, 6, size=(4, 5)), rng.normal(size=(4, 2))


def test_penalties_are_0_2_0s_formulas():
    """train_on_batch's loss = objective + sum of l1*sum|p| + l2*sum p^2 over regularized
    weights + l1*sum(mean|Y|) + l2*sum(mean Y^2) over regularized outputs (lr=0: nothing moves)."""
    model = _regularized_model()
    X, y = _data()
    model.compile(R.SGD(lr=0.0), "mse")
    loss = model.train_on_batch(X, y)
    Y, _ = model.forward(X)
    outputs = {}
    H = X
    for layer in model.layers:
        H = layer.forward(H)
        outputs[layer.name] = H
    W = {layer.name: layer.params for layer in model.layers}

    def act(Y, l1, l2):
        return l1 * np.sum(np.mean(np.abs(Y), axis=0)) + l2 * np.sum(np.mean(Y ** 2, axis=0))

    expected = np.mean((Y - y) ** 2)
    expected += 0.03 * np.sum(W["embedding_1"]["E"] ** 2) + act(outputs["embedding_1"], 0.02, 0.05)
    expected += 0.01 * np.sum(np.abs(W["convolution1d_1"]["W"])) + 0.01 * np.sum(W["convolution1d_1"]["W"] ** 2)
    expected += 0.1 * np.sum(np.abs(W["convolution1d_1"]["b"])) + act(outputs["convolution1d_1"], 0, 0.3)
    expected += 0.05 * np.sum(np.abs(W["timedistributeddense_1"]["W"])) \
        + 0.01 * np.sum(W["timedistributeddense_1"]["b"] ** 2) + act(outputs["timedistributeddense_1"], 0.01, 0)
    expected += act(outputs["activityregularization_1"], 0.1, 0.2)
    expected += 0.01 * np.sum(np.abs(W["dense_1"]["W"])) + 0.02 * np.sum(W["dense_1"]["W"] ** 2) \
        + act(outputs["dense_1"], 0.03, 0.04)
    assert abs(loss - expected) <= 1e-14 * expected


def test_regularized_gradient_matches_finite_differences():
    """The gradient a training step follows (SGD, lr=1: w - w_new) is the finite-difference
    derivative of the regularized training loss, for every weight of every layer."""
    model = _regularized_model()
    X, y = _data()
    weights = model.get_weights()

    def loss(ws):
        model.set_weights(ws)
        model.compile(R.SGD(lr=0.0), "mse")
        return model.train_on_batch(X, y)

    model.compile(R.SGD(lr=1.0), "mse")
    model.set_weights(weights)
    model.train_on_batch(X, y)
    grads = [w - n for w, n in zip(weights, model.get_weights())]
    worst = 0.0
    for k, w in enumerate(weights):
        fd = central_differences(lambda p, k=k: loss(weights[:k] + [p] + weights[k + 1:]), w)
        worst = max(worst, float(np.max(np.abs(fd - grads[k]) / np.maximum(1.0, np.abs(fd)))))
    record("FD gradient regularized training loss", worst)
    assert worst < 1e-7


def test_constraints_are_applied_to_the_updated_weights():
    """lr=0: each constrained weight becomes c(w), 0.2.0's closed forms."""
    W = np.array([[3.0, -0.1], [4.0, 0.2], [0.0, -0.3]])
    b = np.array([0.6, -0.8])
    cases = [("maxnorm", W * np.minimum(np.sqrt((W ** 2).sum(0)), 2) / (1e-7 + np.sqrt((W ** 2).sum(0))),
              {"name": "MaxNorm", "m": 2}),
             (constraints.MaxNorm(0.5), W * np.minimum(np.sqrt((W ** 2).sum(0)), 0.5) / (1e-7 + np.sqrt((W ** 2).sum(0))),
              {"name": "MaxNorm", "m": 0.5}),
             ("nonneg", np.where(W >= 0, W, 0.0), {"name": "NonNeg"}),
             ({"name": "UnitNorm"}, W / np.sqrt((W ** 2).sum(-1, keepdims=True)), {"name": "UnitNorm"})]
    for constraint, expected, config in cases:
        model = R.Sequential([R.Dense(2, input_dim=3, W_constraint=constraint, b_constraint="unitnorm")],
                             dtype="float64")
        model.set_weights([W, b])
        model.compile(R.SGD(lr=0.0), "mse")
        model.train_on_batch(np.ones((1, 3)), np.zeros((1, 2)))
        got_W, got_b = model.get_weights()
        np.testing.assert_allclose(got_W, expected, rtol=1e-15, atol=0)
        np.testing.assert_allclose(got_b, b / np.sqrt(np.sum(b ** 2)), rtol=1e-15)
        config_out = model.get_config()["layers"][0]
        assert config_out["W_constraint"] == config and config_out["b_constraint"] == {"name": "UnitNorm"}
        # prediction is unaffected by constraints
        model.set_weights([W, b])
        np.testing.assert_allclose(model.predict(np.eye(3)), W + b)


def test_names_are_read_as_0_2_0_read_them_and_written_as_it_wrote_them():
    dense = R.Dense(2, W_regularizer="l2", b_regularizer="l1l2", activity_regularizer="activity_l2",
                    W_constraint="maxnorm")
    config = dense.get_config()
    assert config["W_regularizer"] == {"name": "WeightRegularizer", "l1": 0.0, "l2": 0.01}
    assert config["b_regularizer"] == {"name": "WeightRegularizer", "l1": 0.01, "l2": 0.01}
    assert config["activity_regularizer"] == {"name": "ActivityRegularizer", "l1": 0.0, "l2": 0.01}
    assert config["W_constraint"] == {"name": "MaxNorm", "m": 2} and config["b_constraint"] is None
    assert R.ActivityRegularization(0.1, 0.2).get_config() == {"name": "ActivityRegularization", "l1": 0.1, "l2": 0.2}


def test_unknown_or_misplaced_regularizers_get_one_sentence():
    with pytest.raises(ConfigError, match="Dense W_regularizer: unknown regularizer 'l3'; accepted: .*l1l2.*activity_l2"):
        R.Dense(2, W_regularizer="l3")
    with pytest.raises(ConfigError, match="Dense b_constraint: unknown constraint 'positive'; accepted: MaxNorm, NonNeg"):
        R.Dense(2, b_constraint={"name": "positive"})
    with pytest.raises(ConfigError, match="ActivityRegularizer regularizes a layer's output, this argument takes a weight regularizer"):
        R.Dense(2, W_regularizer="activity_l1")
    with pytest.raises(ConfigError, match="MaxNorm does not take the settings \\['n'\\]"):
        R.Dense(2, W_constraint={"name": "MaxNorm", "n": 3})
    config = {"name": "Sequential", "layers": [
        {"name": "LSTM", "input_shape": [5, 3], "output_dim": 4},
        {"name": "TimeDistributedDense", "output_dim": 2, "W_regularizer": {"name": "L2Penalty", "l": 0.1}}]}
    with pytest.raises(KerasFileError,
                       match=r"layer 1 \(TimeDistributedDense\).*unknown regularizer 'L2Penalty'; accepted: WeightRegularizer"):
        build.model_from_json(json.dumps(config))


def test_activity_regularization_is_the_identity_at_prediction():
    model = R.Sequential([R.ActivityRegularization(0.5, 0.5, input_shape=(None, 3))], dtype="float64")
    X = np.random.default_rng(0).normal(size=(2, 4, 3))
    np.testing.assert_array_equal(model.predict(X), X)
    assert model.get_weights() == []


def test_regularized_models_round_trip_through_json_yaml_and_hdf5(tmp_path):
    model = _regularized_model()
    model.add(R.BatchNormalization(mode=1))
    X, _ = _data()
    config = json.loads(model.to_json())
    assert config["layers"][3] == {"name": "ActivityRegularization", "l1": 0.1, "l2": 0.2}
    assert config["layers"][1]["W_regularizer"] == {"name": "WeightRegularizer", "l1": 0.01, "l2": 0.01}
    for text, load in ((model.to_json(), build.model_from_json), (model.to_yaml(), build.model_from_yaml),
                       (model.to_yaml(default_flow_style=False), build.model_from_yaml)):
        again = load(text, dtype="float64")
        assert json.loads(again.to_json()) == config
    path = tmp_path / "w.h5"
    model.save_weights(path)
    import h5py
    with h5py.File(path, "r") as f:
        assert [int(f[f"layer_{k}"].attrs["nb_params"]) for k in range(7)] == [1, 2, 2, 0, 12, 2, 4]
    again = build.model_from_json(model.to_json())
    again.load_weights(path)
    assert again.dtype == np.float64
    np.testing.assert_array_equal(again.predict(X), model.predict(X))
