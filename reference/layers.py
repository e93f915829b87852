"""Layer base class and the non-recurrent layers of a Keras 0.2.0 Sequential model.

A layer is built once its input shape is known (`build`), holds its weights as a
dict in Keras order (`weight_names`), runs `forward(X, mask, train)` and then
`backward(dY) -> (dX, [grad per weight])` from what forward cached.
"""
import warnings

import numpy as np

from . import activations, initializations
from .errors import ConfigError, InputError
from .regularizers import ActivityRegularizer, Regularized
from .registry import register_layer
from .untrusted import quote
from .untrusted import LIMITS, check_sample_values
from .validators import declared_shape, positive_int, real


#: the largest weight array a layer may declare (elements; untrusted.LIMITS)
MAX_WEIGHT_ELEMENTS = LIMITS["weight_elements"].value


class Layer:
    # Keras's own output of get_config() adds these; subclasses list their own keys.
    config_keys = ()
    # a layer with more outputs (return_state, Bidirectional(merge_mode=None)) returns lists
    # from forward, output_shape and output_mask, and backward takes a list (None: unused)
    nb_outputs = 1

    def __init__(self, weights=None, input_shape=None, input_dim=None, input_length=None, drop_mask=False):
        self.initial_weights = weights
        # tf.keras (2.4+, "-tf" versions) drops a mask silently at a layer that does not
        # support masking, where keras-team Keras refused to build the model
        self.drop_mask = bool(drop_mask)
        if input_shape is None and input_dim is not None:
            input_shape = (input_length, input_dim)
        self.declared_input_shape = tuple(input_shape) if input_shape is not None else None
        if self.declared_input_shape is not None:  # (time, features): the time axis is a length
            declared_shape(self.declared_input_shape, f"layer {type(self).__name__}",
                           0 if len(self.declared_input_shape) == 2 or isinstance(self, Embedding) else None)
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
        output_shape = self.output_shape(self.input_shape)  # a layer refuses an input shape it cannot take (ConfigError)
        check_sample_values(self.input_shape, f"layer {self.name}", "input shape")
        check_sample_values(output_shape, f"layer {self.name}", "output shape")
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
            if isinstance(value, activations.Activation):
                value = value.name
            elif hasattr(value, "get_config"):  # a regularizer or constraint: as 0.2.0 wrote it
                value = value.get_config()
            config[key] = value
        return config

    # -- computation ---------------------------------------------------------------
    def forward(self, X, mask=None, train=False, rng=None):
        raise NotImplementedError

    def backward(self, dY):
        """(dX, [dW in weight order]) for the last forward call."""
        raise NotImplementedError


class MaskedLayer(Layer):
    """0.2.0's MaskedLayer: hands the mask it gets on to the next layer, unapplied."""

    def output_mask(self, mask):
        return mask


def check_sample_shape(layer, X):
    """A layer built for one per-sample shape (per-sample weights, a flattened
    size) refuses input of any other."""
    if X.shape[1:] != layer.input_shape:
        raise InputError(f"layer {layer.name}: {type(layer).__name__} was built for per-sample shape "
                         f"{layer.input_shape}, got {X.shape[1:]}")


def _check_input_width(layer, X, axis_size):
    if X.shape[-1] != axis_size:
        raise InputError(f"layer {layer.name}: input has width {X.shape[-1]}, expected {axis_size}")


@register_layer
class Embedding(Regularized, Layer):
    regularized_weights = {"W": "E"}
    regularizer_args = ("activity_regularizer", "W_regularizer", "W_constraint")
    config_keys = ("input_dim", "output_dim", "init", "input_length", "mask_zero") + regularizer_args

    def __init__(self, input_dim, output_dim, init="uniform", input_length=None, W_regularizer=None,
                 activity_regularizer=None, W_constraint=None, mask_zero=False, weights=None, **kwargs):
        super().__init__(weights=weights, input_shape=(input_length,), **kwargs)
        self.input_dim, self.output_dim = int(input_dim), int(output_dim)
        self.init, self.input_length, self.mask_zero = init, input_length, bool(mask_zero)
        initializations.get(init)
        self.init_regularizers(W_regularizer=W_regularizer, activity_regularizer=activity_regularizer,
                               W_constraint=W_constraint)

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
class Dense(Regularized, Layer):
    config_keys = ("output_dim", "init", "activation") + Regularized.regularizer_args + ("input_dim",)

    def __init__(self, output_dim, init="glorot_uniform", activation="linear", weights=None,
                 W_regularizer=None, b_regularizer=None, activity_regularizer=None,
                 W_constraint=None, b_constraint=None, input_dim=None, last_axis=False, **kwargs):
        if input_dim is not None:
            kwargs.setdefault("input_shape", (input_dim,))
        super().__init__(weights=weights, **kwargs)
        self.output_dim, self.init, self.input_dim = int(output_dim), init, input_dim
        # Keras 1.2+/2.x: Dense takes input of any rank >= 2 and acts on its last axis (per
        # step on a sequence: TimeDistributedDense's numbers); 2.x hands the mask on (1.x
        # refused a masked input, so handing it on changes nothing there)
        self.last_axis = bool(last_axis)
        self.activation = activations.get(activation)
        initializations.get(init)
        self.init_regularizers(W_regularizer=W_regularizer, b_regularizer=b_regularizer,
                               activity_regularizer=activity_regularizer, W_constraint=W_constraint,
                               b_constraint=b_constraint)

    def param_specs(self, input_shape):
        return [("W", (input_shape[-1], self.output_dim), self.init), ("b", (self.output_dim,), "zero")]

    def output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.output_dim,)

    def output_mask(self, mask):
        return mask if self.last_axis else None

    def forward(self, X, mask=None, train=False, rng=None):
        if X.ndim != 2 and not (self.last_axis and X.ndim > 2):
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
class TimeDistributedDense(MaskedLayer, Dense):
    config_keys = Dense.config_keys + ("input_length",)

    def __init__(self, output_dim, init="glorot_uniform", activation="linear", weights=None,
                 W_regularizer=None, b_regularizer=None, activity_regularizer=None,
                 W_constraint=None, b_constraint=None, input_dim=None, input_length=None, **kwargs):
        if input_dim is not None:
            kwargs.setdefault("input_shape", (input_length, input_dim))
        super().__init__(output_dim, init, activation, weights, W_regularizer, b_regularizer,
                         activity_regularizer, W_constraint, b_constraint, **kwargs)
        self.input_dim, self.input_length = input_dim, input_length

    def forward(self, X, mask=None, train=False, rng=None):
        if X.ndim != 3:
            raise InputError(f"layer {self.name}: takes (batch, time, features) input, got rank {X.ndim}")
        _check_input_width(self, X, self.params["W"].shape[0])
        self._X = X
        self._A = X @ self.params["W"] + self.params["b"]
        self._Y = self.activation(self._A)
        return self._Y


@register_layer
class Activation(MaskedLayer):
    config_keys = ("activation",)
    config_keys_ignored = ("target", "beta")  # 0.2.0 wrote them; its forward pass never read them

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)

    def forward(self, X, mask=None, train=False, rng=None):
        self._X, self._Y = X, self.activation(X)
        return self._Y

    def backward(self, dY):
        return self.activation.backward(self._X, self._Y, dY), []


@register_layer
class Dropout(MaskedLayer):
    """Old-style dropout: a Bernoulli(1-p) draw in training, a fixed (1-p) scale at prediction."""

    config_keys = ("p",)

    def __init__(self, p, **kwargs):
        super().__init__(**kwargs)
        self.p = real(p, "Dropout", "p", 0.0, 1.0)

    def forward(self, X, mask=None, train=False, rng=None):
        if train and self.p > 0:
            self._scale = rng.binomial(1, 1.0 - self.p, size=X.shape).astype(X.dtype)
        else:
            self._scale = X.dtype.type(1.0 - self.p)
        return X * self._scale

    def backward(self, dY):
        return dY * self._scale, []


@register_layer
class ActivityRegularization(Layer):
    """Identity at prediction and in training; adds 0.2.0's ActivityRegularizer(l1, l2)
    penalty on its output to the training loss. Like every plain 0.2.0 Layer it cannot
    follow a layer with a mask."""

    config_keys = ("l1", "l2")

    def __init__(self, l1=0., l2=0., **kwargs):
        super().__init__(**kwargs)
        self.activity_regularizer = ActivityRegularizer(l1=l1, l2=l2)
        self.l1, self.l2 = l1, l2

    def forward(self, X, mask=None, train=False, rng=None):
        refuse_mask(self, mask)
        return X

    def backward(self, dY):
        return dY, []


# ---------------------------------------------------------------------------------------
# the shape layers of 0.2.0's core.py: plain `Layer`s there, so none takes a masked input
# (Keras refused to connect one after a layer with an output mask) and none hands a mask on


def refuse_mask(layer, mask):
    """0.2.0 refused to connect a plain Layer (not a MaskedLayer) after a layer with an
    output mask ("Cannot connect non-masking layer to layer with masked output")."""
    if mask is not None and not getattr(layer, "drop_mask", False):
        raise InputError(f"layer {layer.name}: {type(layer).__name__} cannot follow a layer with a mask "
                         "(Embedding(mask_zero=True), Masking or a masked sequence); Keras 0.2.0 refused "
                         "to connect it too")


def _dims(value, layer):
    """Reshape's/Permute's `dims` as a tuple of positive ints (a JSON list, a YAML tuple)."""
    if not isinstance(value, (list, tuple)) or not value:
        raise ConfigError(f"{layer}: dims must be a non-empty list of positive integers, got {quote(value)}")
    return tuple(positive_int(v, layer, "each of dims") for v in value)


def _size(shape):
    return int(np.prod(shape, dtype=object))


@register_layer
class RepeatVector(Layer):
    """(batch, d) -> (batch, n, d): each vector repeated n times along a new time axis."""

    config_keys = ("n",)

    def __init__(self, n, **kwargs):
        super().__init__(**kwargs)
        self.n = positive_int(n, "RepeatVector", "n", limit="timesteps")

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


@register_layer
class Reshape(Layer):
    """(batch, *input shape) -> (batch, *dims), C order. 0.2.0 checked nothing before
    running; here a per-sample size that differs is refused when the layer is built (or,
    for a sequence of unknown length, at run time)."""

    config_keys = ("dims",)
    needs_length = True  # a sequence's length decides whether it fits (rnn2onnx: io_dims)

    def __init__(self, dims, infer_axis=False, **kwargs):
        super().__init__(**kwargs)
        # Keras 1.x/2.x's target_shape may hold one -1: that axis takes what the others leave
        self.infer_axis = bool(infer_axis)
        if self.infer_axis and isinstance(dims, (list, tuple)) and list(dims).count(-1) == 1:
            free = list(dims).index(-1)
            self.dims = tuple(-1 if i == free else v for i, v in enumerate(_dims([1 if v == -1 else v for v in dims],
                                                                                "Reshape")))
        else:
            self.dims = _dims(dims, "Reshape")

    @property
    def _dims_text(self):
        if -1 in self.dims:
            return f"{self.dims} (a multiple of {-_size(self.dims)} values)"
        return f"{self.dims} ({_size(self.dims)} values)"

    def _resolved(self, size):
        """dims with a -1 worked out for `size` values per sample, or None when they do not fit."""
        if -1 not in self.dims:
            return self.dims if size == _size(self.dims) else None
        known = -_size(self.dims)
        if size % known:
            return None
        return tuple(size // known if v == -1 else v for v in self.dims)

    def output_shape(self, input_shape):
        if None in input_shape:
            return tuple(None if v == -1 else v for v in self.dims)
        dims = self._resolved(_size(input_shape))
        if dims is None:
            raise ConfigError(f"layer {self.name}: Reshape cannot turn per-sample shape {tuple(input_shape)} "
                              f"({_size(input_shape)} values) into {self._dims_text}")
        return dims

    def forward(self, X, mask=None, train=False, rng=None):
        refuse_mask(self, mask)
        dims = self._resolved(_size(X.shape[1:]))
        if dims is None:
            raise InputError(f"layer {self.name}: Reshape cannot turn per-sample shape {X.shape[1:]} "
                             f"({_size(X.shape[1:])} values) into {self._dims_text}")
        self._shape = X.shape
        return X.reshape((X.shape[0],) + dims)

    def backward(self, dY):
        return dY.reshape(self._shape), []


@register_layer
class Permute(Layer):
    """Axes of each sample reordered: `dims` are 1-based (the samples axis excluded), a
    permutation of 1..rank; Permute((2, 1)) swaps time and features."""

    config_keys = ("dims",)

    def __init__(self, dims, **kwargs):
        super().__init__(**kwargs)
        self.dims = _dims(dims, "Permute")
        if len(set(self.dims)) != len(self.dims):
            raise ConfigError(f"Permute: dims {self.dims} name an axis twice; they must be a permutation of "
                              f"1..{len(self.dims)}")

    def output_shape(self, input_shape):
        if sorted(self.dims) != list(range(1, len(input_shape) + 1)):
            raise ConfigError(f"layer {self.name}: Permute dims {self.dims} are not a permutation of the axes "
                              f"1..{len(input_shape)} of its per-sample input shape {tuple(input_shape)}")
        return tuple(input_shape[d - 1] for d in self.dims)

    def forward(self, X, mask=None, train=False, rng=None):
        refuse_mask(self, mask)
        if X.ndim != len(self.dims) + 1:
            raise InputError(f"layer {self.name}: Permute{self.dims} takes rank {len(self.dims) + 1} input, "
                             f"got rank {X.ndim}")
        return X.transpose((0,) + self.dims)

    def backward(self, dY):
        return dY.transpose(np.argsort((0,) + self.dims)), []


@register_layer
class Flatten(Layer):
    """(batch, ...) -> (batch, size). 0.2.0's get_config writes the name only."""

    config_keys = ()
    needs_length = True

    def output_shape(self, input_shape):
        if None in input_shape:
            raise ConfigError(f"layer {self.name}: Flatten needs the per-sample shape, got {tuple(input_shape)} "
                              "(a sequence of unknown length): give the first layer input_length or an "
                              "input_shape with the length (Keras 0.2.0 could not build it either)")
        return (_size(input_shape),)

    def forward(self, X, mask=None, train=False, rng=None):
        refuse_mask(self, mask)
        if self.built:
            check_sample_shape(self, X)
        self._shape = X.shape
        return X.reshape(X.shape[0], -1)

    def backward(self, dY):
        return dY.reshape(self._shape), []


@register_layer
class TimeDistributedMerge(Layer):
    """(batch, time, features) -> (batch, features): the sum over time, or its mean
    ('ave': the sum divided by the length, as 0.2.0 computed it).

    Keras 1.x/2.x's GlobalAveragePooling1D / GlobalMaxPooling1D are this layer with
    `global_pooling=True` (modes 'ave' and 'max': K.mean, K.max over time); `masked_mean`
    (GlobalAveragePooling1D from 2.2.3) takes a mask: sum(x * mask) / sum(mask) over time
    (0/0 = NaN for a sample whose steps are all masked, as Keras computes it)."""

    config_keys = ("mode",)
    MODES = ("sum", "ave")
    GLOBAL_MODES = ("ave", "max")

    def __init__(self, mode="sum", global_pooling=False, masked_mean=False, **kwargs):
        super().__init__(**kwargs)
        modes = self.GLOBAL_MODES if global_pooling else self.MODES
        if mode == "mul" and not global_pooling:
            raise ConfigError("TimeDistributedMerge: mode 'mul' is refused: Keras 0.2.0 could not build it "
                              "(its T.mul(X, axis=1) fails in Theano), so no 0.2.0 model has one; "
                              f"accepted: {', '.join(self.MODES)}")
        if mode not in modes:
            raise ConfigError(f"TimeDistributedMerge: unknown mode {quote(mode)}; accepted: {', '.join(modes)}")
        if masked_mean and mode != "ave":
            raise ConfigError("TimeDistributedMerge: masked_mean takes mode 'ave'")
        self.mode, self.global_pooling, self.masked_mean = mode, bool(global_pooling), bool(masked_mean)

    def output_shape(self, input_shape):
        if len(input_shape) != 2:
            raise ConfigError(f"layer {self.name}: TimeDistributedMerge takes (batch, time, features) input, "
                              f"got per-sample shape {tuple(input_shape)}")
        return (input_shape[1],)

    def forward(self, X, mask=None, train=False, rng=None):
        if not self.masked_mean:
            refuse_mask(self, mask)
            mask = None  # dropped (tf.keras) or refused
        if X.ndim != 3:
            raise InputError(f"layer {self.name}: TimeDistributedMerge takes (batch, time, features) input, "
                             f"got rank {X.ndim}")
        self._T, self._X, self._mask = X.shape[1], X, mask
        if self.mode == "max":
            self._Y = X.max(axis=1)
            return self._Y
        if mask is not None:
            m = mask.astype(X.dtype)[:, :, None]
            self._count = m.sum(axis=1)
            with np.errstate(invalid="ignore", divide="ignore"):
                return (X * m).sum(axis=1) / self._count
        Y = X.sum(axis=1)
        return Y / X.dtype.type(self._T) if self.mode == "ave" else Y

    def backward(self, dY):
        if self.mode == "max":
            hit = self._X == self._Y[:, None, :]  # every element equal to the max (Theano)
            return hit * dY[:, None, :], []
        if self._mask is not None:
            m = self._mask.astype(dY.dtype)[:, :, None]
            return m * (dY / self._count)[:, None, :], []
        if self.mode == "ave":
            dY = dY / dY.dtype.type(self._T)
        return np.repeat(dY[:, None, :], self._T, axis=1), []


@register_layer
class MaxoutDense(Regularized, Layer):
    """max over nb_feature pieces of X . W[f] + b[f]; W (nb_feature, input_dim,
    output_dim) initialised with fans (input_dim * output_dim, nb_feature) as 0.2.0's
    get_fans computes them for a 3-D shape; b zeros (nb_feature, output_dim). Its
    regularizers and constraints train as 0.2.0's (reference/regularizers.py)."""

    config_keys = ("output_dim", "init", "nb_feature") + Regularized.regularizer_args + ("input_dim",)

    def __init__(self, output_dim, nb_feature=4, init="glorot_uniform", weights=None, W_regularizer=None,
                 b_regularizer=None, activity_regularizer=None, W_constraint=None, b_constraint=None,
                 input_dim=None, **kwargs):
        if input_dim is not None:
            kwargs.setdefault("input_shape", (input_dim,))
        super().__init__(weights=weights, **kwargs)
        self.output_dim = positive_int(output_dim, "MaxoutDense", "output_dim", limit="units")
        self.nb_feature = positive_int(nb_feature, "MaxoutDense", "nb_feature", limit="units")
        self.init, self.input_dim = init, input_dim
        initializations.get(init)
        self.init_regularizers(W_regularizer=W_regularizer, b_regularizer=b_regularizer,
                               activity_regularizer=activity_regularizer, W_constraint=W_constraint,
                               b_constraint=b_constraint)

    def param_specs(self, input_shape):
        return [("W", (self.nb_feature, input_shape[-1], self.output_dim), self.init),
                ("b", (self.nb_feature, self.output_dim), "zero")]

    def output_shape(self, input_shape):
        if len(input_shape) != 1:
            raise ConfigError(f"layer {self.name}: MaxoutDense takes (batch, features) input, "
                              f"got per-sample shape {tuple(input_shape)}")
        return (self.output_dim,)

    def forward(self, X, mask=None, train=False, rng=None):
        refuse_mask(self, mask)
        if X.ndim != 2:
            raise InputError(f"layer {self.name}: MaxoutDense takes (batch, features) input, got rank {X.ndim}")
        _check_input_width(self, X, self.params["W"].shape[1])
        # (n, d) . (f, d, k) -> (n, f, k), as Theano's T.dot of a matrix and a 3-D tensor:
        # one matrix product with W laid out (d, f*k) (einsum would not call BLAS: 6-10x slower)
        W = self.params["W"]
        f, d, k = W.shape
        self._W2 = np.ascontiguousarray(W.transpose(1, 0, 2)).reshape(d, f * k)
        A = (X @ self._W2).reshape(-1, f, k) + self.params["b"]
        self._X, self._arg = X, A.argmax(axis=1)
        return np.take_along_axis(A, self._arg[:, None, :], axis=1)[:, 0, :]

    def backward(self, dY):
        (n, k), (f, d, _) = dY.shape, self.params["W"].shape
        dA = np.zeros((n, f, k), dtype=dY.dtype)
        np.put_along_axis(dA, self._arg[:, None, :], dY[:, None, :], axis=1)
        dA2 = dA.reshape(n, f * k)
        dW = np.ascontiguousarray((self._X.T @ dA2).reshape(d, f, k).transpose(1, 0, 2))
        return dA2 @ self._W2.T, [dW, dA.sum(axis=0)]
