"""Keras releases 1.0.0–2.4.0 (keras-team tags) and tf.keras: how a file names its release,
and what each release computes differently for the recurrent layers.

A Keras 1.x/2.x file states its release: `model.save` writes a root attribute
`keras_version` (1.0.7+), `to_json` a top-level `keras_version` (1.0.6+, checked at the
tags), 2.x files also `backend`. tf.keras writes its own versions ("2.1.6-tf", "2.2.4-tf",
"2.3.0-tf", then "2.4.0", "2.5.0", ... up to tf_keras's "2.15.0"), backend "tensorflow".
A file that does not state it is told apart by its config keys (1.x: `output_dim`, `init`,
`inner_activation`; 2.x: `units`, `kernel_initializer`, `recurrent_activation`): every rule
below is the same within each major release except the defaults of keys a file leaves out,
which are then refused unless the release is named.

The rules, checked against keras/layers/recurrent.py, keras/backend/*_backend.py and
keras/engine/topology.py (2.2.x+: engine/saving.py) at each tag:

- mask rule: "carry" in every 1.x/2.x release and both backends (`K.rnn`: a masked step
  outputs the previous output, 0 before the first, and keeps the states);
- default GRU `reset_after`: False in keras-team 2.1.5–2.3.1 (and before it existed), True
  in tf.keras on TensorFlow 2 ("2.3.0-tf", 2.4.0 and later); "2.2.4-tf" tells none;
- default `recurrent_activation` (LSTM, GRU): `hard_sigmoid` before 2.3.0, `sigmoid` from
  2.3.0 (keras-team); tf.keras: `hard_sigmoid` in "2.1.6-tf" (TensorFlow 1.x), `sigmoid`
  from "2.3.0-tf" (TensorFlow 2.2+); "2.2.4-tf" was written by TensorFlow 1.13–2.1, whose
  defaults differ, so it tells no default. 1.x's `inner_activation` defaults to
  `hard_sigmoid`; 1.x/2.x `activation` defaults to `tanh` (SimpleRNN, GRU, LSTM);
- weight layouts: 1.x `consume_less` 'cpu'/'mem' (and every 1.0.0–1.0.2 layer) store one
  W, U, b per gate (LSTM in the order i, c, f, o); 'gpu' (1.0.3+) one fused W, U, b in
  the gate order i, f, c, o (GRU z, r, h); 2.x fused `kernel`, `recurrent_kernel`, `bias`.
"""
import re

from .spec import KerasFileError
from ..untrusted import quote

#: the keras-team release tags whose files are read (1.0.0–2.4.0; 2.4.0 is the last before
#: Keras moved into TensorFlow, its files are tf.keras's)
RELEASES12 = ("1.0.0", "1.0.1", "1.0.2", "1.0.3", "1.0.4", "1.0.5", "1.0.6", "1.0.7", "1.0.8",
              "1.1.0", "1.1.1", "1.1.2", "1.2.0", "1.2.1", "1.2.2",
              "2.0.0", "2.0.1", "2.0.2", "2.0.3", "2.0.4", "2.0.5", "2.0.6", "2.0.7", "2.0.8", "2.0.9",
              "2.1.0", "2.1.1", "2.1.2", "2.1.3", "2.1.4", "2.1.5", "2.1.6",
              "2.2.0", "2.2.1", "2.2.2", "2.2.3", "2.2.4", "2.2.5", "2.3.0", "2.3.1", "2.4.0")

#: the major releases' ranges, as a release string when only the keys tell the major release
MAJOR_SPANS = {1: "1.0.0–1.2.2", 2: "2.0.0–2.4.0"}

BACKENDS = ("theano", "tensorflow", "cntk")

_VERSION = re.compile(r"^(\d{1,3})\.(\d{1,3})\.(\d{1,3})(-tf)?$")

#: tf.keras versions whose default recurrent_activation is known (see the module docstring)
_TF_DEFAULTS = {"2.1.6-tf": "hard_sigmoid", "2.3.0-tf": "sigmoid"}

MASK_RULE = "carry"


def parse(version):
    """(major, minor, patch, is tf.keras) of a 1.x/2.x release string, or None."""
    match = _VERSION.match(version) if isinstance(version, str) else None
    if match is None:
        return None
    major, minor, patch = (int(g) for g in match.groups()[:3])
    return major, minor, patch, bool(match.group(4))


def check_release(version, where="the file"):
    """`version` if it is a release whose files are read here (a keras-team 1.x/2.x tag,
    or a tf.keras 2.x version); else one sentence saying which are."""
    parsed = parse(version)
    if parsed is not None:
        major, minor, patch, tf = parsed
        if version in RELEASES12 or (tf and major == 2) or (major == 2 and (minor, patch) > (4, 0)):
            return version
    raise KerasFileError(f"{where} names Keras release {quote(version)}, which is not read here; accepted: "
                         f"{RELEASES12[0]}–{RELEASES12[-1]} (keras-team) and tf.keras 2.x versions "
                         f"(e.g. 2.2.4-tf, 2.15.0); Keras 0.x files name no release")


def major(version):
    """1 or 2 for a release string (a major span such as "2.0.0–2.4.0" included)."""
    return int(version[0])


def is_tf_keras(version):
    """Whether tf.keras wrote the file: a "-tf" version, or 2.4.0 and later (keras-team's
    2.4.0 is a thin wrapper of tf.keras; later 2.x versions are tf.keras's / tf_keras's)."""
    parsed = parse(version)
    return parsed is not None and (parsed[3] or (parsed[0] == 2 and parsed[1:3] >= (4, 0)))


def default_recurrent_activation(version):
    """The default recurrent_activation (1.x inner_activation) of LSTM/GRU in `version`,
    or None when the release string does not determine it (a major span, "2.2.4-tf")."""
    if version in _TF_DEFAULTS:
        return _TF_DEFAULTS[version]
    parsed = parse(version)
    if parsed is None:
        return "hard_sigmoid" if version == MAJOR_SPANS[1] else None
    major_, minor, patch, tf = parsed
    if tf:
        return None
    if major_ == 1:
        return "hard_sigmoid"
    return "hard_sigmoid" if (minor, patch) < (3, 0) else "sigmoid"


def default_reset_after(version):
    """GRU's default reset_after in `version` (the key came in 2.1.5; tf.keras 2.x on
    TensorFlow 2 defaults to True), or None when the release string does not decide it."""
    parsed = parse(version)
    if parsed is None:  # a major span: 1.x has no such key; 2.0.0–2.4.0 holds 2.4.0 (tf.keras)
        return False if version == MAJOR_SPANS[1] else None
    major_, minor, patch, tf = parsed
    if version == "2.2.4-tf":  # TensorFlow 1.13–2.1 wrote it: both defaults
        return None
    if tf:
        return (minor, patch) >= (3, 0)
    return major_ == 2 and (minor, patch) >= (4, 0)


def default_activation(kind):
    """The default activation of SimpleRNN, GRU, LSTM (and the CuDNN layers: fixed) in 1.x/2.x."""
    return "tanh"


def fused_layout_1x(version, consume_less):
    """Whether a 1.x recurrent layer stores fused W, U, b: consume_less='gpu' from 1.0.3
    (earlier releases have no such mode: every layer stores its weights per gate)."""
    return consume_less == "gpu"


#: recurrent-layer config keys of 1.x and 2.x with no effect on predict: why
NO_EFFECT = {
    "name": "the layer's name",
    "trainable": "freezes weights in training",
    "unroll": "the same numbers unrolled or in a loop",
    "consume_less": "how the same numbers are computed (its weight layout is read)",
    "implementation": "how the same numbers are computed",
    "init": "an initializer", "inner_init": "an initializer", "forget_bias_init": "an initializer",
    "kernel_initializer": "an initializer", "recurrent_initializer": "an initializer",
    "bias_initializer": "an initializer", "unit_forget_bias": "an initializer",
    "W_regularizer": "a training penalty", "U_regularizer": "a training penalty",
    "b_regularizer": "a training penalty", "kernel_regularizer": "a training penalty",
    "recurrent_regularizer": "a training penalty", "bias_regularizer": "a training penalty",
    "activity_regularizer": "a training penalty",
    "kernel_constraint": "a training constraint", "recurrent_constraint": "a training constraint",
    "bias_constraint": "a training constraint",
    "dropout_W": "dropout, applied in training only", "dropout_U": "dropout, applied in training only",
    "dropout": "dropout, applied in training only", "recurrent_dropout": "dropout, applied in training only",
    "input_dtype": "the input's dtype", "dtype": "the layer's floatX (the weights' dtype decides)",
}

#: the keys the recurrent layers of each major release write (their get_config at the tags,
#: keras-team and tf.keras); any other key is refused, since it may change the numbers
_COMMON = ("name", "trainable", "batch_input_shape", "input_shape", "return_sequences", "go_backwards",
           "stateful", "unroll", "activation")
RECURRENT_KEYS = {
    1: frozenset(_COMMON + ("input_dtype", "input_dim", "input_length", "output_dim", "init", "inner_init",
                            "forget_bias_init", "inner_activation", "W_regularizer", "U_regularizer",
                            "b_regularizer", "activity_regularizer", "dropout_W", "dropout_U", "consume_less")),
    2: frozenset(_COMMON + ("dtype", "units", "recurrent_activation", "use_bias", "kernel_initializer",
                            "recurrent_initializer", "bias_initializer", "unit_forget_bias", "kernel_regularizer",
                            "recurrent_regularizer", "bias_regularizer", "activity_regularizer",
                            "kernel_constraint", "recurrent_constraint", "bias_constraint", "dropout",
                            "recurrent_dropout", "implementation", "return_state", "reset_after", "time_major")),
}

#: keys that tell 1.x from 2.x configs (recurrent layers, Embedding, Dense)
KEYS_1X = frozenset(("init", "inner_init", "inner_activation", "consume_less", "dropout_W",
                     "dropout_U", "W_regularizer", "input_dtype", "forget_bias_init"))
KEYS_2X = frozenset(("units", "kernel_initializer", "recurrent_initializer", "recurrent_activation", "use_bias",
                     "recurrent_dropout", "implementation", "embeddings_initializer", "kernel_regularizer",
                     "return_state", "reset_after"))
