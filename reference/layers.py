"""Layer base class and the non-recurrent layers of a Keras 0.2.0 Sequential model.

A layer is built once its input shape is known (`build`), holds its weights as a
dict in Keras order (`weight_names`), runs `forward(X, mask, train)` and then
`backward(dY) -> (dX, [grad per weight])` from what forward cached.
"""
import warnings

import numpy as np

from . import activations, initializations
from .errors import ConfigError, InputError
from .registry import register_layer
from .untrusted import quote


#: the largest weight array a layer may declare (elements): 2**31 float32 is 8 GiB, far
#: beyond any Keras 0.2.0 model, and beyond what one ONNX tensor can hold without external data
MAX_WEIGHT_ELEMENTS = 2 ** 31


class Layer:
    # Keras's own output of get_config() adds these; subclasses list their own keys.
    config_keys = ()

    def __init__(self, weights=None, input_shape=None, input_dim=None, input_length=None):
        self.initial_weights = weights
        if input_shape is None and input_dim is not None:
            input_shape = (input_length, input_dim)
        self.declared_input_shape = tuple(input_shape) if input_shape is not None else None
        self.name = type(self).__name__.lower()
        self.params = {}
        self.built = False
        self.dtype = np.dtype("float32")

    # -- weights -------------------------------------------------------------------
    def param_specs(self, input_shape):
        """[(name, shape, init)] in Keras get_weights order; init is a name or fn(rng, shape)."""
        return []

    @property
    def weight_names(self):
        return [name for name, _, _ in self._specs]

    def build(self, input_shape, dtype, rng, initialise=True):
        """Fix the input shape and create the weights. initialise=False (weights about to
        be loaded, or never read): every weight is a read-only zero view of its shape
        that takes no memory, and no initializer runs."""
        self.input_shape = tuple(input_shape)
        self.dtype = np.dtype(dtype)
        self.output_shape(self.input_shape)  # a layer refuses an input shape it cannot take (ConfigError)
        self._specs = self.param_specs(self.input_shape)
        for pos, (name, shape, _) in enumerate(self._specs):
            size = int(np.prod(shape, dtype=object))
            if size > MAX_WEIGHT_ELEMENTS:
                raise ConfigError(f"layer {self.name}: weight {pos} ({name}) would have shape {tuple(shape)}, "
                                  f"{size} values, more than the {MAX_WEIGHT_ELEMENTS} accepted")
        if self.initial_weights is not None:
            self.set_weights(self.initial_weights)
        elif not initialise:
            zero = np.zeros((), dtype=self.dtype)
            self.params = {name: np.broadcast_to(zero, shape) for name, shape, _ in self._specs}
        else:
            self.params = {
                name: np.asarray(initializations.get(init)(rng, shape), dtype=self.dtype)
                for name, shape, init in self._specs
            }
        self.built = True

    def get_weights(self):
        return [self.params[name] for name in self.weight_names]

    def set_dtype(self, dtype):
        """Cast the weights to `dtype`; a shapes-only weight (a zero-stride view, see
        build) stays one, so casting allocates nothing for it."""
        self.dtype = np.dtype(dtype)
        self.params = {
            name: np.broadcast_to(np.asarray(w.flat[0], dtype=self.dtype), w.shape)
            if w.size and w.ndim and not any(w.strides) else np.array(w, dtype=self.dtype)
            for name, w in self.params.items()
        }

    def set_weights(self, weights):
        specs = self._specs
        weights = list(weights)
        if len(weights) != len(specs):
            raise ConfigError(
                f"layer {self.name}: expected {len(specs)} weight arrays "
                f"({', '.join(n for n, _, _ in specs)}), got {len(weights)}"
            )
        params = {}
        for pos, ((name, shape, _), w) in enumerate(zip(specs, weights)):
            w = np.asarray(w)
            if w.dtype.kind not in "fiu":
                raise ConfigError(f"layer {self.name}: weight {pos} ({name}) has non-numeric dtype {w.dtype}")
            if tuple(w.shape) != tuple(shape):
                raise ConfigError(
                    f"layer {self.name}: weight {pos} ({name}) must have shape {tuple(shape)}, "
                    f"got {tuple(w.shape)}"
                )
            if not np.all(np.isfinite(w)):
                warnings.warn(f"layer {self.name}: weight {pos} ({name}) contains NaN or inf", RuntimeWarning)
            params[name] = np.array(w, dtype=self.dtype)
        self.params = params

    def count_params(self):
        return int(sum(int(np.prod(shape, dtype=object)) for _, shape, _ in getattr(self, "_specs", ())))

    # -- shapes, masks, config -------------------------------------------------------
    def output_shape(self, input_shape):
        return input_shape

    def output_mask(self, mask):
        """The mask this layer hands to the next one (Keras: most layers drop it)."""
        return None

    def get_config(self):
        config = {"name": type(self).__name__}
        for key in self.config_keys:
            value = getattr(self, key)
            config[key] = value.name if isinstance(value, activations.Activation) else value
        return config

    # -- computation ---------------------------------------------------------------
    def forward(self, X, mask=None, train=False, rng=None):
        raise NotImplementedError

    def backward(self, dY):
        """(dX, [dW in weight order]) for the last forward call."""
        raise NotImplementedError


def _check_input_width(layer, X, axis_size):
    if X.shape[-1] != axis_size:
        raise InputError(f"layer {layer.name}: input has width {X.shape[-1]}, expected {axis_size}")


@register_layer
class Embedding(Layer):
    config_keys = ("input_dim", "output_dim", "init", "input_length", "mask_zero")

    def __init__(self, input_dim, output_dim, init="uniform", input_length=None, mask_zero=False,
                 weights=None, **kwargs):
        super().__init__(weights=weights, input_shape=(input_length,), **kwargs)
        self.input_dim, self.output_dim = int(input_dim), int(output_dim)
        self.init, self.input_length, self.mask_zero = init, input_length, bool(mask_zero)
        initializations.get(init)

    def param_specs(self, input_shape):
        return [("E", (self.input_dim, self.output_dim), self.init)]

    def output_shape(self, input_shape):
        return (input_shape[0], self.output_dim)

    def output_mask(self, mask):
        return self._mask if self.mask_zero else None

    def forward(self, X, mask=None, train=False, rng=None):
        if X.dtype.kind not in "iu":
            if X.dtype.kind == "f" and np.all(X == np.round(X)):
                X = X.astype(np.int64)
            else:
                raise InputError(f"layer {self.name}: expects integer token ids, got dtype {X.dtype}")
        # Keras 0.2.0 indexed W[X] with numpy/Theano semantics: ids in [-vocab, -1] count
        # from the end (as ONNX Gather does); only id 0 is masked by mask_zero
        if X.size and (X.min() < -self.input_dim or X.max() >= self.input_dim):
            raise InputError(
                f"layer {self.name}: token ids must lie in [-{self.input_dim}, {self.input_dim}), "
                f"got values in [{X.min()}, {X.max()}]"
            )
        self._mask = (X != 0).astype(self.dtype) if self.mask_zero else None  # before wrapping: -vocab is kept
        X = np.where(X < 0, X + self.input_dim, X) if X.size and X.min() < 0 else X
        self._ids = X
        return self.params["E"][X]

    def backward(self, dY):
        dE = np.zeros_like(self.params["E"])
        np.add.at(dE, self._ids, dY)
        return None, [dE]


@register_layer
class Masking(Layer):
    config_keys = ("mask_value",)

    def __init__(self, mask_value=0.0, **kwargs):
        super().__init__(**kwargs)
        self.mask_value = float(mask_value)

    def output_mask(self, mask):
        return self._mask

    def forward(self, X, mask=None, train=False, rng=None):
        self._mask = np.any(X != self.mask_value, axis=-1).astype(self.dtype)
        return X * self._mask[..., None]

    def backward(self, dY):
        return dY * self._mask[..., None], []


@register_layer
class Dense(Layer):
    config_keys = ("output_dim", "init", "activation", "input_dim")

    def __init__(self, output_dim, init="glorot_uniform", activation="linear", weights=None,
                 input_dim=None, **kwargs):
        if input_dim is not None:
            kwargs.setdefault("input_shape", (input_dim,))
        super().__init__(weights=weights, **kwargs)
        self.output_dim, self.init, self.input_dim = int(output_dim), init, input_dim
        self.activation = activations.get(activation)
        initializations.get(init)

    def param_specs(self, input_shape):
        return [("W", (input_shape[-1], self.output_dim), self.init), ("b", (self.output_dim,), "zero")]

    def output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.output_dim,)

    def forward(self, X, mask=None, train=False, rng=None):
        if X.ndim != 2:
            raise InputError(
                f"layer {self.name}: Dense takes (batch, features) input, got rank {X.ndim}; "
                "use TimeDistributedDense on sequences"
            )
        _check_input_width(self, X, self.params["W"].shape[0])
        self._X = X
        self._A = X @ self.params["W"] + self.params["b"]
        self._Y = self.activation(self._A)
        return self._Y

    def backward(self, dY):
        dA = self.activation.backward(self._A, self._Y, dY)
        X2 = self._X.reshape(-1, self._X.shape[-1])
        dA2 = dA.reshape(-1, dA.shape[-1])
        return dA @ self.params["W"].T, [X2.T @ dA2, dA2.sum(axis=0)]


@register_layer
class TimeDistributedDense(Dense):
    config_keys = Dense.config_keys + ("input_length",)

    def __init__(self, output_dim, init="glorot_uniform", activation="linear", weights=None,
                 input_dim=None, input_length=None, **kwargs):
        if input_dim is not None:
            kwargs.setdefault("input_shape", (input_length, input_dim))
        super().__init__(output_dim, init, activation, weights, **kwargs)
        self.input_dim, self.input_length = input_dim, input_length

    def output_mask(self, mask):
        return mask

    def forward(self, X, mask=None, train=False, rng=None):
        if X.ndim != 3:
            raise InputError(f"layer {self.name}: takes (batch, time, features) input, got rank {X.ndim}")
        _check_input_width(self, X, self.params["W"].shape[0])
        self._X = X
        self._A = X @ self.params["W"] + self.params["b"]
        self._Y = self.activation(self._A)
        return self._Y


@register_layer
class Activation(Layer):
    config_keys = ("activation",)
    config_keys_ignored = ("target", "beta")  # 0.2.0 wrote them; its forward pass never read them

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)

    def output_mask(self, mask):
        return mask

    def forward(self, X, mask=None, train=False, rng=None):
        self._X, self._Y = X, self.activation(X)
        return self._Y

    def backward(self, dY):
        return self.activation.backward(self._X, self._Y, dY), []


@register_layer
class Dropout(Layer):
    """Old-style dropout: a Bernoulli(1-p) draw in training, a fixed (1-p) scale at prediction."""

    config_keys = ("p",)

    def __init__(self, p, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= float(p) < 1.0:
            raise ConfigError(f"Dropout: p must lie in [0, 1), got {p}")
        self.p = float(p)

    def output_mask(self, mask):
        return mask

    def forward(self, X, mask=None, train=False, rng=None):
        if train and self.p > 0:
            self._scale = rng.binomial(1, 1.0 - self.p, size=X.shape).astype(X.dtype)
        else:
            self._scale = X.dtype.type(1.0 - self.p)
        return X * self._scale

    def backward(self, dY):
        return dY * self._scale, []


# ---------------------------------------------------------------------------------------
# the shape layers of 0.2.0's core.py: plain `Layer`s there, so none takes a masked input
# (Keras refused to connect one after a layer with an output mask) and none hands a mask on


def positive_int(value, layer, key):
    """`value` as a positive int, or a ConfigError naming the layer class and the key."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ConfigError(f"{layer}: {key} must be a positive integer, got {quote(value)}")
    return int(value)


def refuse_mask(layer, mask):
    if mask is not None:
        raise InputError(f"layer {layer.name}: {type(layer).__name__} does not take a masked input "
                         "(Keras 0.2.0 refused to connect it after a layer with an output mask)")


@register_layer
class RepeatVector(Layer):
    """(batch, d) -> (batch, n, d): each vector repeated n times along a new time axis."""

    config_keys = ("n",)

    def __init__(self, n, **kwargs):
        super().__init__(**kwargs)
        self.n = positive_int(n, "RepeatVector", "n")

    def output_shape(self, input_shape):
        if len(input_shape) != 1:
            raise ConfigError(f"layer {self.name}: RepeatVector takes (batch, features) input, "
                              f"got per-sample shape {tuple(input_shape)}")
        return (self.n, input_shape[0])

    def forward(self, X, mask=None, train=False, rng=None):
        refuse_mask(self, mask)
        if X.ndim != 2:
            raise InputError(f"layer {self.name}: RepeatVector takes (batch, features) input, got rank {X.ndim}")
        return np.repeat(X[:, None, :], self.n, axis=1)

    def backward(self, dY):
        return dY.sum(axis=1), []
