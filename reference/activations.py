"""Keras's activations, each with its NumPy and ONNX forms side by side (the table ACTIVATIONS).

NumPy: forward, and backward as Keras 0.2.0's Theano graph differentiated them (relu =
0.5*(x+|x|) has slope 0.5 at 0; hard_sigmoid has slope 0.2 on the closed interval
[-2.5, 2.5]).

ONNX: `onnx(b, x)` returns the output of the nodes computing the activation on tensor x
(softmax: on the last axis), written against the exporter's builder `b`
(rnn2onnx/activations.py; nothing here imports onnx):
  b.node(op, inputs, **attributes) -> the output's name (one node, named by the builder);
  b.scalar(value) -> a scalar in the graph's float dtype;
  b.dtype: that dtype; b.in_loop_body: the nodes go into a Scan/Loop body;
  b.target: the export target's record (rnn2onnx/targets.py), whose fields decide the
    forms a runtime of the target lacks or miscomputes;
  b.form(name, x): another activation's ONNX form.
ONNX's activation ops take float32 attributes, and onnxruntime has float32-only kernels
for some, so a float64 graph gets compositions with scalars in its own dtype.

`native`: the activation inside ONNX's LSTM/GRU/RNN ops, (name, alpha, beta), or None;
`native_refusal`: why the ops' activation of that name is not used (it is not exact).
"""
import numpy as np

from .errors import ConfigError
from .untrusted import quote


class Activation:
    """name, forward f(x), and backward(x, y, dy) -> dx given input x and output y;
    `backward_into(x, y, dy, out)` writes dx into `out` (which may be dy itself).
    `onnx`, `native`, `native_refusal`: its ONNX forms (see the module docstring); a plain
    callable (`get`) has none."""

    def __init__(self, name, forward, backward, into=None, onnx=None, native=None, native_refusal=None):
        self.name, self.forward, self.backward = name, forward, backward
        self._into = into
        self.onnx, self.native, self.native_refusal = onnx, native, native_refusal

    def backward_into(self, x, y, dy, out):
        if self._into is not None:
            return self._into(x, y, dy, out)
        out[...] = self.backward(x, y, dy)
        return out

    def __call__(self, x):
        return self.forward(x)

    def __repr__(self):
        return f"Activation({self.name!r})"


def _elementwise(name, f, slope, **onnx_forms):
    return Activation(name, f, lambda x, y, dy: dy * slope(x, y), **onnx_forms)


def _fresh(into):
    """backward(x, y, dy) from a backward_into: the result in a new array."""
    return lambda x, y, dy: into(x, y, dy, np.empty(np.broadcast_shapes(np.shape(dy), np.shape(x)),
                                                    np.result_type(dy, x)))


def _double(b):
    return b.dtype == np.float64


# The hot ones (linear, sigmoid, hard_sigmoid, tanh) are written with in-place temporaries
# (the recurrent step calls them for every timestep); they never modify their arguments.

# -- linear -------------------------------------------------------------------------------

def _linear_into(x, y, dy, out):
    if out is not dy:
        out[...] = dy
    return out


def _linear_onnx(b, x):
    return x


# -- sigmoid ------------------------------------------------------------------------------

def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _sigmoid_into(x, y, dy, out):
    d = 1.0 - y
    d *= y
    return np.multiply(dy, d, out=out)


def _sigmoid_onnx(b, x):
    if _double(b) and b.target.float64_sigmoid_as_tanh:  # a runtime without float64 Sigmoid (tract)
        # sigmoid(x) = 0.5 + 0.5 * tanh(x / 2), within a few ulps in float64
        half = b.scalar(0.5)
        return b.node("Add", [half, b.node("Mul", [half, b.node("Tanh", [b.node("Mul", [x, half])])])])
    return b.node("Sigmoid", [x])


# -- hard_sigmoid -------------------------------------------------------------------------

def _hard_sigmoid(x):
    y = x * 0.2
    y += 0.5
    return y.clip(0.0, 1.0, out=y)  # the method skips np.clip's Python wrapper (~1 µs a call)


def _hard_sigmoid_into(x, y, dy, out):
    inside = np.less_equal(np.abs(x), 2.5)  # slope 0.2 on the closed interval, as Theano's clip grad
    np.multiply(dy, inside, out=out)
    out *= 0.2
    return out


def _hard_sigmoid_onnx(b, x):
    if not _double(b):  # alpha/beta attributes are float32: exact only in a float32 graph
        return b.node("HardSigmoid", [x], alpha=0.2, beta=0.5)
    scaled = b.node("Add", [b.node("Mul", [x, b.scalar(0.2)]), b.scalar(0.5)])
    return b.node("Clip", [scaled, b.scalar(0.0), b.scalar(1.0)])


# -- tanh, relu ---------------------------------------------------------------------------

def _tanh_into(x, y, dy, out):
    d = y * y
    np.subtract(1.0, d, out=d)
    return np.multiply(dy, d, out=out)


def _tanh_onnx(b, x):
    return b.node("Tanh", [x])


def _relu_onnx(b, x):
    return b.node("Relu", [x])


# -- softplus -----------------------------------------------------------------------------

def _softplus_onnx(b, x):
    if not _double(b) and b.target.float32_softplus_op:  # (tract's overflows above 88.7)
        return b.node("Softplus", [x])
    # log(1 + e^x) = relu(x) + log(1 + e^-|x|), stable for any x
    tail = b.node("Log", [b.node("Add", [b.node("Exp", [b.node("Neg", [b.node("Abs", [x])])]), b.scalar(1.0)])])
    return b.node("Add", [b.node("Relu", [x]), tail])


# -- softmax ------------------------------------------------------------------------------

def _softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _softmax_onnx(b, x):
    if b.in_loop_body and b.target.loop_softmax_as_log:  # (OpenVINO fails on a fused body Softmax)
        return b.node("Exp", [b.node("LogSoftmax", [x], axis=-1)])
    return b.node("Softmax", [x], axis=-1)


# -- elu, selu ----------------------------------------------------------------------------

#: selu's constants, as keras/activations.py writes them (Python floats: a float32 model
#: rounds each to float32 when it multiplies, as Theano and TensorFlow do)
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def _elu(x, alpha):
    """alpha * (e^x - 1) below 0, x above: Theano's T.nnet.elu (expm1: exact near 0)."""
    return np.where(x > 0, x, x.dtype.type(alpha) * np.expm1(np.minimum(x, 0)))


def _elu_slope(x, alpha):
    return np.where(x > 0, 1.0, x.dtype.type(alpha) * np.exp(np.minimum(x, 0))).astype(x.dtype)


def _elu_onnx(alpha, scale=None):
    """Where(x > 0, x, alpha (e^x - 1)) (times scale), with scalars in the graph's dtype
    (ONNX's Elu/Selu take float32 attributes: inexact in a float64 graph); e^min(x, 0): no
    inf on the unused side."""
    def form(b, x):
        negative = b.node("Sub", [b.node("Exp", [b.node("Min", [x, b.scalar(0.0)])]), b.scalar(1.0)])
        y = b.node("Where", [b.node("Greater", [x, b.scalar(0.0)]), x, b.node("Mul", [negative, b.scalar(alpha)])])
        return y if scale is None else b.node("Mul", [y, b.scalar(scale)])
    return form


# -- softsign, exponential, swish, mish ---------------------------------------------------

def _softsign_onnx(b, x):
    return b.node("Div", [x, b.node("Add", [b.node("Abs", [x]), b.scalar(1.0)])])


def _exponential_onnx(b, x):
    return b.node("Exp", [x])


def _swish_onnx(b, x):  # x * sigmoid(x), the sigmoid in its own form above
    return b.node("Mul", [x, b.form("sigmoid", x)])


def _mish_onnx(b, x):  # x * tanh(softplus(x)), the softplus in its own form above
    return b.node("Mul", [x, b.node("Tanh", [b.form("softplus", x)])])


ACTIVATIONS = {
    a.name: a
    for a in [
        Activation("linear", lambda x: x, _fresh(_linear_into), _linear_into,
                   onnx=_linear_onnx, native=("Affine", 1.0, 0.0)),
        Activation("sigmoid", lambda x: 1.0 / (1.0 + np.exp(-x)), _fresh(_sigmoid_into), _sigmoid_into,
                   onnx=_sigmoid_onnx, native=("Sigmoid", None, None)),
        Activation("hard_sigmoid", _hard_sigmoid, _fresh(_hard_sigmoid_into), _hard_sigmoid_into,
                   onnx=_hard_sigmoid_onnx, native=("HardSigmoid", 0.2, 0.5)),
        Activation("tanh", np.tanh, _fresh(_tanh_into), _tanh_into,
                   onnx=_tanh_onnx, native=("Tanh", None, None)),
        _elementwise("relu", lambda x: 0.5 * (x + np.abs(x)), lambda x, y: 0.5 * (1.0 + np.sign(x)),
                     onnx=_relu_onnx, native=("Relu", None, None)),
        _elementwise("softplus", lambda x: np.logaddexp(0.0, x), lambda x, y: 1.0 / (1.0 + np.exp(-x)),
                     onnx=_softplus_onnx,
                     # ONNX defines Softplus for the RNN ops, but never exact in onnxruntime:
                     native_refusal="onnxruntime's native kernels compute softplus as log(1 + exp(x)), "
                                    "which overflows to inf for inputs above 88.7 in float32"),
        # Keras 1.x/2.x (keras/activations.py at 1.2.2, 2.1.6, 2.3.1): elu is Theano's
        # switch(x > 0, x, expm1(x)) (alpha 1), selu its scaled form with the SNN
        # constants, softsign x / (1 + |x|), exponential (2.3.0+) exp(x)
        _elementwise("elu", lambda x: _elu(x, 1.0), lambda x, y: _elu_slope(x, 1.0),
                     onnx=_elu_onnx(1.0)),
        _elementwise("selu", lambda x: SELU_SCALE * _elu(x, SELU_ALPHA),
                     lambda x, y: SELU_SCALE * _elu_slope(x, SELU_ALPHA),
                     onnx=_elu_onnx(SELU_ALPHA, SELU_SCALE)),
        _elementwise("softsign", lambda x: x / (1.0 + np.abs(x)), lambda x, y: 1.0 / (1.0 + np.abs(x)) ** 2,
                     onnx=_softsign_onnx),
        _elementwise("exponential", np.exp, lambda x, y: y, onnx=_exponential_onnx),
        # tf.keras (tf_keras 2.15): swish x * sigmoid(x), mish x * tanh(softplus(x))
        _elementwise("swish", lambda x: x / (1.0 + np.exp(-x)),
                     lambda x, y: _sigmoid(x) * (1.0 + x * (1.0 - _sigmoid(x))), onnx=_swish_onnx),
        _elementwise("mish", lambda x: x * np.tanh(np.logaddexp(0.0, x)),
                     lambda x, y: np.tanh(np.logaddexp(0.0, x))
                     + x * _sigmoid(x) * (1.0 - np.tanh(np.logaddexp(0.0, x)) ** 2), onnx=_mish_onnx),
        Activation(
            "softmax",
            _softmax,
            lambda x, y, dy: y * (dy - (dy * y).sum(axis=-1, keepdims=True)),
            onnx=_softmax_onnx,
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
