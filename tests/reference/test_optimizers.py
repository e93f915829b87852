"""Keras 0.2.0 optimizers: two steps of each against its update rule written out by hand
(float64, 1e-12), defaults, configs, clipping, and one step through a model."""
import inspect

import numpy as np
import pytest

from reference import SGD, Adadelta, Adagrad, Adam, ConfigError, RMSprop, optimizers
from rnn2onnx.conformance.models import build_model

TOL = dict(rtol=1e-12, atol=1e-12)


def problem():
    rng = np.random.default_rng(7)
    params = [rng.normal(size=(3, 2)), rng.normal(size=(2,))]
    g1 = [rng.normal(size=(3, 2)), rng.normal(size=(2,))]
    g2 = [rng.normal(size=(3, 2)), rng.normal(size=(2,))]
    return params, g1, g2


def two_steps(opt, params, g1, g2):
    """Run two updates, checking that update() alone changes nothing."""
    before = [p.copy() for p in params]
    p1, state = opt.update(params, g1)
    assert opt.iterations == 0 and all(np.array_equal(a, b) for a, b in zip(params, before))
    opt.commit(state)
    assert opt.iterations == 1
    p2, state = opt.update(p1, g2)
    opt.commit(state)
    return p1, p2


@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_momentum_decay(nesterov):
    params, g1, g2 = problem()
    lr, momentum, decay = 0.1, 0.9, 0.5
    p1, p2 = two_steps(SGD(lr=lr, momentum=momentum, decay=decay, nesterov=nesterov), params, g1, g2)
    for p0, a, b, q1, q2 in zip(params, g1, g2, p1, p2):
        lr1 = lr / (1 + decay * 0)           # iterations = 0 for the first update
        v1 = momentum * 0 - lr1 * a
        e1 = p0 + momentum * v1 - lr1 * a if nesterov else p0 + v1
        lr2 = lr / (1 + decay * 1)           # decay kicks in from the second update
        v2 = momentum * v1 - lr2 * b
        e2 = e1 + momentum * v2 - lr2 * b if nesterov else e1 + v2
        np.testing.assert_allclose(q1, e1, **TOL)
        np.testing.assert_allclose(q2, e2, **TOL)


def test_plain_sgd_defaults():
    params, g1, _ = problem()
    opt = SGD()
    (q, qb), _ = opt.update(params, g1)
    np.testing.assert_allclose(q, params[0] - 0.01 * g1[0], **TOL)
    np.testing.assert_allclose(qb, params[1] - 0.01 * g1[1], **TOL)


def test_rmsprop():
    params, g1, g2 = problem()
    lr, rho, eps = 0.01, 0.8, 1e-6
    p1, p2 = two_steps(RMSprop(lr=lr, rho=rho, epsilon=eps), params, g1, g2)
    for p0, a, b, q1, q2 in zip(params, g1, g2, p1, p2):
        acc1 = rho * 0 + (1 - rho) * a ** 2
        e1 = p0 - lr * a / np.sqrt(acc1 + eps)         # epsilon inside the square root
        acc2 = rho * acc1 + (1 - rho) * b ** 2
        e2 = e1 - lr * b / np.sqrt(acc2 + eps)
        np.testing.assert_allclose(q1, e1, **TOL)
        np.testing.assert_allclose(q2, e2, **TOL)


def test_adagrad():
    params, g1, g2 = problem()
    lr, eps = 0.05, 1e-6
    p1, p2 = two_steps(Adagrad(lr=lr, epsilon=eps), params, g1, g2)
    for p0, a, b, q1, q2 in zip(params, g1, g2, p1, p2):
        e1 = p0 - lr * a / np.sqrt(a ** 2 + eps)
        e2 = e1 - lr * b / np.sqrt(a ** 2 + b ** 2 + eps)
        np.testing.assert_allclose(q1, e1, **TOL)
        np.testing.assert_allclose(q2, e2, **TOL)


def test_adadelta():
    params, g1, g2 = problem()
    lr, rho, eps = 0.5, 0.95, 1e-6
    p1, p2 = two_steps(Adadelta(lr=lr, rho=rho, epsilon=eps), params, g1, g2)
    for p0, a, b, q1, q2 in zip(params, g1, g2, p1, p2):
        acc1 = (1 - rho) * a ** 2
        u1 = a * np.sqrt(0 + eps) / np.sqrt(acc1 + eps)   # the old (zero) delta accumulator
        e1 = p0 - lr * u1
        d1 = (1 - rho) * u1 ** 2
        acc2 = rho * acc1 + (1 - rho) * b ** 2
        u2 = b * np.sqrt(d1 + eps) / np.sqrt(acc2 + eps)
        e2 = e1 - lr * u2
        np.testing.assert_allclose(q1, e1, **TOL)
        np.testing.assert_allclose(q2, e2, **TOL)


def test_adam_bias_correction():
    params, g1, g2 = problem()
    lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-8
    p1, p2 = two_steps(Adam(lr=lr, beta_1=b1, beta_2=b2, epsilon=eps), params, g1, g2)
    for p0, a, b, q1, q2 in zip(params, g1, g2, p1, p2):
        lr_1 = lr * np.sqrt(1 - b2 ** 1) / (1 - b1 ** 1)
        m1, v1 = (1 - b1) * a, (1 - b2) * a ** 2
        e1 = p0 - lr_1 * m1 / (np.sqrt(v1) + eps)        # epsilon outside the square root
        lr_2 = lr * np.sqrt(1 - b2 ** 2) / (1 - b1 ** 2)
        m2, v2 = b1 * m1 + (1 - b1) * b, b2 * v1 + (1 - b2) * b ** 2
        e2 = e1 - lr_2 * m2 / (np.sqrt(v2) + eps)
        np.testing.assert_allclose(q1, e1, **TOL)
        np.testing.assert_allclose(q2, e2, **TOL)


def test_clipnorm_rescales_every_gradient_by_the_global_norm():
    params, g1, _ = problem()
    norm = np.sqrt(sum(np.sum(g ** 2) for g in g1))
    (q, qb), _ = SGD(lr=1.0, clipnorm=norm / 4).update(params, g1)
    np.testing.assert_allclose(q, params[0] - g1[0] / 4, **TOL)
    np.testing.assert_allclose(qb, params[1] - g1[1] / 4, **TOL)
    (q, qb), _ = SGD(lr=1.0, clipnorm=norm * 2).update(params, g1)  # below the threshold: untouched
    np.testing.assert_allclose(q, params[0] - g1[0], **TOL)
    np.testing.assert_allclose(qb, params[1] - g1[1], **TOL)


def test_clipvalue():
    params, g1, _ = problem()
    (q, _), _ = SGD(lr=1.0, clipvalue=0.3).update(params, g1)
    np.testing.assert_allclose(q, params[0] - np.minimum(np.maximum(g1[0], -0.3), 0.3), **TOL)


@pytest.mark.parametrize("cls,expected", [
    (SGD, {"lr": 0.01, "momentum": 0.0, "decay": 0.0, "nesterov": False}),
    (RMSprop, {"lr": 0.001, "rho": 0.9, "epsilon": 1e-6}),
    (Adagrad, {"lr": 0.01, "epsilon": 1e-6}),
    (Adadelta, {"lr": 1.0, "rho": 0.95, "epsilon": 1e-6}),
    (Adam, {"lr": 0.001, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-8}),
])
def test_keras_020_defaults_argument_names_and_config(cls, expected):
    signature = inspect.signature(cls.__init__)
    defaults = {name: p.default for name, p in signature.parameters.items()
                if p.default is not inspect.Parameter.empty}
    assert defaults == expected
    assert list(defaults) == list(expected)  # same order as 0.2.0's constructors
    config = cls().get_config()
    assert config == dict(name=cls.__name__, **expected)
    again = optimizers.from_config(config)
    assert type(again) is cls and again.get_config() == config


def test_config_round_trip_keeps_settings_and_clipping():
    opt = SGD(lr=0.2, momentum=0.5, decay=1e-3, nesterov=True, clipnorm=1.5)
    config = opt.get_config()
    assert config == {"name": "SGD", "lr": 0.2, "momentum": 0.5, "decay": 1e-3, "nesterov": True, "clipnorm": 1.5}
    assert optimizers.get("SGD", {k: v for k, v in config.items() if k != "name"}).get_config() == config


def test_names_and_aliases():
    for name in ["SGD", "sgd", "RMSprop", "rmsprop", "Adagrad", "adagrad", "Adadelta", "adadelta", "Adam", "adam"]:
        assert type(optimizers.get(name)).__name__.lower() == name.lower()
    opt = Adam()
    assert optimizers.get(opt) is opt


def test_unknown_optimizer_lists_accepted_names():
    with pytest.raises(ConfigError) as err:
        optimizers.get("adamw")
    for name in ["SGD", "RMSprop", "Adagrad", "Adadelta", "Adam", "sgd", "adam"]:
        assert name in str(err.value)
    with pytest.raises(ConfigError, match="unexpected argument 'learning_rate'"):
        SGD(learning_rate=0.1)


def _model(optimizer):
    model = build_model([("SimpleRNN", {"output_dim": 3, "activation": "tanh"}), ("Dense", {"output_dim": 2})],
                        dtype="float64", seed=3, weights=None, features=2)
    model.compile(optimizer, "mse")
    return model


def test_one_training_step_through_a_model_sgd():
    model = _model(SGD(lr=0.1))
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(4, 5, 2)), rng.normal(size=(4, 2))
    w0 = [w.copy() for w in model.get_weights()]
    Y = model.predict(X)
    expected_loss = np.mean((Y - y) ** 2)  # mean over the 2 outputs, then over the 4 samples
    G = 2 * (Y - y) / (2 * 4)             # d loss / d Y
    grads = model.gradients(X, G)
    loss = model.train_on_batch(X, y)
    assert loss == pytest.approx(expected_loss, rel=1e-12)
    for w, before, g in zip(model.get_weights(), w0, grads):
        np.testing.assert_allclose(w, before - 0.1 * g, **TOL)


def test_two_training_steps_through_a_model_adam():
    model = _model(Adam(lr=0.01))
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(4, 5, 2)), rng.normal(size=(4, 2))
    m = [np.zeros_like(w) for w in model.get_weights()]
    v = [np.zeros_like(w) for w in model.get_weights()]
    for t in (1, 2):
        w0 = [w.copy() for w in model.get_weights()]
        grads = model.gradients(X, 2 * (model.predict(X) - y) / 8)
        model.train_on_batch(X, y)
        lr_t = 0.01 * np.sqrt(1 - 0.999 ** t) / (1 - 0.9 ** t)
        for i, (w, before, g) in enumerate(zip(model.get_weights(), w0, grads)):
            m[i] = 0.9 * m[i] + 0.1 * g
            v[i] = 0.999 * v[i] + 0.001 * g ** 2
            np.testing.assert_allclose(w, before - lr_t * m[i] / (np.sqrt(v[i]) + 1e-8), **TOL)
    assert model.optimizer.iterations == 2


def test_compile_resets_the_optimizer_state():
    model = _model("sgd")
    rng = np.random.default_rng(2)
    X, y = rng.normal(size=(4, 5, 2)), rng.normal(size=(4, 2))
    model.compile(SGD(lr=0.1, momentum=0.9), "mse")
    model.train_on_batch(X, y)
    opt = model.optimizer
    assert opt.iterations == 1 and np.any(opt.slots["m"][0] != 0)
    model.compile(opt, "mse")
    assert opt.iterations == 0 and opt.slots is None
