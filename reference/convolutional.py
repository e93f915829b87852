"""Keras 0.2.0's Convolution1D and MaxPooling1D (keras/layers/convolutional.py), over
(batch, time, features) input.

Convolution1D(nb_filter, filter_length): W of shape (nb_filter, input_dim,
filter_length, 1), b (nb_filter,). It is Theano's conv2d, a TRUE convolution (the
kernel flipped along time): with K = filter_length and Wk = W[:, :, K-1-k, 0].T,
`valid` gives out[t] = sum_k X[t+k] @ Wk (L-K+1 steps); `full` the same over X padded
with K-1 zeros on both sides (L+K-1 steps); `same` is `full` cropped from (K-1)//2
(L steps; 0.2.0 asserted subsample_length == 1 with it). subsample_length s keeps
steps 0, s, 2s, ... of that; then `activation(out + b)`.

MaxPooling1D(pool_length=2, stride=None, ignore_border=True): stride defaults to the
pool length; windows start at 0, stride, ...; ignore_border=True keeps whole windows
only ((L-p)//stride + 1 steps), ignore_border=False also the last partial ones
(Theano's DownsampleFactorMax: (L-1)//stride + 1 steps when stride >= p, else
max(0, (L-1-p)//stride + 1) + 1). Its gradient goes to every element equal to its
window's max (Theano's).

Neither takes a masked input (0.2.0 refused to connect them after a mask) nor hands
one on.
"""
import numpy as np

from . import activations, initializations
from .errors import ConfigError, InputError
from .layers import Layer, refuse_mask
from .regularizers import Regularized
from .registry import register_layer
from .validators import positive_int

BORDER_MODES = ("valid", "same", "full")


class _Temporal(Layer):
    """A layer over (time, features) samples whose output length `output_length(L)`
    may be 0: such an input shape is refused when the layer is built (`output_shape`),
    and such an input at run time (`check_length`)."""

    def output_shape(self, input_shape):
        if len(input_shape) != 2:
            raise ConfigError(f"layer {self.name}: {type(self).__name__} takes (time, features) per sample, "
                              f"got per-sample shape {tuple(input_shape)}")
        T = self.output_length(input_shape[0])
        if T == 0:
            raise ConfigError(self._too_short(input_shape[0]))
        return (T, self.output_features(input_shape[1]))

    def output_features(self, input_dim):
        """The features per step of the output (the input's, unless the layer maps them)."""
        return input_dim

    def check_length(self, X):
        """The output length for input X (batch, time, features)."""
        T = self.output_length(X.shape[1])
        if T < 1:
            raise InputError(self._too_short(X.shape[1]))
        return T


@register_layer
class Convolution1D(Regularized, _Temporal):
    """Keras 1.x/2.x add (reference/keras_files/layers12.py translates their configs):

    - `flip`: True (Theano, every release: its conv2d flips the kernel, a true
      convolution) or False (TensorFlow: a cross-correlation, tap k times W[:, :, k]).
    - `border_mode` 'causal' (2.x): dilation_rate*(K-1) zeros on the left, then valid.
    - `same_rule` for 'same': None (0.2.0: 'full' cropped, subsample_length 1 only),
      'theano' (Theano's 'half' border: K_eff//2 zeros on the left, ceil(L/s) steps,
      also strided) or 'tensorflow' (TF's SAME: total = max((ceil(L/s)-1)*s + K_eff - L, 0)
      zeros, total//2 on the left: with s > 1 it depends on L).
    - `dilation_rate` d: taps d apart, K_eff = d*(K-1) + 1.
    W keeps 0.2.0's layout (nb_filter, input_dim, filter_length, 1) whatever the file's."""

    config_keys = ("nb_filter", "filter_length", "init", "activation", "border_mode", "subsample_length") \
        + Regularized.regularizer_args + ("input_dim", "input_length")
    SAME_RULES = (None, "theano", "tensorflow")

    def __init__(self, nb_filter, filter_length, init="uniform", activation="linear", weights=None,
                 border_mode="valid", subsample_length=1, W_regularizer=None, b_regularizer=None,
                 activity_regularizer=None, W_constraint=None, b_constraint=None, input_dim=None,
                 input_length=None, flip=True, same_rule=None, dilation_rate=1, **kwargs):
        modes = BORDER_MODES + (("causal",) if same_rule is not None else ())
        if border_mode not in modes:
            raise ConfigError(f"layer Convolution1D: unknown border_mode {border_mode!r}; "
                              f"accepted: {', '.join(modes)}")
        if same_rule not in self.SAME_RULES:
            raise ConfigError(f"layer Convolution1D: unknown same_rule {same_rule!r}; accepted: None, theano, tensorflow")
        if input_dim:  # 0.2.0: input_dim (with input_length) sets the input shape
            kwargs["input_shape"] = (input_length, input_dim)
        super().__init__(weights=weights, **kwargs)
        self.nb_filter = positive_int(nb_filter, "Convolution1D", "nb_filter", limit="units")
        self.filter_length = positive_int(filter_length, "Convolution1D", "filter_length", limit="window")
        self.subsample_length = positive_int(subsample_length, "Convolution1D", "subsample_length",
                                             limit="window")
        self.dilation_rate = positive_int(dilation_rate, "Convolution1D", "dilation_rate", limit="window")
        if border_mode == "same" and same_rule is None and self.subsample_length != 1:
            raise ConfigError("layer Convolution1D: border_mode 'same' takes subsample_length 1 only "
                              f"(Keras 0.2.0 asserted it), got {self.subsample_length}")
        if same_rule is None and self.dilation_rate != 1:
            raise ConfigError("layer Convolution1D: dilation_rate needs a same_rule (Keras 1.x/2.x); "
                              "Keras 0.2.0 had none")
        self.init, self.border_mode = init, border_mode
        self.flip, self.same_rule = bool(flip), same_rule
        self.activation = activations.get(activation)
        initializations.get(init)
        self.input_dim, self.input_length = input_dim, input_length
        self.init_regularizers(W_regularizer=W_regularizer, b_regularizer=b_regularizer,
                               activity_regularizer=activity_regularizer, W_constraint=W_constraint,
                               b_constraint=b_constraint)

    def param_specs(self, input_shape):
        return [("W", (self.nb_filter, input_shape[-1], self.filter_length, 1), self.init),
                ("b", (self.nb_filter,), "zero")]

    @property
    def span(self):
        """K_eff: the steps one window covers."""
        return self.dilation_rate * (self.filter_length - 1) + 1

    @property
    def static_pads(self):
        """Whether pads_for(L) is the same for every L (all but TF's strided 'same')."""
        return not (self.border_mode == "same" and self.same_rule == "tensorflow" and self.subsample_length > 1)

    @property
    def pads(self):
        """(left, right) zero padding for a static rule (pads_for of any length)."""
        return self.pads_for(1) if self.static_pads else None

    def pads_for(self, L):
        """(left, right) zero padding that makes every border mode a valid convolution of
        an L-step input (its strided windows start at 0, s, 2s, ...)."""
        K, s = self.span, self.subsample_length
        if self.border_mode == "valid":
            return 0, 0
        if self.border_mode == "full":
            return K - 1, K - 1
        if self.border_mode == "causal":
            return K - 1, 0
        if self.same_rule == "tensorflow":
            total = max(((L + s - 1) // s - 1) * s + K - L, 0) if s > 1 else K - 1
            return total // 2, total - total // 2
        if self.same_rule is None:
            shift = (K - 1) // 2  # 0.2.0: full cropped from shift, for L steps
            return K - 1 - shift, shift
        # Theano's 'half': K//2 on each side, cropped to ceil(L/s) windows; right as needed
        left = K // 2
        right = K - 1 - left if s == 1 else max(((L + s - 1) // s - 1) * s + K - L - left, 0)
        return left, right

    def output_length(self, L):
        if L is None:
            return None
        if self.border_mode == "same" and self.same_rule is not None:
            return (L + self.subsample_length - 1) // self.subsample_length
        left, right = self.pads_for(L)
        full = L + left + right - self.span + 1
        return (full + self.subsample_length - 1) // self.subsample_length if full > 0 else 0

    def output_features(self, input_dim):
        return self.nb_filter

    def _too_short(self, L):
        return (f"layer {self.name}: a sequence of {L} steps is shorter than the "
                f"filter_length {self.filter_length} of this '{self.border_mode}' convolution")

    def tap_kernels(self):
        """[(features, filters) matrix of tap k] in window order: the kernel flipped along
        time for a true convolution, as stored for a cross-correlation."""
        W, K = self.params["W"], self.filter_length
        return [np.ascontiguousarray(W[:, :, K - 1 - k if self.flip else k, 0].T) for k in range(K)]

    def forward(self, X, mask=None, train=False, rng=None):
        refuse_mask(self, mask)
        if X.ndim != 3 or X.shape[-1] != self.params["W"].shape[1]:
            raise InputError(f"layer {self.name}: Convolution1D takes (batch, time, {self.params['W'].shape[1]}) "
                             f"input, got shape {X.shape}")
        T = self.check_length(X)
        K, s, d = self.filter_length, self.subsample_length, self.dilation_rate
        left, right = self.pads_for(X.shape[1])
        Xp = np.pad(X, ((0, 0), (left, right), (0, 0))) if left or right else X
        windows = np.lib.stride_tricks.sliding_window_view(Xp, self.span, axis=1)[:, ::s][:, :T, :, ::d]
        (n, T, D, _), f = windows.shape, self.nb_filter
        # one matrix product over the windows laid out (n*T', d*K) (einsum would call no BLAS)
        self._cols = windows.reshape(n * T, D * K)
        W = self.params["W"][:, :, ::-1, 0] if self.flip else self.params["W"][:, :, :, 0]
        self._kernel = W.reshape(f, D * K)
        self._padded_shape, self._pads = Xp.shape, (left, right)
        self._A = (self._cols @ self._kernel.T).reshape(n, T, f) + self.params["b"]
        self._Y = self.activation(self._A)
        return self._Y

    def backward(self, dY):
        K, s, d = self.filter_length, self.subsample_length, self.dilation_rate
        dA = self.activation.backward(self._A, self._Y, dY)
        (n, T, f), D = dA.shape, self._padded_shape[2]
        dA2 = dA.reshape(n * T, f)
        dkernel = (dA2.T @ self._cols).reshape(f, D, K)
        dW = np.ascontiguousarray(dkernel[:, :, ::-1] if self.flip else dkernel)[..., None]
        dXp = np.zeros(self._padded_shape, dA.dtype)
        contrib = (dA2 @ self._kernel).reshape(n, T, D, K)
        for k in range(K):
            dXp[:, k * d:k * d + s * (T - 1) + 1:s] += contrib[:, :, :, k]
        left, right = self._pads
        dX = dXp[:, left:dXp.shape[1] - right]
        return dX, [dW, dA.sum(axis=(0, 1))]


@register_layer
class MaxPooling1D(_Temporal):
    """Keras 1.x/2.x add `border_mode` 'same' (1.x border_mode, 2.x padding; 'valid' is
    ignore_border=True) under a `same_rule`: window j covers steps [j*s - left,
    j*s - left + p) clipped to the sequence, ceil(L/s) windows, where left is p-2 for an
    odd p > 2 and p-1 otherwise on Theano (its pool_2d `pad`, cropped), and total//2 on
    TensorFlow (SAME: total = max((ceil(L/s)-1)*s + p - L, 0)). Steps outside the
    sequence never count (Theano's exclusive padding, TensorFlow's alike)."""

    config_keys = ("stride", "pool_length", "ignore_border")
    pool_mode = "max"

    def __init__(self, pool_length=2, stride=None, ignore_border=True, border_mode="valid", same_rule=None,
                 **kwargs):
        super().__init__(**kwargs)
        kind = type(self).__name__
        self.pool_length = positive_int(pool_length, kind, "pool_length", limit="window")
        self.stride = self.pool_length if stride is None else positive_int(stride, kind, "stride", limit="window")
        if not isinstance(ignore_border, (bool, np.bool_)):
            raise ConfigError(f"layer {kind}: ignore_border must be true or false, got {ignore_border!r}")
        if border_mode not in ("valid", "same"):
            raise ConfigError(f"layer {kind}: unknown border_mode {border_mode!r}; accepted: valid, same")
        if (border_mode == "same") != (same_rule is not None) or same_rule not in (None, "theano", "tensorflow"):
            raise ConfigError(f"layer {kind}: border_mode 'same' takes a same_rule (theano or tensorflow), "
                              f"'valid' none; got {border_mode!r} with {same_rule!r}")
        self.ignore_border = bool(ignore_border)
        self.border_mode, self.same_rule = border_mode, same_rule

    def _too_short(self, L):
        return (f"layer {self.name}: pool_length {self.pool_length} is longer than the sequence "
                f"({L} steps); with ignore_border=True no window fits")

    def output_length(self, L):
        if L is None:
            return None
        p, st = self.pool_length, self.stride
        if self.border_mode == "same":
            return (L + st - 1) // st
        if self.ignore_border:
            return max((L - p) // st + 1, 0)
        if L == 0:
            return 0
        return (L - 1) // st + 1 if st >= p else max(0, (L - 1 - p) // st + 1) + 1

    @property
    def static_left(self):
        """The steps before the first window, when they do not depend on L (else None)."""
        p, st = self.pool_length, self.stride
        if self.border_mode == "valid":
            return 0
        if self.same_rule == "theano":
            return p - 2 if p > 2 and p % 2 else p - 1
        return (p - 1) // 2 if st == 1 else None

    def left_for(self, L):
        left = self.static_left
        if left is None:
            p, st = self.pool_length, self.stride
            left = max(((L + st - 1) // st - 1) * st + p - L, 0) // 2
        return left

    def _windows(self, X, fill):
        """(windows (n, T, d, p) over X padded with `fill`, left padding, T)."""
        L, p, st = X.shape[1], self.pool_length, self.stride
        T = self.check_length(X)
        left = self.left_for(L) if self.border_mode == "same" else 0
        # pad the partial windows (ignore_border=False, 'same') with `fill`: never counted
        need = (T - 1) * st + p
        right = max(need - L - left, 0)
        Xp = np.pad(X, ((0, 0), (left, right), (0, 0)), constant_values=fill) if left or right else X
        return np.lib.stride_tricks.sliding_window_view(Xp, p, axis=1)[:, ::st][:, :T], left, T

    def forward(self, X, mask=None, train=False, rng=None):
        refuse_mask(self, mask)
        if X.ndim != 3:
            raise InputError(f"layer {self.name}: {type(self).__name__} takes (batch, time, features) input, "
                             f"got shape {X.shape}")
        windows, self._left, T = self._windows(X, -np.inf)
        Y = windows.max(axis=-1)
        self._shape, self._win, self._Y = X.shape, windows, Y
        return Y

    def _scatter(self, taps, T):
        """dX from per-tap gradients taps[k] (n, T, d) of the padded input."""
        p, st = self.pool_length, self.stride
        n, L, d = self._shape
        dXp = np.zeros((n, max((T - 1) * st + p, L + self._left), d), dtype=taps[0].dtype)
        for k in range(p):
            dXp[:, k:k + st * (T - 1) + 1:st] += taps[k]
        return dXp[:, self._left:self._left + L]

    def backward(self, dY):
        hit = self._win == self._Y[..., None]  # every element equal to the max (Theano)
        return self._scatter([hit[..., k] * dY for k in range(self.pool_length)], dY.shape[1]), []


@register_layer
class AveragePooling1D(MaxPooling1D):
    """Keras 1.x/2.x AveragePooling1D: the mean of each window's steps inside the sequence
    (Theano's average_exc_pad, TensorFlow's SAME average), windows as MaxPooling1D's."""

    pool_mode = "average"

    def __init__(self, pool_length=2, stride=None, ignore_border=True, border_mode="valid", same_rule=None,
                 count_pad=False, **kwargs):
        super().__init__(pool_length, stride, ignore_border, border_mode, same_rule, **kwargs)
        # Keras 2.0.4-2.1.4 on Theano: 'same' averages with average_inc_pad, the padding's zeros
        # counted (every window divided by pool_length)
        self.count_pad = bool(count_pad)

    def counts(self, L):
        """(T, 1): how many steps each window's mean divides by: those of the sequence it
        holds, or pool_length with count_pad."""
        ones = np.ones((1, L, 1))
        windows, _, T = self._windows(ones, 0.0)
        return np.full((T, 1), float(self.pool_length)) if self.count_pad else windows.sum(axis=-1)[0]

    def forward(self, X, mask=None, train=False, rng=None):
        refuse_mask(self, mask)
        if X.ndim != 3:
            raise InputError(f"layer {self.name}: AveragePooling1D takes (batch, time, features) input, "
                             f"got shape {X.shape}")
        windows, self._left, T = self._windows(X, 0.0)
        self._shape = X.shape
        self._count = self.counts(X.shape[1]).astype(X.dtype)
        return windows.sum(axis=-1) / self._count

    def backward(self, dY):
        share = dY / self._count
        return self._scatter([share] * self.pool_length, dY.shape[1]), []


def shortest_input_length(layers, longest=64):
    """The fewest timesteps every layer of `layers` accepts (convolutions and pooling
    shorten a sequence), or None when a model takes no sequence."""
    for L in range(1, longest + 1):
        n, ok = L, True
        for layer in layers:
            step = getattr(layer, "output_length", None)
            if step is not None:
                n = step(n)
                if n < 1:
                    ok = False
                    break
        if ok:
            return L
    return None


# -- Keras 1.x/2.x's temporal shape layers (keras/layers/convolutional.py): none takes a mask
@register_layer
class ZeroPadding1D(_Temporal):
    """left_pad zeros before the steps and right_pad after (K.temporal_padding)."""

    config_keys = ("left_pad", "right_pad")

    def __init__(self, left_pad=1, right_pad=1, **kwargs):
        super().__init__(**kwargs)
        self.left_pad = _count(left_pad, "ZeroPadding1D", "left_pad")
        self.right_pad = _count(right_pad, "ZeroPadding1D", "right_pad")

    def output_length(self, L):
        return None if L is None else L + self.left_pad + self.right_pad

    def _too_short(self, L):
        return f"layer {self.name}: ZeroPadding1D takes sequences of at least one step, got {L}"

    def forward(self, X, mask=None, train=False, rng=None):
        refuse_mask(self, mask)
        _check_sequence(self, X)
        return np.pad(X, ((0, 0), (self.left_pad, self.right_pad), (0, 0)))

    def backward(self, dY):
        return dY[:, self.left_pad:dY.shape[1] - self.right_pad], []


@register_layer
class Cropping1D(_Temporal):
    """The steps from left_crop up to right_crop before the end (x[:, l:L-r])."""

    config_keys = ("left_crop", "right_crop")

    def __init__(self, left_crop=1, right_crop=1, **kwargs):
        super().__init__(**kwargs)
        self.left_crop = _count(left_crop, "Cropping1D", "left_crop")
        self.right_crop = _count(right_crop, "Cropping1D", "right_crop")

    def output_length(self, L):
        return None if L is None else max(L - self.left_crop - self.right_crop, 0)

    def _too_short(self, L):
        return (f"layer {self.name}: Cropping1D cannot crop {self.left_crop} + {self.right_crop} steps from a "
                f"sequence of {L}")

    def forward(self, X, mask=None, train=False, rng=None):
        refuse_mask(self, mask)
        _check_sequence(self, X)
        self.check_length(X)
        self._L = X.shape[1]
        return X[:, self.left_crop:X.shape[1] - self.right_crop]

    def backward(self, dY):
        return np.pad(dY, ((0, 0), (self.left_crop, self._L - self.left_crop - dY.shape[1]), (0, 0))), []


@register_layer
class UpSampling1D(_Temporal):
    """Each step repeated `size` times in place (K.repeat_elements along time)."""

    config_keys = ("size",)

    def __init__(self, size=2, **kwargs):
        super().__init__(**kwargs)
        self.size = positive_int(size, "UpSampling1D", "size", limit="window")

    def output_length(self, L):
        return None if L is None else L * self.size

    def _too_short(self, L):
        return f"layer {self.name}: UpSampling1D takes sequences of at least one step, got {L}"

    def forward(self, X, mask=None, train=False, rng=None):
        refuse_mask(self, mask)
        _check_sequence(self, X)
        return np.repeat(X, self.size, axis=1)

    def backward(self, dY):
        n, T, d = dY.shape
        return dY.reshape(n, T // self.size, self.size, d).sum(axis=2), []


def _count(value, layer, key):
    """A number of steps: an integer >= 0."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ConfigError(f"layer {layer}: {key} must be an integer >= 0, got {value!r}")
    return int(value)


def _check_sequence(layer, X):
    if X.ndim != 3:
        raise InputError(f"layer {layer.name}: {type(layer).__name__} takes (batch, time, features) input, "
                         f"got shape {X.shape}")
