"""Keras 0.2.0 activations: forward, and backward as the original's Theano graph
differentiated them (relu = 0.5*(x+|x|) has slope 0.5 at 0; hard_sigmoid has
slope 0.2 on the closed interval [-2.5, 2.5])."""
import numpy as np

from .errors import ConfigError
from .untrusted import quote


def _softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


class Activation:
    """name, forward f(x), and backward(x, y, dy) -> dx given input x and output y;
    `backward_into(x, y, dy, out)` writes dx into `out` (which may be dy itself)."""

    def __init__(self, name, forward, backward, into=None):
        self.name, self.forward, self.backward = name, forward, backward
        self._into = into

    def backward_into(self, x, y, dy, out):
        if self._into is not None:
            return self._into(x, y, dy, out)
        out[...] = self.backward(x, y, dy)
        return out

    def __call__(self, x):
        return self.forward(x)

    def __repr__(self):
        return f"Activation({self.name!r})"


#: selu's constants, as keras/activations.py writes them (Python floats: a float32 model
#: rounds each to float32 when it multiplies, as Theano and TensorFlow do)
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _elu(x, alpha):
    """alpha * (e^x - 1) below 0, x above: Theano's T.nnet.elu (expm1: exact near 0)."""
    return np.where(x > 0, x, x.dtype.type(alpha) * np.expm1(np.minimum(x, 0)))


def _elu_slope(x, alpha):
    return np.where(x > 0, 1.0, x.dtype.type(alpha) * np.exp(np.minimum(x, 0))).astype(x.dtype)


def _elementwise(name, f, slope):
    return Activation(name, f, lambda x, y, dy: dy * slope(x, y))


# The hot ones are written with in-place temporaries (the recurrent step calls them
# for every timestep); they never modify their arguments.

def _hard_sigmoid(x):
    y = x * 0.2
    y += 0.5
    return y.clip(0.0, 1.0, out=y)  # the method skips np.clip's Python wrapper (~1 µs a call)


def _hard_sigmoid_into(x, y, dy, out):
    inside = np.less_equal(np.abs(x), 2.5)  # slope 0.2 on the closed interval, as Theano's clip grad
    np.multiply(dy, inside, out=out)
    out *= 0.2
    return out


def _sigmoid_into(x, y, dy, out):
    d = 1.0 - y
    d *= y
    return np.multiply(dy, d, out=out)


def _tanh_into(x, y, dy, out):
    d = y * y
    np.subtract(1.0, d, out=d)
    return np.multiply(dy, d, out=out)


def _linear_into(x, y, dy, out):
    if out is not dy:
        out[...] = dy
    return out


def _fresh(into):
    """backward(x, y, dy) from a backward_into: the result in a new array."""
    return lambda x, y, dy: into(x, y, dy, np.empty(np.broadcast_shapes(np.shape(dy), np.shape(x)),
                                                    np.result_type(dy, x)))


ACTIVATIONS = {
    a.name: a
    for a in [
        Activation("linear", lambda x: x, _fresh(_linear_into), _linear_into),
        Activation("sigmoid", lambda x: 1.0 / (1.0 + np.exp(-x)), _fresh(_sigmoid_into), _sigmoid_into),
        Activation("hard_sigmoid", _hard_sigmoid, _fresh(_hard_sigmoid_into), _hard_sigmoid_into),
        Activation("tanh", np.tanh, _fresh(_tanh_into), _tanh_into),
        _elementwise("relu", lambda x: 0.5 * (x + np.abs(x)), lambda x, y: 0.5 * (1.0 + np.sign(x))),
        _elementwise("softplus", lambda x: np.logaddexp(0.0, x), lambda x, y: 1.0 / (1.0 + np.exp(-x))),
        # Keras 1.x/2.x (keras/activations.py at 1.2.2, 2.1.6, 2.3.1): elu is Theano's
        # switch(x > 0, x, expm1(x)) (alpha 1), selu its scaled form with the SNN
        # constants, softsign x / (1 + |x|), exponential (2.3.0+) exp(x)
        _elementwise("elu", lambda x: _elu(x, 1.0), lambda x, y: _elu_slope(x, 1.0)),
        _elementwise("selu", lambda x: SELU_SCALE * _elu(x, SELU_ALPHA),
                     lambda x, y: SELU_SCALE * _elu_slope(x, SELU_ALPHA)),
        _elementwise("softsign", lambda x: x / (1.0 + np.abs(x)), lambda x, y: 1.0 / (1.0 + np.abs(x)) ** 2),
        _elementwise("exponential", np.exp, lambda x, y: y),
        # tf.keras (tf_keras 2.15): swish x * sigmoid(x), mish x * tanh(softplus(x))
        _elementwise("swish", lambda x: x / (1.0 + np.exp(-x)),
                     lambda x, y: _sigmoid(x) * (1.0 + x * (1.0 - _sigmoid(x)))),
        _elementwise("mish", lambda x: x * np.tanh(np.logaddexp(0.0, x)),
                     lambda x, y: np.tanh(np.logaddexp(0.0, x))
                     + x * _sigmoid(x) * (1.0 - np.tanh(np.logaddexp(0.0, x)) ** 2)),
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
                f"unknown activation {quote(identifier)}; accepted: {', '.join(sorted(ACTIVATIONS))}"
            ) from None
    if callable(identifier):
        derivative = getattr(identifier, "derivative", None)
        name = getattr(identifier, "__name__", repr(identifier))

        def backward(x, y, dy):
            if derivative is None:
                raise ConfigError(
                    f"activation {quote(name)} is a plain callable without a `derivative(x, y)` "
                    "attribute, so gradients cannot be computed"
                )
            return dy * derivative(x, y)

        return Activation(name, identifier, backward)
    raise ConfigError(
        f"activation must be a name or a callable, got {quote(identifier)}; "
        f"accepted names: {', '.join(sorted(ACTIVATIONS))}"
    )
