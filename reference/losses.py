"""Keras 0.2.0 objectives (losses), their gradients, and the weighted/masked batch loss.

Each objective maps `(y_true, y_pred)` of shape `(..., k)` to one score per entry,
shape `(...)` (the mean over the last axis, except categorical_crossentropy which
sums `-t*log(q)` over it). `gradient` is d score / d y_pred, written the way Theano
differentiated the original graph: `clip` passes the gradient where
`lo <= x <= hi` (both ends included), `maximum(a, 0)` passes it where `a >= 0`,
`abs` has slope `sign(x)` (0 at 0).

The batch loss (`weighted_loss`) follows 0.2.0's `weighted_objective`:

    loss = sum(w * score) / sum(w)                       no output mask
    loss = sum(w * score) / sum(mask * w)                output keeps a mask ("keras")
    loss = sum(mask * w * score) / sum(mask * w)         masked_loss="corrected"

where `w` is the per-entry weight (sample_weight / class_weight, 1 by default) and
entries with `w == 0` are left out entirely (0.2.0 filtered them, so that a
zero-weight entry with an infinite score does not turn the sum into NaN). The
default "keras" rule is what 0.2.0 computed: masked timesteps still add their score
to the numerator, only the denominator counts unmasked entries. "corrected" leaves
masked entries out of the numerator as well.
"""
import numpy as np

from .errors import ConfigError
from .untrusted import quote

#: epsilon of the clipped objectives, by float type (theano.config.floatX in 0.2.0)
EPSILON = {np.dtype("float32"): 1e-7, np.dtype("float64"): 1e-9}

MASKED_LOSS_RULES = ("keras", "corrected")


def epsilon_for(dtype):
    return EPSILON.get(np.dtype(dtype), 1e-7)


def _clip_pass(x, lo, hi):
    """Theano's clip gradient: 1 where lo <= x <= hi, else 0."""
    return ((x >= lo) & (x <= hi)).astype(x.dtype)


class Loss:
    """A named objective: `score(t, p, eps)` per entry and `gradient(t, p, eps)` = d score / d p."""

    def __init__(self, name, score, gradient):
        self.name, self._score, self._gradient = name, score, gradient
        self.__name__ = name

    def __call__(self, y_true, y_pred, eps=None):
        y_true, y_pred, eps = _prepare(y_true, y_pred, eps)
        return self._score(y_true, y_pred, eps)

    def score(self, y_true, y_pred, eps=None):
        return self(y_true, y_pred, eps)

    def gradient(self, y_true, y_pred, eps=None):
        y_true, y_pred, eps = _prepare(y_true, y_pred, eps)
        return self._gradient(y_true, y_pred, eps)

    def __repr__(self):
        return f"Loss({self.name!r})"


def _prepare(y_true, y_pred, eps):
    y_pred = np.asarray(y_pred)
    if y_pred.dtype.kind != "f":
        y_pred = y_pred.astype(np.float64)
    y_true = np.asarray(y_true, dtype=y_pred.dtype)
    if eps is None:
        eps = epsilon_for(y_pred.dtype)
    return y_true, y_pred, eps


def _mean_last(e):
    return e.mean(axis=-1)


# -- the objectives: score per entry, gradient per element -------------------------------

def _mse(t, p, eps):
    return _mean_last((p - t) ** 2)


def _mse_grad(t, p, eps):
    return 2.0 * (p - t) / p.shape[-1]


def _mae(t, p, eps):
    return _mean_last(np.abs(p - t))


def _mae_grad(t, p, eps):
    return np.sign(p - t) / p.shape[-1]


def _mape(t, p, eps):
    return _mean_last(np.abs((t - p) / np.clip(np.abs(t), eps, np.inf))) * 100.0


def _mape_grad(t, p, eps):
    return 100.0 * np.sign(p - t) / np.clip(np.abs(t), eps, np.inf) / p.shape[-1]


def _msle(t, p, eps):
    return _mean_last((np.log(np.clip(p, eps, np.inf) + 1.0) - np.log(np.clip(t, eps, np.inf) + 1.0)) ** 2)


def _msle_grad(t, p, eps):
    pc = np.clip(p, eps, np.inf)
    diff = np.log(pc + 1.0) - np.log(np.clip(t, eps, np.inf) + 1.0)
    return 2.0 * diff / (pc + 1.0) * _clip_pass(p, eps, np.inf) / p.shape[-1]


def _squared_hinge(t, p, eps):
    return _mean_last(np.maximum(1.0 - t * p, 0.0) ** 2)


def _squared_hinge_grad(t, p, eps):
    return -2.0 * t * np.maximum(1.0 - t * p, 0.0) / p.shape[-1]


def _hinge(t, p, eps):
    return _mean_last(np.maximum(1.0 - t * p, 0.0))


def _hinge_grad(t, p, eps):
    return -t * (1.0 - t * p >= 0.0).astype(p.dtype) / p.shape[-1]


def _cce(t, p, eps):
    pc = np.clip(p, eps, 1.0 - eps)
    q = pc / pc.sum(axis=-1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        return -(t * np.log(q)).sum(axis=-1)


def _cce_grad(t, p, eps):
    # q = pc / S with S = sum(pc):  d(-sum t log q)/d pc_i = -t_i / pc_i + sum(t) / S
    pc = np.clip(p, eps, 1.0 - eps)
    S = pc.sum(axis=-1, keepdims=True)
    return (-t / pc + t.sum(axis=-1, keepdims=True) / S) * _clip_pass(p, eps, 1.0 - eps)


def _bce(t, p, eps):
    pc = np.clip(p, eps, 1.0 - eps)
    return _mean_last(-(t * np.log(pc) + (1.0 - t) * np.log(1.0 - pc)))


def _bce_grad(t, p, eps):
    pc = np.clip(p, eps, 1.0 - eps)
    return (-t / pc + (1.0 - t) / (1.0 - pc)) * _clip_pass(p, eps, 1.0 - eps) / p.shape[-1]


def _poisson(t, p, eps):
    with np.errstate(divide="ignore", invalid="ignore"):
        return _mean_last(p - t * np.log(p + eps))


def _poisson_grad(t, p, eps):
    return (1.0 - t / (p + eps)) / p.shape[-1]


LOSSES = {
    loss.name: loss
    for loss in [
        Loss("mean_squared_error", _mse, _mse_grad),
        Loss("mean_absolute_error", _mae, _mae_grad),
        Loss("mean_absolute_percentage_error", _mape, _mape_grad),
        Loss("mean_squared_logarithmic_error", _msle, _msle_grad),
        Loss("squared_hinge", _squared_hinge, _squared_hinge_grad),
        Loss("hinge", _hinge, _hinge_grad),
        Loss("categorical_crossentropy", _cce, _cce_grad),
        Loss("binary_crossentropy", _bce, _bce_grad),
        Loss("poisson_loss", _poisson, _poisson_grad),
    ]
}

#: the aliases of keras/objectives.py 0.2.0 (mse = MSE = mean_squared_error, ...)
ALIASES = {
    "mse": "mean_squared_error", "MSE": "mean_squared_error",
    "mae": "mean_absolute_error", "MAE": "mean_absolute_error",
    "mape": "mean_absolute_percentage_error", "MAPE": "mean_absolute_percentage_error",
    "msle": "mean_squared_logarithmic_error", "MSLE": "mean_squared_logarithmic_error",
}

# module-level names as in keras.objectives, for scripts that import them directly
mean_squared_error = mse = MSE = LOSSES["mean_squared_error"]
mean_absolute_error = mae = MAE = LOSSES["mean_absolute_error"]
mean_absolute_percentage_error = mape = MAPE = LOSSES["mean_absolute_percentage_error"]
mean_squared_logarithmic_error = msle = MSLE = LOSSES["mean_squared_logarithmic_error"]
squared_hinge = LOSSES["squared_hinge"]
hinge = LOSSES["hinge"]
categorical_crossentropy = LOSSES["categorical_crossentropy"]
binary_crossentropy = LOSSES["binary_crossentropy"]
poisson_loss = LOSSES["poisson_loss"]


def accepted_names():
    return sorted(LOSSES) + sorted(ALIASES)


def get(identifier):
    """A Loss from a Keras 0.2.0 objective name (short or full) or a Loss instance."""
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str):
        name = ALIASES.get(identifier, identifier)
        if name in LOSSES:
            return LOSSES[name]
        raise ConfigError(f"unknown loss {quote(identifier)}; accepted: {', '.join(accepted_names())}")
    name = getattr(identifier, "__name__", None)
    if callable(identifier) and name in LOSSES:
        # e.g. a function object from the original keras.objectives: same name, same maths
        return LOSSES[name]
    raise ConfigError(
        f"loss must be one of the Keras 0.2.0 objective names or a reference.losses.Loss, got "
        f"{quote(identifier)} (a custom Python callable has no gradient here); accepted: "
        f"{', '.join(accepted_names())}"
    )


# -- the batch loss ------------------------------------------------------------------------

def weighted_loss(loss, y_true, y_pred, weights=None, mask=None, masked_loss="keras", eps=None):
    """(batch loss, d loss / d y_pred) under 0.2.0's weighting and masking rule.

    `weights` and `mask` have the entry shape `y_pred.shape[:-1]` (None: all ones /
    no mask). See the module docstring for the formula of each `masked_loss` rule.
    """
    loss = get(loss)
    if masked_loss not in MASKED_LOSS_RULES:
        raise ConfigError(f"masked_loss must be one of {', '.join(MASKED_LOSS_RULES)}, got {masked_loss!r}")
    y_true, y_pred, eps = _prepare(y_true, y_pred, eps)
    dtype = y_pred.dtype
    entry_shape = y_pred.shape[:-1]
    w = np.ones(entry_shape, dtype) if weights is None else np.broadcast_to(np.asarray(weights, dtype), entry_shape)
    keep = w != 0
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        score = np.where(keep, loss._score(y_true, y_pred, eps), 0.0).astype(dtype)
        grad = loss._gradient(y_true, y_pred, eps)
    if mask is None:
        numerator_w, denominator = w, w.sum()
    else:
        m = np.broadcast_to(np.asarray(mask, dtype), entry_shape)
        denominator = (m * w).sum()
        numerator_w = w if masked_loss == "keras" else m * w
    with np.errstate(divide="ignore", invalid="ignore"):
        value = (numerator_w * score).sum() / denominator
        dy = np.where(keep[..., None], numerator_w[..., None] * grad, 0.0) / denominator
    return dtype.type(value), dy.astype(dtype, copy=False)


def accuracy(y_true, y_pred, class_mode="categorical"):
    """0.2.0's training accuracy: the mean over every entry (masked ones included).

    categorical: argmax(y_true) == argmax(y_pred) along the last axis;
    binary: y_true == round(y_pred) element-wise (Theano rounds halves away from zero).
    """
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    if class_mode == "categorical":
        return float(np.mean(np.argmax(y_true, axis=-1) == np.argmax(y_pred, axis=-1)))
    if class_mode == "binary":
        rounded = np.sign(y_pred) * np.floor(np.abs(y_pred) + 0.5)
        return float(np.mean(y_true == rounded))
    raise ConfigError(f"class_mode must be 'categorical' or 'binary', got {class_mode!r}")
