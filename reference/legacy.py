"""Keras 0.1.x / 0.2.0 model files: configs (JSON, YAML) and HDF5 weights, both ways.

What Keras 0.2.0 wrote, and what this module reads and writes:

- `model.to_json()` / `to_yaml()`: `{"name": "Sequential", "layers": [...]}`; each layer
  config is `{"name": <class name>, <constructor arguments>...}` plus `input_shape` (the
  per-sample shape, without the batch axis) for every layer that was given one, directly
  or through `input_dim`/`input_length`. Embedding always writes `input_shape: [vocab]`
  (0.2.0 set it to `(input_dim,)`), and ignores it when read back. A compiled model adds
  `optimizer` (its `get_config()`; a float32 model's Theano shared scalars such as `lr`
  come out widened to double, e.g. 0.009999999776482582), `loss` by full function name
  (`mean_squared_error`), `class_mode` and `theano_mode`. YAML written by 0.2.0 tags
  tuples `!!python/tuple`; we read it with a safe loader that knows that one tag only.
- Keras 0.1.x configs name the same layers but every layer carries `input_dim` (it was
  a required first argument) and there is no `input_shape`/`input_length`.
- A Merge first layer is `{"name": "Merge", "layers": [branch configs], "mode",
  "concat_axis"}`; a Graph is `{"name": "Graph", "input_config", "node_config",
  "output_config", "input_order", "output_order", "nodes": {name: layer config}}` and
  its `loss` maps output names to objectives (as compile was given them).
- `save_weights(path)`: HDF5, root attribute `nb_layers`; one group `layer_{k}` per layer
  (weightless layers too; a top-level Merge is one group holding all its branches'
  weights) with attribute `nb_params` and datasets `param_{j}` in get_weights order,
  stored in the model's dtype. Parameters are read by index up to `nb_params` (h5py
  lists `param_10` before `param_2`). A Graph: one group `graph`, `param_{n}` over every
  node in add_node order, without BatchNormalization's running statistics.

This module reads and writes; it builds no model. `Sequential.from_config`,
`Merge.from_config`, `Graph.from_config` and `model_from_config`/`_json`/`_yaml`/
`load_model` live beside the models (reference/models.py, reference/containers.py).

Nothing is trusted: every size read from a file is checked against the model before any
data is read, every problem is a `LegacyFileError` (a `ConfigError`) naming the layer,
and files are written atomically (a temporary file in the same directory, then
`os.replace`). No pickle, no eval, no unsafe YAML.
"""
import inspect
import json
import os
import warnings

import numpy as np
import yaml

from . import activations, initializations
from .errors import ConfigError
from .files import atomic_write
from .untrusted import (MAX_CONFIG_CHARS, BoundedSafeLoader, ConfigLimitError, h5_member, parse_json, parse_yaml, quote,
                        read_h5_dataset, shorten)
from .layers import Activation, Dense, Dropout, Embedding, Masking, TimeDistributedDense
from . import advanced_activations, convolutional, noise, normalization  # noqa: F401  (their layers join the registry)
from .regularizers import Regularized
from .registry import LAYERS, accepted_keys, accepted_names
from .dtypes import DTYPE_FROM_WEIGHTS, DTYPE_NOT_IN_WEIGHTS, DTYPE_UNDECIDED, DTYPES
from .recurrent import GRU, JZS1, JZS2, JZS3, LSTM, RECURRENT_LAYERS, Recurrent, SimpleDeepRNN, SimpleRNN


class LegacyFileError(ConfigError):
    """A legacy Keras config or weights file is unreadable, malformed or does not fit the model."""


# the layer types a file may name: the one registry (every layer module is imported above)
LAYER_CLASSES = LAYERS
assert set(RECURRENT_LAYERS) <= set(LAYER_CLASSES)

# Optimizer settings that 0.2.0 kept in Theano shared scalars (floatX) and wrote with
# float(shared.get_value()): in a float32 model they come out widened from float32.
SHARED_SCALAR_SETTINGS = {
    "SGD": ("lr", "momentum", "decay"),
    "RMSprop": ("lr", "rho"),
    "Adagrad": ("lr",),
    "Adadelta": ("lr",),
    "Adam": ("lr",),
}

# 0.1.x spelled this activation separately; it is softmax over the last axis.
ACTIVATION_ALIASES = {"time_distributed_softmax": "softmax"}

# Keys whose only legal value here is "off": they change training, not prediction, or
# belong to later Keras versions. None/0/False is accepted silently, anything else warns
# (regularizers, constraints: prediction is unaffected) or fails (go_backwards, stateful).
# A layer that took regularizers in 0.2.0 (`Regularized.regularizer_args`) builds them.
REGULARIZER_KEYS = {"W_regularizer", "b_regularizer", "U_regularizer", "activity_regularizer",
                    "W_constraint", "b_constraint", "U_constraint"}
MUST_BE_OFF_KEYS = {"go_backwards", "stateful"}
DROPPED_KEYS = {"cache_enabled", "custom_name", "trainable", "dropout_W", "dropout_U"}

ACCEPTED_KEYS = {name: accepted_keys(cls) for name, cls in LAYER_CLASSES.items()}


def _boolean_keys(cls):
    """Constructor arguments of `cls` whose default is a bool (mask_zero, return_sequences):
    the one source of which config keys must hold a real boolean."""
    keys = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is not None:
            keys |= {p.name for p in inspect.signature(init).parameters.values() if isinstance(p.default, bool)}
    return keys


# must-be-off keys and `trainable` are booleans in every Keras version that wrote them
BOOLEAN_KEYS = {name: frozenset(_boolean_keys(cls) | MUST_BE_OFF_KEYS | {"trainable"})
                for name, cls in LAYER_CLASSES.items()}


def _accepted_layers():
    return accepted_names()


# ---------------------------------------------------------------------------------------
# config -> model
# ---------------------------------------------------------------------------------------
def _shape(value, where):
    if not isinstance(value, (list, tuple)) or not value:
        raise LegacyFileError(f"{where}: input_shape must be a non-empty list, got {quote(value)}")
    out = []
    for v in value:
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
            raise LegacyFileError(f"{where}: input_shape entries must be positive integers or null, got {quote(value)}")
        out.append(v)
    return tuple(out)


def _int_or_none(value, key, where):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise LegacyFileError(f"{where}: {key} must be a positive integer or null, got {quote(value)}")
    return value


def _layer_kwargs(index, config, label=None):
    """(class, constructor kwargs, inline weights or None) for one layer config; `label`
    names it in errors (default "layer {index}")."""
    label = f"layer {index}" if label is None else label
    if not isinstance(config, dict):
        raise LegacyFileError(f"{label}: a layer config must be a mapping, got {type(config).__name__}")
    name = config.get("name")
    if not isinstance(name, str):
        raise LegacyFileError(f"{label}: the layer type ('name') must be a string such as \"LSTM\", "
                              f"got {type(name).__name__} {quote(name)}")
    where = f"{label} ({shorten(name, 60)})"
    if name in ("Sequential", "Graph", "Merge", "AutoEncoder"):
        raise LegacyFileError(f"{where}: a {name} container is not supported here (a Merge only as a "
                              f"Sequential's first layer); layers accepted: {_accepted_layers()}")
    if name not in LAYER_CLASSES:
        raise LegacyFileError(f"{where}: unknown layer type {quote(name)}; accepted: {_accepted_layers()}")
    cls = LAYER_CLASSES[name]
    accepted = ACCEPTED_KEYS[name]
    kwargs, weights = {}, None
    for key, value in config.items():
        if key in BOOLEAN_KEYS[name] and not isinstance(value, bool) \
                and not (value is None and key not in accepted):  # null: "off" for keys we drop
            raise LegacyFileError(f"{where}: {key} must be true or false, got {type(value).__name__} {quote(value)}")
        if key == "name" or key in DROPPED_KEYS:
            if key == "trainable" and value is False:
                warnings.warn(f"{where}: trainable=False is ignored (every weight is trained here)",
                              RuntimeWarning, stacklevel=4)
            continue
        if key in getattr(cls, "regularizer_args", ()):
            kwargs[key] = value  # the layer builds it (regularizers.get / constraints.get)
            continue
        if key in REGULARIZER_KEYS:
            if value not in (None, {}, 0):
                warnings.warn(f"{where}: {quote(key)}={quote(value)} is ignored; it only affects training",
                              RuntimeWarning, stacklevel=4)
            continue
        if key in MUST_BE_OFF_KEYS:
            if value:
                raise LegacyFileError(f"{where}: {quote(key)}={quote(value)} is not supported (Keras 0.2.0 had no such option)")
            continue
        if key == "parameters":  # inline weights written by some 0.1.x development versions
            weights = _inline_parameters(value, where)
            continue
        if key not in accepted:
            raise LegacyFileError(f"{where}: unknown config key {quote(key)}; {name} accepts: {', '.join(accepted)}")
        kwargs[key] = value

    for key in ("activation", "inner_activation"):
        if isinstance(kwargs.get(key), str):
            kwargs[key] = ACTIVATION_ALIASES.get(kwargs[key], kwargs[key])
        elif key in kwargs and kwargs[key] is not None:
            raise LegacyFileError(f"{where}: {key} must be a name, got {quote(kwargs[key])}")
    for key in ("init", "inner_init", "forget_bias_init"):
        if key in kwargs and not isinstance(kwargs[key], str):
            raise LegacyFileError(f"{where}: {key} must be a name, got {quote(kwargs[key])}")
    if "input_shape" in kwargs:
        kwargs["input_shape"] = _shape(kwargs["input_shape"], where)
    for key in ("input_dim", "input_length", "output_dim"):
        if key in kwargs:
            kwargs[key] = _int_or_none(kwargs[key], key, where)

    if cls is Embedding:
        kwargs.pop("input_shape", None)  # 0.2.0 wrote (vocab,) here; the layer sets its own
        if kwargs.get("input_dim") is None:
            raise LegacyFileError(f"{where}: input_dim (the vocabulary size) is missing")
    elif cls is Activation:
        kwargs.pop("target", None), kwargs.pop("beta", None)  # unused by 0.2.0's forward pass
    elif cls is TimeDistributedDense:
        length = kwargs.get("input_length")
        if kwargs.get("input_dim") is not None:
            kwargs["input_shape"] = (length, kwargs["input_dim"])
    elif cls is Dense:
        if kwargs.get("input_dim") is not None:
            kwargs["input_shape"] = (kwargs["input_dim"],)
    elif issubclass(cls, Recurrent):
        if kwargs.get("input_dim") is not None:  # 0.2.0: input_dim overrides input_shape
            kwargs.pop("input_shape", None)
        if cls is SimpleRNN:
            kwargs.pop("inner_activation", None)
    if "output_dim" in ACCEPTED_KEYS[name] and kwargs.get("output_dim") is None:
        raise LegacyFileError(f"{where}: output_dim is missing")
    return cls, kwargs, weights


def layer_from_config(index, config, label=None, place=None):
    """(layer, inline weights or None) from one layer config (see _layer_kwargs for
    `label`); `place(layer)` (a Sequential's add) runs under the same error mapping:
    a refused setting is a LegacyFileError naming the layer."""
    layer_cls, kwargs, weights = _layer_kwargs(index, config, label)
    where = f"{f'layer {index}' if label is None else label} ({layer_cls.__name__})"
    try:
        layer = layer_cls(**kwargs)
        if place is not None:
            place(layer)
    except ConfigError as exc:
        raise LegacyFileError(f"{where}: {shorten(exc, 300)}") from None
    except (TypeError, ValueError, OverflowError) as exc:
        raise LegacyFileError(f"{where}: bad config ({shorten(exc, 160)})") from None
    return layer, weights


def _inline_parameters(value, where):
    if not isinstance(value, list):
        raise LegacyFileError(f"{where}: 'parameters' must be a list of {{data, shape}} entries")
    arrays = []
    for j, entry in enumerate(value):
        try:
            shape = _shape(entry["shape"], f"{where}: parameter {j}") if entry["shape"] else ()
            data = np.asarray(entry["data"], dtype=np.float64)
            if data.size != int(np.prod(shape)):
                raise LegacyFileError(f"{where}: parameter {j} has {data.size} values for shape {shape}")
            arrays.append(data.reshape(shape))
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, LegacyFileError):
                raise
            raise LegacyFileError(f"{where}: parameter {j} is malformed ({shorten(exc, 160)})") from None
    return arrays


def compile_from_config(model, config):
    """Compile `model` as its config's optimizer/loss (and class_mode) say."""
    from . import losses, optimizers  # imported here: loading never needs training support

    opt = config.get("optimizer")
    if not isinstance(opt, dict) or not isinstance(opt.get("name"), str):
        raise LegacyFileError(f"the config's optimizer must be a mapping with a 'name', got {quote(opt)}")
    settings = {k: v for k, v in opt.items() if k != "name"}
    for key, value in settings.items():  # hand-written YAML may hold "1e-08" as a string
        if isinstance(value, str):
            try:
                settings[key] = float(value)
            except ValueError:
                raise LegacyFileError(f"optimizer {quote(opt['name'])}: setting {quote(key)}={quote(value)} is not a number") from None
    try:
        optimizer = optimizers.get(opt["name"], settings)
    except ConfigError as exc:
        raise LegacyFileError(f"the config's optimizer: {exc}") from None
    except (TypeError, ValueError) as exc:
        raise LegacyFileError(f"optimizer {quote(opt['name'])}: bad settings ({shorten(exc, 160)})") from None
    loss = config.get("loss")
    graph = config.get("name") == "Graph"
    if graph and not isinstance(loss, dict):
        raise LegacyFileError(f"a Graph config's loss must map output names to objective names, got {quote(loss)}")
    if not graph and not isinstance(loss, str):
        raise LegacyFileError(f"the config's loss must be an objective name, got {quote(loss)}")
    for value in (loss.values() if graph else [loss]):
        try:
            losses.get(value)
        except ConfigError as exc:
            raise LegacyFileError(f"the config's loss: {exc}") from None
    kwargs = {}
    if config.get("class_mode") is not None:
        kwargs["class_mode"] = config["class_mode"]
    try:
        model.compile(optimizer, loss, **kwargs)
    except ConfigError as exc:
        raise LegacyFileError(f"cannot compile the model as the config asks: {exc}") from None


def _decode(text):
    if isinstance(text, (bytes, bytearray)):
        try:
            return bytes(text).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise LegacyFileError(f"the config is not UTF-8 text ({exc})") from None
    if not isinstance(text, str):
        raise LegacyFileError(f"a config must be text, got {type(text).__name__}")
    return text


def config_from_json(text):
    """The config dict of `model.to_json()` text of Keras 0.1.x/0.2.0 (or ours)."""
    try:
        return parse_json(_decode(text))
    except json.JSONDecodeError as exc:
        raise LegacyFileError(f"the config is not valid JSON: {shorten(exc, 160)}") from None
    except ConfigLimitError as exc:
        raise LegacyFileError(str(exc)) from None


class LegacyYamlLoader(BoundedSafeLoader):
    """PyYAML's safe loader (with untrusted.py's alias and depth limits) plus the one tag
    0.2.0's `to_yaml` wrote: `!!python/tuple`."""


def _construct_tuple(loader, node):
    return tuple(loader.construct_sequence(node, deep=True))


LegacyYamlLoader.add_constructor("tag:yaml.org,2002:python/tuple", _construct_tuple)


class LegacyYamlDumper(yaml.SafeDumper):
    """Writes tuples as `!!python/tuple`, as 0.2.0's `yaml.dump` did; nothing else unsafe."""


def _represent_tuple(dumper, data):
    return dumper.represent_sequence("tag:yaml.org,2002:python/tuple", list(data))


LegacyYamlDumper.add_representer(tuple, _represent_tuple)


def config_from_yaml(text):
    """The config dict of `model.to_yaml()` text (safe loader; `!!python/tuple` allowed)."""
    try:
        return parse_yaml(_decode(text), LegacyYamlLoader)
    except ConfigLimitError as exc:
        raise LegacyFileError(str(exc)) from None
    except yaml.constructor.ConstructorError as exc:
        tag = getattr(exc, "problem", "") or str(exc)
        raise LegacyFileError(
            f"the YAML config uses a tag that is not allowed ({shorten(tag, 120)}); "
            "only plain YAML and !!python/tuple are read"
        ) from None
    except yaml.YAMLError as exc:
        raise LegacyFileError(f"the config is not valid YAML: {shorten(exc, 240)}") from None


def read_config_file(path):
    """The config dict of a .json/.yaml/.yml file (other names: sniffed from the first character)."""
    try:
        with open(path, "rb") as f:
            # in chunks: read(n) allocates n bytes up front (64 MiB for every config)
            chunks, size = [], 0
            while size <= MAX_CONFIG_CHARS:
                chunk = f.read(1 << 20)
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
            raw = b"".join(chunks)
        if len(raw) > MAX_CONFIG_CHARS:
            raise LegacyFileError(f"config file {path} is larger than {MAX_CONFIG_CHARS} bytes; "
                                  "a Keras model config is far smaller")
    except OSError as exc:
        raise LegacyFileError(f"cannot read config file {path}: {exc.strerror or exc}") from None
    text = _decode(raw)
    ext = os.path.splitext(str(path))[1].lower()
    kind = {".json": "json", ".yaml": "yaml", ".yml": "yaml"}.get(ext)
    if kind is None:
        kind = "json" if text.lstrip()[:1] in ("{", "[") else "yaml"
    return kind, text


# ---------------------------------------------------------------------------------------
# model -> config
# ---------------------------------------------------------------------------------------
def _name_of(value, key, layer):
    if isinstance(value, activations.Activation):  # built-in ones are the registry's own objects
        value = value.name if activations.ACTIVATIONS.get(value.name) is value else value.forward
    if isinstance(value, str):
        known = activations.ACTIVATIONS if "activation" in key else initializations.INITIALIZATIONS
        if value in known:
            return value
    raise ConfigError(
        f"layer {layer.name}: {key} {getattr(value, '__name__', value)!r} is a Python callable or unknown name; "
        "a Keras config can only name a built-in one"
    )


def _plain(value):
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        return float(value)
    return value


def _regularizer_configs(layer):
    """A Regularized layer's regularizers and constraints as 0.2.0's get_config wrote them."""
    config = layer.get_config() if isinstance(layer, Regularized) else {}
    return {key: config.get(key) for key in getattr(layer, "regularizer_args", ())}


def layer_config(layer, first=False):
    """A layer's Keras 0.2.0 config; `first`: the model's first layer (a model built from
    data records the input shape it was built for)."""
    name = type(layer).__name__
    if name not in LAYER_CLASSES:
        raise ConfigError(f"layer {layer.name}: {name} has no Keras 0.2.0 config; supported: {_accepted_layers()}")
    c = {"name": name}
    declared = layer.declared_input_shape
    if isinstance(layer, Recurrent):
        c.update(output_dim=layer.output_dim, init=_name_of(layer.init, "init", layer),
                 inner_init=_name_of(layer.inner_init, "inner_init", layer),
                 activation=_name_of(layer.activation, "activation", layer))
        if not isinstance(layer, SimpleRNN):
            c["inner_activation"] = _name_of(layer.inner_activation, "inner_activation", layer)
        if isinstance(layer, LSTM):
            c["forget_bias_init"] = _name_of(layer.forget_bias_init, "forget_bias_init", layer)
        if isinstance(layer, SimpleDeepRNN):
            c["depth"] = layer.depth
        c.update(truncate_gradient=layer.truncate_gradient, return_sequences=layer.return_sequences,
                 input_dim=layer.input_dim, input_length=layer.input_length)
    elif isinstance(layer, Embedding):
        c.update(input_dim=layer.input_dim, output_dim=layer.output_dim, init=_name_of(layer.init, "init", layer),
                 input_length=layer.input_length, mask_zero=layer.mask_zero, **_regularizer_configs(layer))
        declared = (layer.input_dim,)  # sic: 0.2.0's Embedding set input_shape=(input_dim,)
    elif isinstance(layer, Dense):  # and TimeDistributedDense
        c.update(output_dim=layer.output_dim, init=_name_of(layer.init, "init", layer),
                 activation=_name_of(layer.activation, "activation", layer),
                 **_regularizer_configs(layer), input_dim=layer.input_dim)
        if isinstance(layer, TimeDistributedDense):
            c["input_length"] = layer.input_length  # the argument: None after input_shape=(6, 3), as 0.2.0 wrote
            if declared is not None and len(declared) == 1:  # our TDD(input_dim=d) declares (d,)
                declared = (None, declared[0])
    elif isinstance(layer, Activation):
        c.update(activation=_name_of(layer.activation, "activation", layer), target=0, beta=0.1)
    elif isinstance(layer, Dropout):
        c["p"] = layer.p
    elif isinstance(layer, Masking):
        c["mask_value"] = layer.mask_value
    else:  # a layer whose own get_config() is what 0.2.0 wrote
        c.update(layer.get_config())
    if declared is None and first and layer.built:
        declared = tuple(layer.input_shape)  # the model was built from data: record its input
    if declared is not None:
        c["input_shape"] = tuple(declared)
    return {k: _plain(v) for k, v in c.items()}


def _full_loss_name(loss):
    """0.2.0 stored the objective function's __name__: the full name (mean_squared_error)."""
    from . import losses

    return losses.get(loss).name


def compiled_config(model, config):
    """Add what 0.2.0's compiled model wrote: theano_mode, optimizer, loss (and class_mode
    for a Sequential, before them)."""
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None:
        return config
    if config["name"] == "Sequential":
        config["class_mode"] = getattr(model, "class_mode", "categorical")
    config["theano_mode"] = None
    opt = {k: _plain(v) for k, v in optimizer.get_config().items()}
    if model.dtype == np.float32:
        for key in SHARED_SCALAR_SETTINGS.get(opt.get("name"), ()):
            if isinstance(opt.get(key), float):
                opt[key] = float(np.float32(opt[key]))
    config["optimizer"] = opt
    if isinstance(model.loss, dict):  # a Graph: {output name: objective}, as compile was given it
        config["loss"] = dict(model.loss)
    else:
        config["loss"] = _full_loss_name(model.loss)
    return config


def get_config(model):
    """The Keras 0.2.0 config dict of a reference model (its get_config(); tuples for shapes)."""
    return model.get_config()


def _listify(value):
    if isinstance(value, (list, tuple)):
        return [_listify(v) for v in value]
    if isinstance(value, dict):
        return {k: _listify(v) for k, v in value.items()}
    return value


def to_json(model, **kwargs):
    """Keras 0.2.0's `model.to_json()`; keyword arguments go to `json.dumps`."""
    return json.dumps(_listify(model.get_config()), **kwargs)


def to_yaml(model, **kwargs):
    """Keras 0.2.0's `model.to_yaml()` (shapes tagged `!!python/tuple`); kwargs go to `yaml.dump`."""
    kwargs.setdefault("default_flow_style", None)
    return yaml.dump(model.get_config(), Dumper=LegacyYamlDumper, **kwargs)


# ---------------------------------------------------------------------------------------
# HDF5 weights
# ---------------------------------------------------------------------------------------
def _h5py():
    import h5py  # deferred: importing h5py costs time every `import reference` would pay

    return h5py


def save_weights(model, path, overwrite=False):
    """Write the weights in Keras 0.2.0's HDF5 layout (atomically; refuses to overwrite unless asked)."""
    path = os.fspath(path)
    if not overwrite and os.path.exists(path):
        raise LegacyFileError(f"{path} already exists; pass overwrite=True to replace it")
    model._require_built()
    if _is_graph(model):
        return _save_graph_weights(model, path)
    per_layer = [[np.asarray(w) for w in layer.get_weights()] for layer in model.layers]

    def fill(f):
        f.attrs["nb_layers"] = len(model.layers)
        for k, weights in enumerate(per_layer):
            g = f.create_group(f"layer_{k}")
            g.attrs["nb_params"] = len(weights)
            _write_datasets(g, "param", weights)

    _write_h5(path, fill)


def _write_datasets(group, prefix, arrays):
    for j, w in enumerate(arrays):
        dset = group.create_dataset(f"{prefix}_{j}", w.shape, dtype=w.dtype)
        dset[...] = w


def _write_h5(path, fill):
    """A new HDF5 file at `path` holding what fill(file) puts in it, written atomically."""
    h5py = _h5py()

    def write(tmp):
        with h5py.File(tmp, "w") as f:
            fill(f)

    try:
        atomic_write(path, write)
    except OSError as exc:
        raise LegacyFileError(f"cannot write weights file {path}: {exc.strerror or exc}") from None


# Weights a layer keeps that Keras 0.2.0 updated outside its `params` (BatchNormalization's
# running statistics): 0.2.0's Graph.get_weights, hence Graph.save_weights, left them out.
NOT_KERAS_PARAMS = ("running_mean", "running_std")


def _is_graph(model):
    """0.2.0 stored a Graph's weights in one group 'graph', a Sequential's per layer."""
    return getattr(model, "hdf5_layout", "layers") == "graph"


def _keras_params(layer):
    """[(is a Keras param, name, weight)] of a layer: 0.2.0's Graph saved only its params."""
    return [(name not in NOT_KERAS_PARAMS, name, np.asarray(w)) for name, w in zip(layer.weight_names, layer.get_weights())]


def _save_graph_weights(graph, path):
    """0.2.0's Graph.save_weights: one group `graph`, `param_{n}` in add_node order, attribute
    nb_params. Weights 0.2.0 left out (BatchNormalization's running statistics) follow as
    `state_{i}`, which 0.2.0's load_weights never reads, so the file stays Keras's."""
    params = [w for layer in graph.layers for keep, _, w in _keras_params(layer) if keep]
    states = [w for layer in graph.layers for keep, _, w in _keras_params(layer) if not keep]

    def fill(f):
        g = f.create_group("graph")
        g.attrs["nb_params"] = len(params)
        _write_datasets(g, "param", params)
        _write_datasets(g, "state", states)

    _write_h5(path, fill)


def _count_attr(node, key, where):
    if key not in node.attrs:
        raise LegacyFileError(f"{where} has no '{key}' attribute; not a Keras weights file")
    try:
        value = np.asarray(node.attrs[key])
    except Exception as exc:  # h5py raises assorted errors on corrupt attributes
        raise LegacyFileError(f"{where}: attribute '{key}' is unreadable ({exc})") from None
    if value.dtype.kind not in "iu" or value.size != 1 or value.ndim > 1:
        raise LegacyFileError(f"{where}: attribute '{key}' must be one integer, got {quote(value)}")
    value = int(value.reshape(()))
    if value < 0:
        raise LegacyFileError(f"{where}: attribute '{key}' is negative ({value})")
    return value


def _expected_specs(model, first_param_shape):
    """[(input_shape, [(name, shape)] per layer] without building anything.

    An unbuilt model (its config gave no input shape) takes its input width from the
    first weight of the first layer that has weights (W is (input_dim, units)).
    """
    shape, out = None, []
    for index, layer in enumerate(model.layers):
        if layer.built:
            shape = layer.input_shape
        elif shape is None:
            k, width = first_param_shape()
            if width is None:
                raise LegacyFileError("the model's input shape is unknown and the weights file does not reveal it")
            rank3 = isinstance(model.layers[k], (Recurrent, TimeDistributedDense))
            shape = (None, width) if rank3 else (width,)
        try:
            specs = [(name, tuple(s)) for name, s, _ in layer.param_specs(shape)]
            out.append((shape, specs))
            shape = layer.output_shape(shape)
        except (TypeError, ValueError, IndexError) as exc:
            raise LegacyFileError(f"layer {index} ({type(layer).__name__}): cannot infer its weights' shapes ({exc})") from None
    return out


def load_weights(model, path):
    """Read Keras 0.2.0 HDF5 weights into `model`; on any problem the model is left unchanged.

    A model whose dtype was not named (model_from_json(text) with no dtype) or came from
    an earlier weights file takes the dtype of this file's datasets, which must agree."""
    h5py = _h5py()
    path = os.fspath(path)
    if not os.path.exists(path):
        raise LegacyFileError(f"weights file {path} does not exist")
    if not model.layers:
        raise ConfigError("the model has no layers")
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise LegacyFileError(
            f"{path} is not a readable HDF5 file (truncated, corrupt or not HDF5): {' '.join(str(exc).split())}"
        ) from None
    try:
        with f:
            arrays = _read_weights(model, f, path, h5py)
    except LegacyFileError:
        raise
    except (OSError, RuntimeError, KeyError, ValueError, TypeError) as exc:
        raise LegacyFileError(f"{path} is corrupt or truncated: {' '.join(str(exc).split())}") from None

    # the file checked out: adopt its dtype if it decides, build the layers the config
    # left unbuilt, then set everything
    if model.dtype_from in (DTYPE_UNDECIDED, DTYPE_NOT_IN_WEIGHTS, DTYPE_FROM_WEIGHTS):
        decided = _file_dtype(model, arrays, path)
        if decided is None:
            model.set_dtype(model.dtype, DTYPE_NOT_IN_WEIGHTS)
        else:
            model.set_dtype(decided, DTYPE_FROM_WEIGHTS)
    for layer, (layer_shape, _), ws in zip(model.layers, arrays["specs"], arrays["weights"]):
        if not layer.built:
            layer.build(layer_shape, model.dtype, model.rng, initialise=False)
        missing = [j for j, w in enumerate(ws) if w is None]
        if missing:  # a Graph file without running statistics: as Keras's reload, their initial values
            for j, w in _initial_values(layer, missing, model.dtype, model.rng).items():
                ws[j] = w
    model.set_weights([w for ws in arrays["weights"] for w in ws])


def _member(parent, key, cls, where, label, h5py):
    """parent[key], a `cls` (Group or Dataset) stored in the file (untrusted.h5_member)."""
    return h5_member(parent, key, "group" if cls is h5py.Group else "dataset", where, label, LegacyFileError)


def _read_dataset(group, key, label, pname, shape, where, h5py):
    """group[key], weight `pname` of the layer `where`, in the file's dtype (it may decide
    the model's), under the one HDF5 dataset policy (untrusted.read_h5_dataset)."""
    return read_h5_dataset(group, key, where, f"{label} ({pname})", shape, LegacyFileError)


def _read_graph_weights(graph, f, path, h5py):
    """{"specs", "weights"} per node, as _read_weights; a running statistic the file does
    not hold (0.2.0's Graph files never do) is None: it keeps its initial value."""
    if "nb_layers" in f.attrs:
        raise LegacyFileError(f"{path} holds a Sequential model's weights (attribute nb_layers, groups layer_k), "
                              "but the model is a Graph (one group 'graph')")
    groups = list(f.keys())
    if groups != ["graph"]:
        raise LegacyFileError(f"{path} holds {len(groups)} groups ({', '.join(quote(k) for k in groups[:5]) or 'none'}); "
                              "a Keras Graph weights file holds exactly one group 'graph'")
    g = _member(f, "graph", h5py.Group, path, f"'graph' of {path}", h5py)
    nb_params = _count_attr(g, "nb_params", f"{path}: group 'graph'")
    per_node = [_keras_params(layer) for layer in graph.layers]
    expected = sum(keep for node in per_node for keep, _, _ in node)
    if nb_params != expected:
        counts = ", ".join(f"{name}: {sum(k for k, _, _ in node)}" for name, node in zip(graph.nodes, per_node))
        raise LegacyFileError(f"{path}: group 'graph' has nb_params={nb_params}, but the Graph's nodes have "
                              f"{expected} weight arrays in add_node order ({counts})")
    n = i = 0
    specs, weights = [], []
    for (name, node), layer_params in zip(graph.nodes.items(), per_node):
        layer = node["layer"]
        where = f"Graph node {quote(name)} ({type(layer).__name__})"
        specs.append((layer.input_shape, [(pname, w.shape) for _, pname, w in layer_params]))
        layer_weights = []
        for keep, pname, w in layer_params:
            key = f"param_{n}" if keep else f"state_{i}"
            if not keep and key not in g:
                layer_weights.append(None)
                i += 1
                continue
            layer_weights.append(_read_dataset(g, key, f"'{key}'", pname, tuple(w.shape), where, h5py))
            n, i = (n + 1, i) if keep else (n, i + 1)
        weights.append(layer_weights)
    return {"specs": specs, "weights": weights}


def _initial_values(layer, missing, dtype, rng):
    """The initial value of each weight of `layer` whose position is in `missing`."""
    specs = layer.param_specs(layer.input_shape)
    return {j: np.asarray(initializations.get(specs[j][2])(rng, specs[j][1]), dtype=dtype) for j in missing}


def _read_weights(model, f, path, h5py):
    if _is_graph(model):
        return _read_graph_weights(model, f, path, h5py)
    if "graph" in f and "nb_layers" not in f.attrs:
        raise LegacyFileError(f"{path} holds a Graph model's weights (group 'graph'), but the model is a Sequential")
    nb_layers = _count_attr(f, "nb_layers", f"{path}")
    if nb_layers != len(model.layers):
        raise LegacyFileError(
            f"{path} holds weights for {nb_layers} layers, but the model has {len(model.layers)} "
            f"({', '.join(type(l).__name__ for l in model.layers)})"
        )

    def group(k):
        key = f"layer_{k}"
        where = f"layer {k} ({type(model.layers[k]).__name__} {model.layers[k].name})"
        return _member(f, key, h5py.Group, where, f"'{key}' of {path}", h5py), where

    def first_param_shape():
        for k in range(nb_layers):
            g, where = group(k)
            if _count_attr(g, "nb_params", where) > 0 and "param_0" in g:
                d = _member(g, "param_0", h5py.Dataset, where, "param 0", h5py)
                if len(d.shape) == 2:
                    return k, int(d.shape[0])
        return None, None

    specs = _expected_specs(model, first_param_shape)
    weights = []
    for k, (layer, (_, layer_specs)) in enumerate(zip(model.layers, specs)):
        g, where = group(k)
        where = f"layer {k} ({type(layer).__name__} {layer.name})"
        nb_params = _count_attr(g, "nb_params", where)
        if nb_params != len(layer_specs):
            names = ", ".join(n for n, _ in layer_specs) or "none"
            raise LegacyFileError(
                f"{where}: the file has nb_params={nb_params}, but the layer has {len(layer_specs)} "
                f"weight arrays ({names})"
            )
        layer_weights = []
        for j, (pname, shape) in enumerate(layer_specs):
            layer_weights.append(_read_dataset(g, f"param_{j}", f"param {j}", pname, shape, where, h5py))
        weights.append(layer_weights)
    return {"specs": specs, "weights": weights}


def _file_dtype(model, arrays, path):
    """The one dtype of every dataset in the file (None if it holds none); datasets that
    disagree, or a dtype the reference does not compute in, are refused, naming the layer."""
    names = list(model.nodes) if _is_graph(model) else None

    def where(k):
        if names is not None:
            return f"Graph node {quote(names[k])} ({type(model.layers[k]).__name__})"
        return f"layer {k} ({type(model.layers[k]).__name__})"

    first = None
    for k, (layer_weights, (_, layer_specs)) in enumerate(zip(arrays["weights"], arrays["specs"])):
        for j, (w, (pname, _)) in enumerate(zip(layer_weights, layer_specs)):
            if w is None:
                continue
            if first is None:
                first = (w.dtype, k, j, pname)
                if str(w.dtype) not in DTYPES:
                    raise LegacyFileError(
                        f"{path}: {where(k)} param {j} ({pname}) is stored as {w.dtype}; the model computes in "
                        f"{' or '.join(DTYPES)}: pass dtype= to choose one")
            elif w.dtype != first[0]:
                raise LegacyFileError(
                    f"{path}: {where(k)} param {j} ({pname}) is stored as {w.dtype}, but {where(first[1])} "
                    f"param {first[2]} ({first[3]}) as {first[0]}; a Keras file holds one floatX, so the "
                    "model's dtype is ambiguous: pass dtype= to choose one")
    return None if first is None else first[0]



# Building models from configs moved beside the models (reference/models.py: model_from_config,
# model_from_json, model_from_yaml, load_model) so that this module, the file formats, imports
# no model. These names still answer here for callers written before the move.
MOVED_TO_MODELS = ("model_from_config", "model_from_json", "model_from_yaml", "load_model")


def __getattr__(name):
    if name in MOVED_TO_MODELS:
        from . import models
        return getattr(models, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
