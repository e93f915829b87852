"""Keras 1.x/2.x layers around the recurrent ones -> LayerSpecs of the reference's classes.

`translate(class_name, config, release, backend, label, notes=None)` reads one layer's
`config` (its `{"class_name", "config"}` entry's inside) under the rules of `release`
("1.2.2", "2.1.6", "2.3.0-tf", "2.15.0", or a span "1.0.0–1.2.2" when the file states
none) and `backend` ("theano", "tensorflow", None: a 1.x file does not say). The LayerSpec
names the reference class, its constructor arguments, the Keras layer name and a weight
map: [(stored weight name, array)] in the file's `weight_names` order -> the reference
layer's get_weights order (transposed kernels, zero biases for use_bias=False, ones and
zeros for BatchNormalization's center/scale=False). `notes` (a list) receives one sentence
per setting read as having no effect at inference.

Facts checked in the source at the tags 1.0.x–1.2.2, 2.0.0–2.3.1 (keras/layers/*.py,
keras/backend/{theano,tensorflow}_backend.py) and against files computed by Keras 2.1.6
on Theano and tf_keras 2.15:

- Dense: 1.x `W`, `b` (`bias=False`: no b); 2.x `kernel`, `bias` (`use_bias`). From 1.2
  and in 2.x it acts on the last axis of any input (per step on a sequence); 2.x hands
  the mask on (1.x refused a masked input): reference Dense(last_axis=True).
- Embedding: 1.x `W`, 2.x `embeddings`; 1.x `dropout` drops rows in training only.
- Dropout, SpatialDropout1D, AlphaDropout, GaussianNoise, GaussianDropout: training only
  (`K.in_train_phase`), the identity at inference; all hand the mask on.
- Convolution1D/Conv1D: Theano's conv2d flips the kernel in EVERY 1.x/2.x release (a
  true convolution, filter_flip=True), TensorFlow's does not (a cross-correlation): the
  same file computes different numbers per backend, so a 1.x file (no backend stated)
  with a convolution is refused. W layout: 1.0.x (nb_filter, input_dim, K, 1), 1.1.0+
  (K, 1, input_dim, nb_filter), 2.x kernel (K, input_dim, filters). 'same' pads K_eff//2
  first on Theano ('half'), total//2 on TensorFlow (SAME); 'causal' (2.x) d*(K-1) first.
- MaxPooling1D/AveragePooling1D: 'valid' alike; 'same' as reference/convolutional.py
  says per backend (Theano: pad p-2 (odd p > 2) or p-1, exclusive; TensorFlow: SAME);
  Theano's 'same' average counted the padding in 2.0.4–2.1.4 (average_inc_pad).
- GlobalMax/AveragePooling1D: max / mean over time; GlobalAveragePooling1D takes a mask
  from 2.2.3 (sum(x*m)/sum(m)); neither takes one before.
- BatchNormalization: 1.0.8+ and 2.x compute `gamma * (x - mean) / sqrt(var + eps) + beta`
  with weights along `axis` (1.x: gamma, beta, running_mean, running_std, the last holding
  the variance; 2.x: [gamma], [beta], moving_mean, moving_variance); 1.x mode 1 is
  samplewise `(x - m) / (sqrt(var + eps) + eps)`; mode 2 normalises with the statistics
  of the batch at inference (the output depends on the other samples): refused; 1.0.0–1.0.7
  (three formulas) refused.
- LeakyReLU, ELU, ThresholdedReLU, PReLU (1.x `alphas`, 2.x `alpha`, shared_axes),
  Softmax(axis=-1), ReLU (defaults only): elementwise, masks pass.
- ZeroPadding1D (1.x int/pair/{left_pad, right_pad}, 2.x [[l, r]]), Cropping1D, UpSampling1D
  (1.x length, 2.x size); 1.x MaxoutDense (0.2.0's layer); ActivityRegularization (identity).
- Reshape (target_shape, one -1 allowed), Permute (dims), Flatten, RepeatVector (n), convolutions and
  pooling (but GlobalAveragePooling1D from 2.2.3): no mask; keras-team Keras refused a
  masked input, tf.keras drops the mask silently (drop_mask=True).
Lambda and any other class: refused with one sentence (code from a file is never run).
"""
import re

import numpy as np

from .. import activations
from ..errors import ConfigError
from ..untrusted import quote
from .spec import KerasFileError, LayerSpec

# keys every layer config may hold that do not change what it computes
BASE = {"name", "trainable", "batch_input_shape", "input_shape", "input_dtype", "dtype", "batch_size",
        "input_dim", "input_length"}
# training-only settings (regularizers, constraints, initializers: the weights are loaded)
TRAINING = {"W_regularizer", "b_regularizer", "activity_regularizer", "W_constraint", "b_constraint", "init",
            "kernel_regularizer", "bias_regularizer", "kernel_constraint", "bias_constraint",
            "kernel_initializer", "bias_initializer", "embeddings_initializer", "embeddings_regularizer",
            "embeddings_constraint", "gamma_regularizer", "beta_regularizer", "gamma_constraint",
            "beta_constraint", "gamma_initializer", "beta_initializer", "moving_mean_initializer",
            "moving_variance_initializer", "alpha_initializer", "alpha_regularizer", "alpha_constraint",
            "momentum", "seed", "noise_shape"}


# ---------------------------------------------------------------------------------------
# releases
# ---------------------------------------------------------------------------------------
_VERSION = re.compile(r"^(\d{1,3})\.(\d{1,3})\.(\d{1,3})(-tf)?$")


def _ends(release):
    """(oldest, newest) (major, minor, patch) a release string may be (a span's ends)."""
    parts = re.split(r"\s*[–-]\s*(?=\d)", release) if isinstance(release, str) else []
    found = []
    for part in parts:
        match = _VERSION.match(part.strip())
        if match is None:
            raise KerasFileError(f"unknown Keras release {quote(release)}")
        found.append(tuple(int(g) for g in match.groups()[:3]))
    if not found:
        raise KerasFileError(f"unknown Keras release {quote(release)}")
    return min(found), max(found)


def _since(release, version, where, what):
    """Whether `release` is `version` or later; a span across it is refused (its rules differ)."""
    low, high = _ends(release)
    v = tuple(int(x) for x in version.split("."))
    if low >= v:
        return True
    if high < v:
        return False
    raise KerasFileError(f"{where}: {what} changed in Keras {version}, and the file does not state which "
                         f"release (Keras {release}) wrote it; name the release (keras_version=, --keras-version)")


def _major(release):
    return _ends(release)[0][0]


# ---------------------------------------------------------------------------------------
# small readers
# ---------------------------------------------------------------------------------------
def where_text(label, kind, config):
    """'layer 2 (LSTM \'lstm_1\')': a layer as error messages name it."""
    name = config.get("name")
    return f"{label} ({kind}{' ' + quote(name, 40) if isinstance(name, str) else ''})"


def _keys(config, effect, where, kind, notes):
    """Refuse keys unknown for `kind`; note the training-only ones that are set."""
    allowed = BASE | TRAINING | set(effect)
    unknown = sorted(k for k in config if k not in allowed)
    if unknown:
        raise KerasFileError(f"{where}: unknown config key {quote(unknown[0])}; {kind} is read with: "
                             f"{', '.join(sorted(set(effect)))} and the training-only settings")
    ignored = sorted(k for k in config if k in TRAINING and config[k] not in (None, {}, [], 0, 0.0)
                     and k not in effect)
    if ignored and notes is not None:
        notes.append(f"{where}: training-only settings without effect at inference: {', '.join(ignored)}")


def _positive(value, key, where):
    if isinstance(value, list) and len(value) == 1:  # 2.x writes kernel_size, strides, ... as [k]
        value = value[0]
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise KerasFileError(f"{where}: {key} must be a positive integer, got {quote(value)}")
    return value


def boolean(config, key, where, default=False):
    """A true/false setting (null: the default)."""
    value = config.get(key, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise KerasFileError(f"{where}: {key} must be true or false, got {quote(value)}")
    return value


def _number(config, key, where, default):
    value = config.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
        raise KerasFileError(f"{where}: {key} must be a number, got {quote(value)}")
    return float(value)


def activation(config, where, key="activation"):
    """The activation a 1.x/2.x config names under `key` (a name, or tf.keras's serialized
    built-in); null or left out is linear, as Keras's activations.get(None)."""
    value = config.get(key)
    if value is None:
        return "linear"  # 1.x and 2.x: activation=None is linear
    if isinstance(value, dict) and isinstance(value.get("class_name"), str):  # a serialized built-in
        value = value["class_name"] if not value.get("config") else value
    if not isinstance(value, str):
        raise KerasFileError(f"{where}: {key} must be an activation's name, got {quote(value)}")
    try:
        activations.get(value)
    except ConfigError as exc:
        raise KerasFileError(f"{where}: {exc}") from None
    return value


def input_shape(config, where, input_dim=False):
    """The per-sample input shape the config gives (batch_input_shape[1:], input_shape; with
    input_dim=True also a 1.x recurrent layer's input_dim/input_length), or None."""
    shape = None
    if config.get("batch_input_shape") is not None:
        value = config["batch_input_shape"]
        if not isinstance(value, (list, tuple)) or len(value) < 2:
            raise KerasFileError(f"{where}: batch_input_shape must be a list holding the batch axis, got {quote(value)}")
        shape = list(value[1:])
    elif config.get("input_shape") is not None:
        shape = config["input_shape"]
        if not isinstance(shape, (list, tuple)) or not shape:
            raise KerasFileError(f"{where}: input_shape must be a non-empty list, got {quote(shape)}")
        shape = list(shape)
    elif input_dim and config.get("input_dim") is not None:
        shape = [config.get("input_length"), config["input_dim"]]
    if shape is None:
        return None
    for d in shape:
        if d is not None:
            _positive(d, "an input_shape entry", where)
    return tuple(shape)


def weight_suffix(name):
    """A stored weight's name without its path and TensorFlow's ':0'."""
    last = str(name).rsplit("/", 1)[-1]
    return last.rsplit(":", 1)[0] if ":" in last and last.rsplit(":", 1)[1].isdigit() else last


def stored_arrays(pairs, expected, where, described):
    """The arrays of the stored [(name, array)], once their names fit `expected` by position
    (1.x 'dense_1_W' ends in '_W', 2.x 'kernel:0' is 'kernel'); else refused, saying what
    the config `described`."""
    pairs = list(pairs)
    names = [weight_suffix(n) for n, _ in pairs]
    if len(names) != len(expected) or not all(n == e or n.endswith("_" + e) for n, e in zip(names, expected)):
        raise KerasFileError(f"{where}: the file stores {len(names)} weight arrays "
                             f"({', '.join(quote(n, 40) for n in names[:13]) or 'none'}), but its config "
                             f"describes {described}")
    return [np.asarray(a) for _, a in pairs]


def _weight_map(where, expected, convert):
    """A weight map checking the stored names (stored_arrays) and converting the arrays."""
    expected = tuple(expected)

    def weight_map(pairs):
        return convert(stored_arrays(pairs, expected, where, ", ".join(expected) or "none"))

    weight_map.expected = expected
    return weight_map


def _spec(kind, args, label, config, where, weight_map=None, shape=True):
    if shape and "input_shape" not in args:
        s = input_shape(config, where)
        if s is not None:
            args["input_shape"] = s
    return LayerSpec(kind=kind, arguments=args, label=label, weight_map=weight_map,
                     name=config.get("name") if isinstance(config.get("name"), str) else "")


# ---------------------------------------------------------------------------------------
# the layers
# ---------------------------------------------------------------------------------------
def _embedding(config, release, backend, label, where, notes):
    _keys(config, {"output_dim", "input_dim", "input_length", "mask_zero", "dropout", "sparse"}, where,
          "Embedding", notes)
    if config.get("sparse"):
        raise KerasFileError(f"{where}: sparse=True embeddings are not read")
    dropout = config.get("dropout") or 0
    if dropout and notes is not None:  # 1.x: K.in_train_phase(W * B, W)
        notes.append(f"{where}: dropout={dropout} drops embedding rows in training only; none at inference")
    length = config.get("input_length")
    if isinstance(length, list) and len(length) == 1:
        length = length[0]
    shape = input_shape(config, where)
    if length is None and shape is not None and len(shape) == 1:
        length = shape[0]
    args = {"input_dim": _positive(config.get("input_dim"), "input_dim", where),
            "output_dim": _positive(config.get("output_dim"), "output_dim", where),
            "mask_zero": boolean(config, "mask_zero", where, False)}
    if length is not None:
        args["input_length"] = _positive(length, "input_length", where)
    stored = "W" if _major(release) == 1 else "embeddings"
    return _spec("Embedding", args, label, config, where, _weight_map(where, [stored], lambda a: a), shape=False)


def _masking(config, release, backend, label, where, notes):
    _keys(config, {"mask_value"}, where, "Masking", notes)
    return _spec("Masking", {"mask_value": _number(config, "mask_value", where, 0.0)}, label, config, where)


def _dense_parts(config, release, where, notes, kind):
    """(output size, activation, weight map) of a 1.x/2.x Dense (or 1.x TimeDistributedDense)."""
    one = _major(release) == 1
    _keys(config, {"output_dim", "units", "activation", "bias", "use_bias", "input_dim", "input_length"}, where,
          kind, notes)
    units = _positive(config.get("output_dim" if one else "units"), "output_dim" if one else "units", where)
    use_bias = boolean(config, "bias" if one else "use_bias", where, True)
    names = ("W", "b") if one else ("kernel", "bias")

    def convert(arrays):
        W = arrays[0]
        if W.ndim != 2:
            raise KerasFileError(f"{where}: the stored kernel has shape {W.shape}, not (inputs, units)")
        return [W, arrays[1] if use_bias else np.zeros(W.shape[-1:], W.dtype)]

    return units, activation(config, where), _weight_map(where, names if use_bias else names[:1], convert)


def _dense(config, release, backend, label, where, notes):
    units, activation, weight_map = _dense_parts(config, release, where, notes, "Dense")
    args = {"output_dim": units, "activation": activation, "last_axis": True}
    shape = input_shape(config, where)
    if shape is None and config.get("input_dim") is not None:
        args["input_shape"] = (_positive(config["input_dim"], "input_dim", where),)
    return _spec("Dense", args, label, config, where, weight_map)


def _time_distributed_dense(config, release, backend, label, where, notes, shape=None):
    units, activation, weight_map = _dense_parts(config, release, where, notes, "TimeDistributedDense")
    args = {"output_dim": units, "activation": activation}
    shape = shape or input_shape(config, where)
    if shape is None and config.get("input_dim") is not None:
        length = config.get("input_length")
        shape = (None if length is None else _positive(length, "input_length", where),
                 _positive(config["input_dim"], "input_dim", where))
    if shape is not None:
        args["input_shape"] = shape
    return _spec("TimeDistributedDense", args, label, config, where, weight_map, shape=False)


# layers whose per-step application is the layer itself (elementwise, or on the last axis)
_PER_STEP = ("Dropout", "SpatialDropout1D", "AlphaDropout", "GaussianNoise", "GaussianDropout", "Activation",
             "LeakyReLU", "ELU", "ThresholdedReLU", "ReLU", "Softmax")


def _time_distributed(config, release, backend, label, where, notes):
    unknown = sorted(k for k in config if k not in BASE | {"layer"})
    if unknown:
        raise KerasFileError(f"{where}: unknown config key {quote(unknown[0])}; TimeDistributed is read with: layer")
    inner = config.get("layer")
    kind = inner.get("class_name") if isinstance(inner, dict) else None
    inner_config = inner.get("config") if isinstance(inner, dict) else None
    if not isinstance(inner_config, dict) or kind not in ("Dense",) + _PER_STEP:
        raise KerasFileError(f"{where}: it wraps {quote(kind)}; only a wrapped Dense or an elementwise layer "
                             f"({', '.join(_PER_STEP)}) is read")
    outer = input_shape(config, where)
    inner_where = f"{where}: its {kind}"
    if kind == "Dense":  # the same numbers and mask passing as TimeDistributedDense
        spec = _time_distributed_dense(dict(inner_config, batch_input_shape=None, input_shape=None,
                                            input_dim=None), release, backend, label, inner_where, notes,
                                       shape=outer)
    else:
        spec = TRANSLATORS[kind](dict(inner_config, batch_input_shape=None, input_shape=None), release, backend,
                                 label, inner_where, notes)
        if outer is not None:
            spec.arguments["input_shape"] = outer
    spec.name = config.get("name") if isinstance(config.get("name"), str) else ""
    return spec


def _identity(kind, rate_keys):
    def translate(config, release, backend, label, where, notes):
        _keys(config, set(rate_keys), where, kind, notes)
        for key in rate_keys:
            if key in config:
                _number(config, key, where, 0.0)
        if notes is not None:
            notes.append(f"{where}: {kind} acts in training only; the identity at inference")
        if kind == "GaussianNoise":
            return _spec("GaussianNoise", {"sigma": _number(config, rate_keys[0] if rate_keys[0] in config
                                                            else rate_keys[-1], where, 0.0)}, label, config, where)
        if kind == "GaussianDropout":
            p = _number(config, "rate" if "rate" in config else "p", where, 0.0)
            return _spec("GaussianDropout", {"p": p}, label, config, where)
        # Keras 1.x/2.x dropout is inverted (scaled in training): Dropout(p=0) at inference
        return _spec("Dropout", {"p": 0.0}, label, config, where)
    return translate


def _activation_layer(config, release, backend, label, where, notes):
    _keys(config, {"activation"}, where, "Activation", notes)
    if config.get("activation") is None:
        raise KerasFileError(f"{where}: the config names no activation")
    return _spec("Activation", {"activation": activation(config, where)}, label, config, where)


def _softmax(config, release, backend, label, where, notes):
    _keys(config, {"axis"}, where, "Softmax", notes)
    axis = config.get("axis", -1)
    if isinstance(axis, list) and len(axis) == 1:
        axis = axis[0]
    if axis == -1:
        return _spec("Activation", {"activation": "softmax"}, label, config, where)
    if isinstance(axis, bool) or not isinstance(axis, int) or axis == 0:
        raise KerasFileError(f"{where}: axis must be one non-zero integer, got {quote(axis)}")
    return _spec("Softmax", {"axis": axis}, label, config, where)


def _relu(config, release, backend, label, where, notes):
    _keys(config, {"max_value", "negative_slope", "threshold"}, where, "ReLU", notes)
    args = {"max_value": None if config.get("max_value") is None else _number(config, "max_value", where, 0.0),
            "negative_slope": _number(config, "negative_slope", where, 0.0),
            "threshold": _number(config, "threshold", where, 0.0)}
    if args["max_value"] is None and not args["negative_slope"] and not args["threshold"]:
        return _spec("Activation", {"activation": "relu"}, label, config, where)
    return _spec("ReLU", args, label, config, where)


def _leaky_relu(config, release, backend, label, where, notes):
    _keys(config, {"alpha"}, where, "LeakyReLU", notes)
    return _spec("LeakyReLU", {"alpha": _number(config, "alpha", where, 0.3)}, label, config, where)


def _elu(config, release, backend, label, where, notes):
    _keys(config, {"alpha"}, where, "ELU", notes)
    return _spec("ELU", {"alpha": _number(config, "alpha", where, 1.0)}, label, config, where)


def _thresholded_relu(config, release, backend, label, where, notes):
    _keys(config, {"theta"}, where, "ThresholdedReLU", notes)
    return _spec("ThresholdedReLU", {"theta": _number(config, "theta", where, 1.0)}, label, config, where)


def _prelu(config, release, backend, label, where, notes):
    _keys(config, {"shared_axes"}, where, "PReLU", notes)
    shared = config.get("shared_axes")
    if shared is not None and not isinstance(shared, list):
        shared = [shared]
    args = {}
    if shared:
        args["shared_axes"] = [_positive(a, "shared_axes", where) for a in shared]
    if _major(release) == 1 and "shared_axes" not in config:  # 1.2's get_config leaves shared_axes out
        args["shared_from_weights"] = True
    stored = "alphas" if _major(release) == 1 else "alpha"
    return _spec("PReLU", args, label, config, where, _weight_map(where, [stored], lambda a: a))


def _repeat_vector(config, release, backend, label, where, notes):
    _keys(config, {"n"}, where, "RepeatVector", notes)
    return _spec("RepeatVector", {"n": _positive(config.get("n"), "n", where)}, label, config, where)


def _dims(config, key, where, allow_free=False):
    value = config.get(key)
    if not isinstance(value, list) or not value:
        raise KerasFileError(f"{where}: {key} must be a non-empty list, got {quote(value)}")
    if allow_free and value.count(-1) == 1:
        return [v if v == -1 else _positive(v, key, where) for v in value]
    return [_positive(v, key, where) for v in value]


def _reshape(config, release, backend, label, where, notes):
    _keys(config, {"target_shape"}, where, "Reshape", notes)
    dims = _dims(config, "target_shape", where, allow_free=True)
    return _spec("Reshape", dict({"dims": dims}, **({"infer_axis": True} if -1 in dims else {})), label, config,
                 where)


def _permute(config, release, backend, label, where, notes):
    _keys(config, {"dims"}, where, "Permute", notes)
    return _spec("Permute", {"dims": _dims(config, "dims", where)}, label, config, where)


def _channels_last(config, where):
    if config.get("data_format", "channels_last") not in (None, "channels_last"):
        raise KerasFileError(f"{where}: data_format {quote(config.get('data_format'))} is not read "
                             "(channels_last is)")


def _flatten(config, release, backend, label, where, notes):
    _keys(config, {"data_format"}, where, "Flatten", notes)
    _channels_last(config, where)
    return _spec("Flatten", {}, label, config, where)


def _need_backend(backend, where, what):
    if backend not in ("theano", "tensorflow"):
        raise KerasFileError(f"{where}: {what} differs between Theano and TensorFlow, and the file does not state "
                             f"which backend wrote it ({quote(backend) if backend else 'Keras 1.x files do not'}); "
                             "name it (keras_backend='theano' or 'tensorflow', --keras-backend) or it is refused "
                             "rather than guessed")
    return backend


# filters, kernel length, stride, dilation, padding, bias: Keras 1.x's and 2.x's key names
CONV_KEYS = {1: ("nb_filter", "filter_length", "subsample_length", "atrous_rate", "border_mode", "bias"),
             2: ("filters", "kernel_size", "strides", "dilation_rate", "padding", "use_bias")}


def _convolution(config, release, backend, label, where, notes):
    one = _major(release) == 1
    kind = "Convolution1D" if one else "Conv1D"
    _keys(config, {"nb_filter", "filter_length", "border_mode", "subsample_length", "atrous_rate", "bias",
                   "filters", "kernel_size", "strides", "padding", "dilation_rate", "use_bias", "data_format",
                   "activation", "groups"}, where, kind, notes)
    _channels_last(config, where)
    if config.get("groups", 1) != 1:
        raise KerasFileError(f"{where}: grouped convolutions (groups={quote(config.get('groups'))}) are not read")
    # the same settings under 1.x's and 2.x's names
    f_key, k_key, s_key, d_key, p_key, b_key = CONV_KEYS[1 if one else 2]
    filters = _positive(config.get(f_key), f_key, where)
    K = _positive(config.get(k_key), k_key, where)
    stride = _positive(config.get(s_key, 1), s_key, where)
    dilation = _positive(config.get(d_key, 1), d_key, where)
    padding = config.get(p_key, "valid")
    use_bias = boolean(config, b_key, where, True)
    modes = ("valid", "same", "full") if one else ("valid", "same", "causal")
    if padding not in modes:
        raise KerasFileError(f"{where}: unknown padding {quote(padding)}; accepted: {', '.join(modes)}")
    if dilation > 1 and stride > 1:
        raise KerasFileError(f"{where}: dilation_rate and strides both above 1 are not read")
    backend = _need_backend(backend, where, "a convolution's kernel order (Theano flips it, TensorFlow does not)")
    if padding == "full" and backend == "tensorflow":
        raise KerasFileError(f"{where}: border_mode 'full' is Theano's only")
    if one and not _since(release, "1.1.0", where, "Convolution1D's weight layout"):
        layout, names = "th", ("W", "b")  # (nb_filter, input_dim, K, 1): the reference's own
    else:
        layout, names = ("tf1", ("W", "b")) if one else ("tf2", ("kernel", "bias"))

    def convert(arrays):
        W = arrays[0]
        if layout == "tf1":  # (K, 1, input_dim, filters)
            if W.ndim != 4 or W.shape[1] != 1:
                raise KerasFileError(f"{where}: the stored W has shape {W.shape}, not (filter_length, 1, "
                                     "input_dim, nb_filter)")
            W = W.transpose(3, 2, 0, 1)
        elif layout == "tf2":  # (K, input_dim, filters)
            if W.ndim != 3:
                raise KerasFileError(f"{where}: the stored kernel has shape {W.shape}, not (kernel_size, "
                                     "input_dim, filters)")
            W = W.transpose(2, 1, 0)[..., None]
        b = arrays[1] if use_bias else np.zeros(W.shape[:1], W.dtype)
        return [np.ascontiguousarray(W), b]

    args = {"nb_filter": filters, "filter_length": K, "border_mode": padding, "subsample_length": stride,
            "dilation_rate": dilation, "activation": activation(config, where), "flip": backend == "theano",
            "same_rule": backend}
    if config.get("input_dim") is not None and input_shape(config, where) is None:
        length = config.get("input_length")
        args["input_shape"] = (None if length is None else _positive(length, "input_length", where),
                               _positive(config["input_dim"], "input_dim", where))
    return _spec("Convolution1D", args, label, config, where,
                 _weight_map(where, names if use_bias else names[:1], convert))


def _pooling(kind):
    def translate(config, release, backend, label, where, notes):
        one = "pool_length" in config or "border_mode" in config or "stride" in config
        _keys(config, {"pool_length", "stride", "border_mode", "pool_size", "strides", "padding", "data_format"},
              where, kind, notes)
        _channels_last(config, where)
        if one:
            p = _positive(config.get("pool_length", 2), "pool_length", where)
            stride = config.get("stride")
            padding = config.get("border_mode", "valid")
        else:
            p = _positive(config.get("pool_size", 2), "pool_size", where)
            stride = config.get("strides")
            padding = config.get("padding", "valid")
        stride = p if stride is None else _positive(stride, "strides", where)
        if padding not in ("valid", "same"):
            raise KerasFileError(f"{where}: unknown padding {quote(padding)}; accepted: valid, same")
        args = {"pool_length": p, "stride": stride, "border_mode": padding}
        if padding == "same":
            args["same_rule"] = _need_backend(backend, where, "'same' pooling's padding")
            # Theano's 'same' average counted the padding (average_inc_pad) in 2.0.4-2.1.4
            if kind == "AveragePooling1D" and backend == "theano" and _major(release) == 2 \
                    and _since(release, "2.0.4", where, "'same' average pooling on Theano") \
                    and not _since(release, "2.1.5", where, "'same' average pooling on Theano"):
                args["count_pad"] = True
        return _spec(kind, args, label, config, where)
    return translate


def _global_pooling(mode, kind):
    def translate(config, release, backend, label, where, notes):
        _keys(config, {"data_format", "keepdims"}, where, kind, notes)
        _channels_last(config, where)
        if config.get("keepdims"):
            raise KerasFileError(f"{where}: keepdims=True is not read")
        args = {"mode": mode, "global_pooling": True}
        if mode == "ave" and _major(release) == 2 and _masked_mean(release):
            args["masked_mean"] = True
        return _spec("TimeDistributedMerge", args, label, config, where)
    return translate


def _masked_mean(release):
    """GlobalAveragePooling1D takes a mask from keras-team 2.2.3 (and in tf.keras's 2.2.4-tf on);
    before, Keras refused a masked input, so a span is read as taking it (no file of the
    older releases has one)."""
    low, high = _ends(release)
    return high >= (2, 2, 3)


def _batch_normalization(config, release, backend, label, where, notes):
    one = _major(release) == 1
    _keys(config, {"epsilon", "mode", "axis", "center", "scale", "renorm", "virtual_batch_size", "adjustment",
                   "synchronized", "fused", "renorm_clipping", "renorm_momentum"}, where, "BatchNormalization", notes)
    for key in ("renorm", "virtual_batch_size", "adjustment", "synchronized"):
        if config.get(key):
            raise KerasFileError(f"{where}: {key} is not read")
    mode = config.get("mode", 0)
    if mode == 2 or mode not in (0, 1):
        raise KerasFileError(f"{where}: mode {quote(mode)} normalises with the statistics of the batch at inference, "
                             "so an output depends on the other samples of its batch; refused"
                             if mode == 2 else f"{where}: unknown mode {quote(mode)}; accepted: 0, 1")
    if one and not _since(release, "1.0.8", where, "BatchNormalization's formula"):
        raise KerasFileError(f"{where}: Keras 1.0.0–1.0.7's BatchNormalization (three different formulas) is not "
                             "read; files of 1.0.8 and later are")
    axis = config.get("axis", -1)
    if isinstance(axis, list) and len(axis) == 1:
        axis = axis[0]
    if isinstance(axis, bool) or not isinstance(axis, int) or axis == 0:
        raise KerasFileError(f"{where}: axis must be one non-zero integer, got {quote(axis)}")
    epsilon = _number(config, "epsilon", where, 1e-3)
    center = boolean(config, "center", where, True)
    scale = boolean(config, "scale", where, True)
    names = ("gamma", "beta", "running_mean", "running_std") if one else \
        (("gamma",) if scale else ()) + (("beta",) if center else ()) + ("moving_mean", "moving_variance")

    def convert(arrays):
        arrays = list(arrays)
        mean = arrays[-2]
        gamma = arrays.pop(0) if scale else np.ones_like(mean)
        beta = arrays.pop(0) if center else np.zeros_like(mean)
        return [gamma, beta, arrays[-2], arrays[-1]]

    args = {"epsilon": epsilon, "mode": int(mode), "axis": axis, "variance": True}
    return _spec("BatchNormalization", args, label, config, where, _weight_map(where, names, convert))


def _maxout_dense(config, release, backend, label, where, notes):
    """1.x MaxoutDense: max over nb_feature of x . W[f] + b[f] (W (nb_feature, input_dim,
    output_dim), b (nb_feature, output_dim); bias=False: no b) — 0.2.0's layer."""
    _keys(config, {"output_dim", "nb_feature", "bias"}, where, "MaxoutDense", notes)
    use_bias = boolean(config, "bias", where, True)

    def convert(arrays):
        W = arrays[0]
        if W.ndim != 3:
            raise KerasFileError(f"{where}: the stored W has shape {W.shape}, not (nb_feature, input_dim, output_dim)")
        return [W, arrays[1] if use_bias else np.zeros((W.shape[0], W.shape[2]), W.dtype)]

    args = {"output_dim": _positive(config.get("output_dim"), "output_dim", where),
            "nb_feature": _positive(config.get("nb_feature", 4), "nb_feature", where)}
    if config.get("input_dim") is not None and input_shape(config, where) is None:
        args["input_shape"] = (_positive(config["input_dim"], "input_dim", where),)
    return _spec("MaxoutDense", args, label, config, where,
                 _weight_map(where, ("W", "b") if use_bias else ("W",), convert))


def _activity_regularization(config, release, backend, label, where, notes):
    """The identity at inference that hands the mask on (1.x/2.x supports_masking)."""
    _keys(config, {"l1", "l2"}, where, "ActivityRegularization", notes)
    if notes is not None:
        notes.append(f"{where}: ActivityRegularization adds a training penalty only; the identity at inference")
    return _spec("Activation", {"activation": "linear"}, label, config, where)


def _pair(value, key, where, default):
    """(left, right) of 1.x/2.x's padding/cropping: an int (both), [l, r], [[l, r]] (2.x's
    normalised tuple), or 1.x's {"left_pad": l, "right_pad": r}."""
    if value is None:
        value = default
    if isinstance(value, dict):
        value = [value.get("left_pad", 0), value.get("right_pad", 0)]
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], list):
        value = value[0]
    if not isinstance(value, list):
        value = [value, value]
    if len(value) != 2 or any(isinstance(v, bool) or not isinstance(v, int) or v < 0 for v in value):
        raise KerasFileError(f"{where}: {key} must be an integer >= 0 or a pair of them, got {quote(value)}")
    return value


def _zero_padding(config, release, backend, label, where, notes):
    _keys(config, {"padding"}, where, "ZeroPadding1D", notes)
    left, right = _pair(config.get("padding"), "padding", where, 1)
    return _spec("ZeroPadding1D", {"left_pad": left, "right_pad": right}, label, config, where)


def _cropping(config, release, backend, label, where, notes):
    _keys(config, {"cropping"}, where, "Cropping1D", notes)
    left, right = _pair(config.get("cropping"), "cropping", where, [1, 1])
    return _spec("Cropping1D", {"left_crop": left, "right_crop": right}, label, config, where)


def _upsampling(config, release, backend, label, where, notes):
    _keys(config, {"size", "length"}, where, "UpSampling1D", notes)  # 1.x length, 2.x size
    size = config.get("size", config.get("length", 2))
    return _spec("UpSampling1D", {"size": _positive(size, "size", where)}, label, config, where)


def _lambda(config, release, backend, label, where, notes):
    raise KerasFileError(f"{where}: a Lambda layer holds Python code (marshalled bytecode or a function's name), "
                         "and code from a file is never run; refused")


TRANSLATORS = {
    "Embedding": _embedding,
    "Masking": _masking,
    "Dense": _dense,
    "TimeDistributedDense": _time_distributed_dense,
    "TimeDistributed": _time_distributed,
    "Dropout": _identity("Dropout", ("p", "rate")),
    "SpatialDropout1D": _identity("SpatialDropout1D", ("p", "rate")),
    "AlphaDropout": _identity("AlphaDropout", ("rate",)),
    "GaussianNoise": _identity("GaussianNoise", ("sigma", "stddev")),
    "GaussianDropout": _identity("GaussianDropout", ("p", "rate")),
    "Activation": _activation_layer,
    "Softmax": _softmax,
    "ReLU": _relu,
    "LeakyReLU": _leaky_relu,
    "ELU": _elu,
    "ThresholdedReLU": _thresholded_relu,
    "PReLU": _prelu,
    "RepeatVector": _repeat_vector,
    "Reshape": _reshape,
    "Permute": _permute,
    "Flatten": _flatten,
    "Convolution1D": _convolution,
    "AtrousConvolution1D": _convolution,
    "Conv1D": _convolution,
    "MaxPooling1D": _pooling("MaxPooling1D"),
    "AveragePooling1D": _pooling("AveragePooling1D"),
    "MaxPool1D": _pooling("MaxPooling1D"),
    "AvgPool1D": _pooling("AveragePooling1D"),
    "GlobalMaxPooling1D": _global_pooling("max", "GlobalMaxPooling1D"),
    "GlobalAveragePooling1D": _global_pooling("ave", "GlobalAveragePooling1D"),
    "GlobalMaxPool1D": _global_pooling("max", "GlobalMaxPooling1D"),
    "GlobalAvgPool1D": _global_pooling("ave", "GlobalAveragePooling1D"),
    "BatchNormalization": _batch_normalization,
    "ZeroPadding1D": _zero_padding,
    "Cropping1D": _cropping,
    "UpSampling1D": _upsampling,
    "MaxoutDense": _maxout_dense,
    "ActivityRegularization": _activity_regularization,
    "Lambda": _lambda,
}

#: the Keras 1.x/2.x class names translate() reads (Lambda: to refuse it with its reason)
LAYERS12 = frozenset(TRANSLATORS)


def accepted_classes():
    return sorted(k for k in TRANSLATORS if k != "Lambda")


def translate(class_name, config, release, backend, label, notes=None):
    """The LayerSpec of one Keras 1.x/2.x layer (see the module's docstring)."""
    if not isinstance(config, dict):
        raise KerasFileError(f"{label} ({quote(class_name, 40)}): its config must be a mapping, got {quote(config)}")
    where = where_text(label, class_name if isinstance(class_name, str) else "?", config)
    if class_name not in TRANSLATORS:
        raise KerasFileError(f"{where}: layer class {quote(class_name, 40)} is not read (not a layer of the recurrent "
                             f"models read here); accepted: {', '.join(accepted_classes())}")
    spec = TRANSLATORS[class_name](config, release, backend, label, where, notes)
    if spec.kind in MASK_REFUSERS and not spec.arguments.get("masked_mean") and _tf_keras(release):
        spec.arguments["drop_mask"] = True
    return spec


# the reference classes that refuse a mask, as keras-team Keras refused to build such a model;
# tf.keras drops the mask there silently (a Conv1D after Embedding(mask_zero=True) sees none)
MASK_REFUSERS = frozenset({"Convolution1D", "MaxPooling1D", "AveragePooling1D", "TimeDistributedMerge", "Reshape",
                           "Permute", "Flatten", "RepeatVector", "ZeroPadding1D", "Cropping1D", "UpSampling1D"})


def _tf_keras(release):
    """Whether tf.keras wrote the file: a "-tf" version, or 2.4.0 and later."""
    if isinstance(release, str) and release.endswith("-tf"):
        return True
    low, _ = _ends(release)
    return low >= (2, 4, 0)
