"""GaussianNoise and GaussianDropout (reference/noise.py): 0.2.0's arguments and configs,
the identity at prediction, the training-mode noise (drawn from the model's rng, its
moments in closed form), gradients by finite differences, masks handed on."""
import numpy as np
import pytest

import reference as r
from reference.errors import ConfigError

from .finite_differences import check_layer_gradients


def test_configs_and_masks():
    assert r.GaussianNoise(0.1).get_config() == {"name": "GaussianNoise", "sigma": 0.1}
    assert r.GaussianDropout(0.2).get_config() == {"name": "GaussianDropout", "p": 0.2}
    for layer in (r.GaussianNoise(0.1), r.GaussianDropout(0.2)):
        mask = np.ones((2, 3))
        assert layer.output_mask(mask) is mask  # MaskedLayers in 0.2.0
        layer.build((None, 4), "float64", None)
        assert layer.get_weights() == []


@pytest.mark.parametrize("layer", [r.GaussianNoise(0.7), r.GaussianDropout(0.4)], ids=["noise", "dropout"])
def test_identity_at_prediction(layer):
    X = np.random.default_rng(0).normal(size=(3, 5, 4))
    layer.build((None, 4), "float64", None)
    assert layer.forward(X, train=False) is X
    assert layer.backward(np.ones_like(X))[0].tolist() == np.ones_like(X).tolist()


def test_training_noise_has_0_2_0s_moments():
    """Training draws N(0, sigma^2) added / N(1, p/(1-p)) multiplied, from the given rng."""
    X = np.full((200, 50, 4), 2.0)
    noise = r.GaussianNoise(0.3)
    Y = noise.forward(X, train=True, rng=np.random.default_rng(0))
    assert abs(np.mean(Y - X)) < 0.01 and abs(np.std(Y - X) - 0.3) < 0.005
    assert np.array_equal(Y, noise.forward(X, train=True, rng=np.random.default_rng(0)))  # the rng decides
    dropout = r.GaussianDropout(0.2)
    Y = dropout.forward(X, train=True, rng=np.random.default_rng(1))
    assert abs(np.mean(Y / X) - 1.0) < 0.01 and abs(np.std(Y / X) - np.sqrt(0.2 / 0.8)) < 0.005
    assert Y.dtype == X.dtype and r.GaussianNoise(0.0).forward(X, train=True, rng=None) is X


@pytest.mark.parametrize("layer", [r.GaussianNoise(0.7), r.GaussianDropout(0.4)], ids=["noise", "dropout"])
def test_training_gradients_match_finite_differences(layer):
    layer.build((None, 2), "float64", None)
    check_layer_gradients(layer, np.random.default_rng(2).normal(size=(2, 3, 2)), train=True)


def test_training_uses_the_models_rng_and_prediction_stays_exact():
    def fitted(seed):
        model = r.Sequential(dtype="float64", seed=seed)
        model.add(r.GaussianNoise(0.5, input_shape=(None, 3)))
        model.add(r.LSTM(4, return_sequences=True))
        model.add(r.GaussianDropout(0.3))
        model.add(r.GRU(2))
        model.compile("sgd", "mse")
        X = np.random.default_rng(0).normal(size=(8, 5, 3))
        model.fit(X, np.zeros((8, 2)), nb_epoch=2, batch_size=4, verbose=0)
        return model, X

    (a, X), (b, _), (c, _) = fitted(1), fitted(1), fitted(2)
    assert all(np.array_equal(u, v) for u, v in zip(a.get_weights(), b.get_weights()))
    assert not all(np.array_equal(u, v) for u, v in zip(a.get_weights(), c.get_weights()))
    assert np.array_equal(a.predict(X), a.predict(X))


@pytest.mark.parametrize("make, message", [
    (lambda: r.GaussianNoise(-0.1), r"GaussianNoise: sigma must be a number >= 0.0, got -0.1"),
    (lambda: r.GaussianNoise("0.1"), r"GaussianNoise: sigma must be a number >= 0.0, got '0.1'"),
    (lambda: r.GaussianDropout(1.0), r"GaussianDropout: p must be a number in \[0.0, 1.0\), got 1.0"),
    (lambda: r.GaussianDropout(float("nan")), r"GaussianDropout: p must be a number"),
])
def test_bad_arguments_get_one_sentence(make, message):
    with pytest.raises(ConfigError, match=message):
        make()
