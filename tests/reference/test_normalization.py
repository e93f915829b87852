"""BatchNormalization (reference/normalization.py): Keras 0.2.0's predictions and files
(tests/fixtures/keras02), its formulas in closed form, finite differences, and the
running statistics a training step leaves."""
import json

import numpy as np
import pytest

import reference as R
from reference import build
from reference.keras_files import KerasFileError
from reference.errors import ConfigError, InputError

from . import keras02
from .helpers import record
from .finite_differences import check_layer_gradients

BN_FIXTURES = ["bn_seq_advanced", "maxout_bn0_noise_f64", "maxout_bn0_noise_f32"]


@pytest.mark.parametrize("name", BN_FIXTURES)
def test_batchnorm_models_reproduce_keras(name):
    record(f"keras02 {name}", keras02.check_prediction(name))


@pytest.mark.parametrize("name", BN_FIXTURES)
def test_batchnorm_weights_are_gamma_beta_and_the_running_statistics(name, tmp_path):
    model = keras02.load(name)
    keras02.check_written_back(name, model, tmp_path)
    for layer in model.layers:
        if isinstance(layer, R.BatchNormalization):
            assert layer.weight_names == ["gamma", "beta", "running_mean", "running_std"]
            # trained: the statistics moved away from 0 and 1 (they are params 2 and 3)
            mean, std = layer.get_weights()[2:]
            assert np.all(mean != 0) and np.all(std != 1)


def _bn_model(mode, shape, dtype="float64", seed=0):
    model = R.Sequential([R.BatchNormalization(mode=mode, input_shape=shape)], dtype=dtype)
    rng = np.random.default_rng(seed)
    model.set_weights([1 + rng.normal(size=shape), rng.normal(size=shape), rng.normal(size=shape),
                       1 + np.abs(rng.normal(size=shape))])
    return model


@pytest.mark.parametrize("shape", [(4,), (3, 4)])
def test_mode_0_uses_the_running_statistics(shape):
    model = _bn_model(0, shape)
    gamma, beta, mean, std = model.get_weights()
    X = np.random.default_rng(1).normal(size=(5,) + shape)
    expected = gamma * (X - mean) / (std + 1e-6) + beta
    np.testing.assert_allclose(model.predict(X), expected, rtol=1e-14, atol=1e-14)
    Ytrain, _ = model.forward(X, train=True)  # training normalises by the running statistics too
    np.testing.assert_array_equal(Ytrain, model.predict(X))


@pytest.mark.parametrize("shape", [(4,), (3, 4)])
def test_mode_1_normalises_each_sample_over_its_last_axis(shape):
    model = _bn_model(1, shape)
    gamma, beta, _, _ = model.get_weights()
    X = np.random.default_rng(1).normal(size=(5,) + shape)
    m = X.mean(axis=-1, keepdims=True)
    std = X.std(axis=-1, keepdims=True)  # population std, as Theano's X.std
    np.testing.assert_allclose(model.predict(X), gamma * (X - m) / (std + 1e-6) + beta, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("mode,shape", [(0, (4,)), (0, (3, 4)), (1, (4,)), (1, (3, 4))])
def test_batchnorm_gradients_match_finite_differences(mode, shape):
    """gamma, beta, the running statistics (prediction mode) and the input."""
    check_layer_gradients(_bn_model(mode, shape).layers[0], np.random.default_rng(2).normal(size=(3,) + shape))


@pytest.mark.parametrize("mode", [0, 1])
def test_a_training_step_moves_the_running_statistics_by_0_2_0s_formula(mode):
    """Closed form: mean <- 0.9 mean + 0.1 mean(X), std <- 0.9 std + 0.1 sqrt(mean((X - mean(X))^2 + eps));
    the optimizer (here lr=0: nothing else moves) never touches them."""
    model = _bn_model(mode, (4,))
    model.add(R.Dense(2))
    model.compile(R.SGD(lr=0.0), "mse")
    before = model.get_weights()
    X = np.random.default_rng(3).normal(size=(6, 4))
    model.train_on_batch(X, np.zeros((6, 2)))
    after = model.get_weights()
    m = X.mean(axis=0)
    np.testing.assert_allclose(after[2], 0.9 * before[2] + 0.1 * m, rtol=1e-15, atol=1e-15)
    np.testing.assert_allclose(after[3], 0.9 * before[3] + 0.1 * np.sqrt(np.mean((X - m) ** 2 + 1e-6, axis=0)),
                               rtol=1e-15, atol=1e-15)
    for i in (0, 1, 4, 5):
        np.testing.assert_array_equal(after[i], before[i])
    # Adam keeps state for gamma, beta and the Dense only (0.2.0: the statistics are not params)
    model.compile("adam", "mse")
    model.train_on_batch(X, np.zeros((6, 2)))
    assert [a.shape for a in model.optimizer.slots["m"]] == [(4,), (4,), (4, 2), (2,)]


def test_batchnorm_config_and_refusals():
    layer = R.BatchNormalization(epsilon=1e-5, mode=1, momentum=0.5)
    assert layer.get_config() == {"name": "BatchNormalization", "epsilon": 1e-5, "mode": 1, "momentum": 0.5}
    model = R.Sequential([R.Dense(300, input_dim=2), layer], seed=0)
    gamma, beta, mean, std = model.layers[1].get_weights()
    assert 0.049 < np.max(np.abs(gamma)) <= 0.05 and not beta.any() and not mean.any() and np.all(std == 1)
    with pytest.raises(ConfigError, match="mode must be 0 \\(featurewise\\) or 1 \\(samplewise\\), got 2"):
        R.BatchNormalization(mode=2)
    with pytest.raises(ConfigError, match="must be known; got \\(time, 4\\)"):
        R.Sequential([R.LSTM(4, input_shape=(None, 3), return_sequences=True), R.BatchNormalization()])
    masked = R.Sequential([R.Embedding(5, 3, mask_zero=True, input_length=4), R.BatchNormalization()])
    with pytest.raises(InputError, match="BatchNormalization cannot follow a layer with a mask"):
        masked.predict(np.array([[1, 2, 0, 1]]))
    config = {"name": "Sequential", "layers": [{"name": "Dense", "input_dim": 3, "output_dim": 2},
                                               {"name": "BatchNormalization", "mode": 3}]}
    with pytest.raises(KerasFileError, match=r"layer 1 \(BatchNormalization\).*mode must be 0"):
        build.model_from_json(json.dumps(config), keras_version="0.2.0")
