"""Keras 0.2.0 activations: forward, and backward as the original's Theano graph
differentiated them (relu = 0.5*(x+|x|) has slope 0.5 at 0; hard_sigmoid has
slope 0.2 on the closed interval [-2.5, 2.5])."""
import numpy as np

from .errors import ConfigError


def _softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


class Activation:
    """name, forward f(x), and backward(x, y, dy) -> dx given input x and output y."""

    def __init__(self, name, forward, backward):
        self.name, self.forward, self.backward = name, forward, backward

    def __call__(self, x):
        return self.forward(x)

    def __repr__(self):
        return f"Activation({self.name!r})"


def _elementwise(name, f, slope):
    return Activation(name, f, lambda x, y, dy: dy * slope(x, y))


ACTIVATIONS = {
    a.name: a
    for a in [
        _elementwise("linear", lambda x: x, lambda x, y: 1.0),
        _elementwise("sigmoid", lambda x: 1.0 / (1.0 + np.exp(-x)), lambda x, y: y * (1.0 - y)),
        _elementwise(
            "hard_sigmoid",
            lambda x: np.clip(0.2 * x + 0.5, 0.0, 1.0),
            lambda x, y: np.where(np.abs(x) <= 2.5, 0.2, 0.0).astype(x.dtype),
        ),
        _elementwise("tanh", np.tanh, lambda x, y: 1.0 - y * y),
        _elementwise("relu", lambda x: 0.5 * (x + np.abs(x)), lambda x, y: 0.5 * (1.0 + np.sign(x))),
        _elementwise("softplus", lambda x: np.logaddexp(0.0, x), lambda x, y: 1.0 / (1.0 + np.exp(-x))),
        Activation(
            "softmax",
            _softmax,
            lambda x, y, dy: y * (dy - (dy * y).sum(axis=-1, keepdims=True)),
        ),
    ]
}


def get(identifier):
    """An Activation from a name, an Activation, or a plain callable (forward only,
    unless it carries a `derivative(x, y)` attribute)."""
    if isinstance(identifier, Activation):
        return identifier
    if isinstance(identifier, str):
        try:
            return ACTIVATIONS[identifier]
        except KeyError:
            raise ConfigError(
                f"unknown activation {identifier!r}; accepted: {', '.join(sorted(ACTIVATIONS))}"
            ) from None
    if callable(identifier):
        derivative = getattr(identifier, "derivative", None)
        name = getattr(identifier, "__name__", repr(identifier))

        def backward(x, y, dy):
            if derivative is None:
                raise ConfigError(
                    f"activation {name!r} is a plain callable without a `derivative(x, y)` "
                    "attribute, so gradients cannot be computed"
                )
            return dy * derivative(x, y)

        return Activation(name, identifier, backward)
    raise ConfigError(
        f"activation must be a name or a callable, got {identifier!r}; "
        f"accepted names: {', '.join(sorted(ACTIVATIONS))}"
    )
