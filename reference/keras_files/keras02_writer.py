"""Writing a reference model as Keras 0.2.0 wrote it: `model.to_json()` / `to_yaml()` configs.

What Keras 0.2.0 wrote (and what this module writes, byte for byte):
`{"name": "Sequential", "layers": [...]}`; each layer config is
`{"name": <class name>, <constructor arguments>...}` plus `input_shape` (the per-sample
shape, without the batch axis) for every layer that was given one, directly or through
`input_dim`/`input_length`. Embedding always writes `input_shape: [vocab]` (0.2.0 set it to
`(input_dim,)`). A compiled model adds `optimizer` (its `get_config()`; a float32 model's
Theano shared scalars such as `lr` come out widened to double, e.g. 0.009999999776482582),
`loss` by full function name (`mean_squared_error`), `class_mode` and `theano_mode`. A Merge
first layer and a Graph write their own configs (reference/containers.py) through
`layer_config` and `compiled_config`.
"""
import numpy as np

from .. import activations, initializations
from ..errors import ConfigError
from ..layers import Activation, Dense, Dropout, Embedding, Masking, TimeDistributedDense
from ..recurrent import LSTM, Recurrent, SimpleDeepRNN, SimpleRNN
from ..registry import LAYERS, accepted_names
from ..regularizers import Regularized


# Optimizer settings that 0.2.0 kept in Theano shared scalars (floatX) and wrote with
# float(shared.get_value()): in a float32 model they come out widened from float32.
SHARED_SCALAR_SETTINGS = {
    "SGD": ("lr", "momentum", "decay"),
    "RMSprop": ("lr", "rho"),
    "Adagrad": ("lr",),
    "Adadelta": ("lr",),
    "Adam": ("lr",),
}


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


# arguments of the reference's recurrent layers that compute later releases' rules; a
# Keras 0.2.0 config cannot record them, so a layer using them is not written as one
LATER_RULES = {"mask_rule": "reset", "go_backwards": False, "combine": "add", "return_state": False,
               "reset_after": False}
# layer kinds that later releases added (no 0.2.0 config can hold them)
LATER_LAYERS = {"Bidirectional": "Keras 1.0.8"}


def _refuse_later_rules(layer):
    for key, default in LATER_RULES.items():
        if getattr(layer, key, default) != default:
            raise ConfigError(f"layer {layer.name}: {key}={getattr(layer, key)!r} is a later Keras release's rule; "
                              "a Keras 0.2.0 config cannot record it (reloaded, it would compute other numbers)")


def layer_config(layer, first=False):
    """A layer's Keras 0.2.0 config; `first`: the model's first layer (a model built from
    data records the input shape it was built for)."""
    name = type(layer).__name__
    if name not in LAYERS:
        raise ConfigError(f"layer {layer.name}: {name} has no Keras 0.2.0 config; supported: {accepted_names()}")
    if name in LATER_LAYERS:
        raise ConfigError(f"layer {layer.name}: {name} has no Keras 0.2.0 config ({LATER_LAYERS[name]} added it)")
    c = {"name": name}
    declared = layer.declared_input_shape
    if isinstance(layer, Recurrent):
        _refuse_later_rules(layer)
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
    from .. import losses

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
