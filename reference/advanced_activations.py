"""Keras 0.2.0's advanced_activations.py: LeakyReLU, PReLU, ParametricSoftplus,
ThresholdedLinear, ThresholdedReLU.

All are MaskedLayers in 0.2.0 (the mask passes through, unapplied) and act elementwise.
PReLU's and ParametricSoftplus's weights have the full per-sample input shape (per
timestep *and* feature after a sequence), so they need a known sequence length.
Formulas and gradients follow the Theano graphs 0.2.0 built: LeakyReLU is Theano's
relu(x, alpha) = 0.5 (1 + alpha) x + 0.5 (1 - alpha) |x| (slope 0.5 (1 + alpha) at 0),
PReLU's positive part 0.5 (x + |x|).
"""
import numpy as np

from . import activations, initializations
from .errors import ConfigError
from .layers import MaskedLayer, check_sample_shape
from .registry import register_layer
from .validators import positive_int, real

_SOFTPLUS = activations.ACTIVATIONS["softplus"]
_SIGMOID = activations.ACTIVATIONS["sigmoid"]


class _Elementwise(MaskedLayer):
    """A weightless elementwise layer."""

    def forward(self, X, mask=None, train=False, rng=None):
        self._X = X
        return self.function(X)

    def backward(self, dY):
        return dY * self.slope(self._X), []


@register_layer
class LeakyReLU(_Elementwise):
    config_keys = ("alpha",)

    def __init__(self, alpha=0.3, **kwargs):
        super().__init__(**kwargs)
        self.alpha = real(alpha, "LeakyReLU", "alpha")

    def function(self, X):
        return X.dtype.type(0.5 * (1 + self.alpha)) * X + X.dtype.type(0.5 * (1 - self.alpha)) * np.abs(X)

    def slope(self, X):
        return X.dtype.type(0.5 * (1 + self.alpha)) + X.dtype.type(0.5 * (1 - self.alpha)) * np.sign(X)


class _Thresholded(_Elementwise):
    """An elementwise layer with one threshold, theta."""

    config_keys = ("theta",)

    def __init__(self, theta=1.0, **kwargs):
        super().__init__(**kwargs)
        self.theta = real(theta, type(self).__name__, "theta")


@register_layer
class ThresholdedLinear(_Thresholded):
    """0 where |x| < theta, x elsewhere."""

    def function(self, X):
        return np.where(np.abs(X) < self.theta, X.dtype.type(0), X)

    def slope(self, X):
        return (np.abs(X) >= self.theta).astype(X.dtype)


@register_layer
class ELU(_Elementwise):
    """Keras 1.x/2.x's ELU layer: x above 0, alpha * (e^x - 1) below (Theano's T.nnet.elu,
    expm1; TensorFlow's tf.nn.elu scaled by alpha)."""

    config_keys = ("alpha",)

    def __init__(self, alpha=1.0, **kwargs):
        super().__init__(**kwargs)
        self.alpha = real(alpha, "ELU", "alpha")

    def function(self, X):
        return activations._elu(X, self.alpha)

    def slope(self, X):
        return activations._elu_slope(X, self.alpha)


@register_layer
class ThresholdedReLU(_Thresholded):
    """x where x > theta, 0 elsewhere."""

    def function(self, X):
        return np.where(X > self.theta, X, X.dtype.type(0))

    def slope(self, X):
        return (X > self.theta).astype(X.dtype)


class _PerSample(MaskedLayer):
    """A layer whose weights have its full per-sample input shape."""

    needs_length = True

    def output_shape(self, input_shape):
        if None in input_shape:
            raise ConfigError(f"layer {self.name}: {type(self).__name__} has weights of the full per-sample "
                              f"input shape, got {tuple(input_shape)} (a sequence of unknown length): give the "
                              "first layer input_length or an input_shape with the length")
        return input_shape


@register_layer
class PReLU(_PerSample):
    """relu(x) + alphas * (x - |x|) / 2, alphas (init 'zero') of the per-sample input shape;
    Keras 1.x/2.x's `shared_axes` (1-based, the samples axis excluded) make those axes
    of alphas 1 (one alpha broadcast along them: shared_axes=[1] shares it over time).
    `shared_from_weights` (Keras 1.2's PReLU, whose config does not record shared_axes):
    an axis of unknown length is shared, and loaded alphas with size 1 on an axis share
    that axis (the file's weights say how the layer was built)."""

    config_keys = ("init",)

    def __init__(self, init="zero", weights=None, shared_axes=None, shared_from_weights=False, **kwargs):
        super().__init__(weights=weights, **kwargs)
        initializations.get(init)
        self.init = init
        if shared_axes is not None and not isinstance(shared_axes, (list, tuple)):
            shared_axes = [shared_axes]
        self.shared_axes = tuple(positive_int(a, "PReLU", "shared_axes") for a in shared_axes or ())
        self.shared_from_weights = bool(shared_from_weights)

    def build(self, input_shape, dtype, rng, initialise=True):
        if self.shared_from_weights:
            self.shared_axes = tuple(sorted(set(self.shared_axes) | {i + 1 for i, s in enumerate(input_shape)
                                                                     if s is None}))
        super().build(input_shape, dtype, rng, initialise)

    def set_weights(self, weights):
        weights = list(weights)
        if self.shared_from_weights and len(weights) == 1:
            stored, (_, shape, _) = np.shape(weights[0]), self._specs[0]
            if len(stored) == len(shape) and all(a == b or a == 1 for a, b in zip(stored, shape)):
                self.shared_axes = tuple(sorted(set(self.shared_axes) | {i + 1 for i, (a, b)
                                                                         in enumerate(zip(stored, shape)) if a != b}))
                self._specs = self.param_specs(self.input_shape)
        super().set_weights(weights)

    def output_shape(self, input_shape):
        for a in self.shared_axes:
            if a > len(input_shape):
                raise ConfigError(f"layer {self.name}: PReLU shared_axes {list(self.shared_axes)} name an axis its "
                                  f"per-sample input shape {tuple(input_shape)} does not have")
        if any(s is None and i + 1 not in self.shared_axes for i, s in enumerate(input_shape)):
            return super().output_shape(input_shape)  # refused: alphas need that length
        return input_shape

    @property
    def needs_length(self):
        return 1 not in self.shared_axes

    def param_specs(self, input_shape):
        return [("alphas", tuple(1 if i + 1 in self.shared_axes else s for i, s in enumerate(input_shape)),
                 self.init)]

    def forward(self, X, mask=None, train=False, rng=None):
        if not self.shared_axes:
            check_sample_shape(self, X)
        self._X = X
        half = X.dtype.type(0.5)
        return half * (X + np.abs(X)) + self.params["alphas"] * (X - np.abs(X)) * half

    def backward(self, dY):
        X, half = self._X, dY.dtype.type(0.5)
        sign = np.sign(X)
        dX = dY * (half * (1 + sign) + self.params["alphas"] * (1 - sign) * half)
        dalphas = np.sum(dY * (X - np.abs(X)) * half, axis=0)
        shared = tuple(a - 1 for a in self.shared_axes)
        return dX, [np.sum(dalphas, axis=shared, keepdims=True) if shared else dalphas]


@register_layer
class ParametricSoftplus(_PerSample):
    """alphas * softplus(betas * x); alphas and betas of the per-sample input shape start at
    alpha_init and beta_init. (0.2.0's own build() of it fails: it assigns the read-only
    input_shape; the weights it had made by then are these.)"""

    config_keys = ("alpha_init", "beta_init")

    def __init__(self, alpha_init=0.2, beta_init=5.0, weights=None, **kwargs):
        super().__init__(weights=weights, **kwargs)
        self.alpha_init = real(alpha_init, "ParametricSoftplus", "alpha_init")
        self.beta_init = real(beta_init, "ParametricSoftplus", "beta_init")

    def param_specs(self, input_shape):
        return [("alphas", tuple(input_shape), lambda rng, s: self.alpha_init * np.ones(s)),
                ("betas", tuple(input_shape), lambda rng, s: self.beta_init * np.ones(s))]

    def forward(self, X, mask=None, train=False, rng=None):
        check_sample_shape(self, X)
        self._X = X
        self._A = self.params["betas"] * X
        self._S = _SOFTPLUS(self._A)
        return self._S * self.params["alphas"]

    def backward(self, dY):
        slope = _SIGMOID(self._A)
        dA = dY * self.params["alphas"] * slope
        return dA * self.params["betas"], [np.sum(dY * self._S, axis=0), np.sum(dA * self._X, axis=0)]


@register_layer
class ReLU(_Elementwise):
    """Keras 2.2+'s ReLU layer, K.relu(x, negative_slope, max_value, threshold) as both
    backends compute it (2.2.3–2.3.1): y = x * (x > threshold) (relu(x) when threshold is
    0), clipped to [0, max_value] when one is given, minus negative_slope * relu(threshold - x)."""

    config_keys = ("max_value", "negative_slope", "threshold")

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        super().__init__(**kwargs)
        self.max_value = None if max_value is None else real(max_value, "ReLU", "max_value", 0.0)
        self.negative_slope = real(negative_slope, "ReLU", "negative_slope", 0.0)
        self.threshold = real(threshold, "ReLU", "threshold")

    def function(self, X):
        t = X.dtype.type
        Y = X * (X > t(self.threshold)) if self.threshold else np.maximum(X, t(0))
        if self.max_value is not None:
            Y = np.clip(Y, t(0), t(self.max_value))
        if self.negative_slope:
            Y = Y - t(self.negative_slope) * np.maximum(t(self.threshold) - X, t(0))
        return Y

    def slope(self, X):
        t = X.dtype.type
        s = (X > t(self.threshold)).astype(X.dtype)
        if self.max_value is not None:
            s = s * ((X > 0) & (X < t(self.max_value)))
        return s + t(self.negative_slope) * (X < t(self.threshold))


@register_layer
class Softmax(MaskedLayer):
    """Keras 2.1+'s Softmax layer: exp(x - max) / sum over `axis` (Keras's, counting the
    samples axis; -1 the last), as keras/activations.py's softmax computes it for rank > 2
    (and K.softmax for rank 2)."""

    config_keys = ("axis",)

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, bool) or not isinstance(axis, int) or axis == 0:
            raise ConfigError(f"layer Softmax: axis must be a non-zero integer (0 is the samples axis), got {axis!r}")
        self.axis = axis

    def output_shape(self, input_shape):
        rank = len(input_shape) + 1
        if not -rank < self.axis < rank:
            raise ConfigError(f"layer {self.name}: Softmax axis {self.axis} is not an axis of its rank-{rank} input")
        return input_shape

    def forward(self, X, mask=None, train=False, rng=None):
        e = np.exp(X - X.max(axis=self.axis, keepdims=True))
        self._Y = e / e.sum(axis=self.axis, keepdims=True)
        return self._Y

    def backward(self, dY):
        Y = self._Y
        return Y * (dY - (dY * Y).sum(axis=self.axis, keepdims=True)), []
