"""Models from Keras model files: one builder turns a reader's spec (reference/keras_files)
into a reference `Sequential` or `Graph`, as keras/models.py's model_from_config did.

The readers know the files and the releases and build nothing; the models know nothing
of files. This module is the one place that joins them: `build_model(spec)`, and the
public loaders `model_from_config`/`_json`/`_yaml` and `load_model`.
"""
import warnings

from .containers import Graph, Merge
from .errors import ConfigError
from .keras_files import hdf5_12, keras0, keras12, text
from .keras_files.hdf5 import load_weights
from .keras_files.spec import FunctionalSpec, GraphSpec, KerasFileError, LayerSpec, MergeSpec
from .layers import Embedding
from .models import Sequential
from .registry import LAYERS
from .untrusted import quote, shorten


def build_model(spec, dtype=None, seed=None, compile=True, initialise=True):
    """The reference model a ModelSpec describes. dtype=None: float32 until a weights file
    decides. `model.keras_version` is the release whose rules it computes, and
    `model.keras_release` says why ("Keras 0.3.2: config keys custom_name, trainable")."""
    if isinstance(spec.model, GraphSpec):
        model = _graph(spec.model, dtype, seed, initialise)
    elif isinstance(spec.model, FunctionalSpec):
        model = _functional(spec.model, dtype, seed, initialise)
    else:
        model = Sequential._for_config(dtype, seed, initialise)
        _fill_sequential(model, spec.model, seed, initialise)
    if compile and spec.compile is not None:
        compile_from_config(model, spec.compile, graph=isinstance(spec.model, GraphSpec))
    model.keras_version = spec.release
    model.keras_release = spec.summary
    model.keras_backend = spec.backend
    model.keras_notes = list(spec.notes) + list(spec.warnings)
    if _is_keras12(spec):  # its weights files have the 1.x/2.x layout
        model.load_weights = lambda path: hdf5_12.load_weights(model, path)
    for message in spec.warnings:
        warnings.warn(message, RuntimeWarning, stacklevel=3)
    return model


def _is_keras12(spec):
    """Whether a spec came from a Keras 1.x/2.x file (its release is 1.x or 2.x)."""
    return spec.release[:1] in ("1", "2")


def _layer(spec, place=None):
    """The layer a LayerSpec describes; `place(layer)` (a Sequential's add) runs under the
    same error mapping: a refused setting is a KerasFileError naming the layer."""
    cls = LAYERS[spec.kind]
    where = f"{spec.label} ({spec.kind})"
    # a wrapper's argument may itself be a LayerSpec (Bidirectional, TimeDistributed): built first
    arguments = {k: _layer(v) if isinstance(v, LayerSpec) else v for k, v in spec.arguments.items()}
    try:
        layer = cls(**arguments)
        if spec.name:
            layer.keras_name = spec.name
        if spec.weight_map is not None:
            layer.keras_weight_map = spec.weight_map
        if spec.file_omits:
            layer.file_omits, layer.derived_weights = spec.file_omits, dict(spec.derived_weights)
        if spec.weight_scales:
            layer.weight_scales = dict(spec.weight_scales)
        if place is not None:
            place(layer)
    except ConfigError as exc:
        raise KerasFileError(f"{where}: {shorten(exc, 300)}") from None
    except (TypeError, ValueError, OverflowError) as exc:
        raise KerasFileError(f"{where}: bad config ({shorten(exc, 160)})") from None
    return layer


def _fill_sequential(model, spec, seed, initialise):
    inline = []
    for item in spec.layers:
        if isinstance(item, MergeSpec):
            model.add(_merge(item, seed, initialise))
            inline.append(None)
            continue
        _layer(item, place=model.add)
        inline.append(item.inline_weights)
    _check_chain(model)
    if any(w is not None for w in inline):
        if not all(layer.built for layer in model.layers):
            raise KerasFileError("the config holds inline parameters but not the model's input shape")
        for index, (layer, weights) in enumerate(zip(model.layers, inline)):
            if weights is not None:
                try:
                    layer.set_weights(weights)
                except ConfigError as exc:
                    raise KerasFileError(f"layer {index} ({type(layer).__name__}): {exc}") from None
    return model


def _check_chain(model):
    """A layer that declares its input width (0.1.x: every layer) must match what it gets."""
    for index, layer in enumerate(model.layers[1:], start=1):
        declared = layer.declared_input_shape
        if declared is None or isinstance(layer, Embedding) or not layer.built:
            continue
        got = layer.input_shape[-1]
        if declared[-1] is not None and got is not None and declared[-1] != got:
            raise KerasFileError(
                f"layer {index} ({type(layer).__name__}): the config says its input width is {declared[-1]}, "
                f"but the layer before it outputs width {got}"
            )


def _merge(spec, seed, initialise):
    branches = []
    for i, branch in enumerate(spec.branches):
        if isinstance(branch, MergeSpec):
            branches.append(_merge(branch, seed, initialise))
        else:
            try:
                branches.append(_fill_sequential(Sequential._for_config(None, seed, initialise), branch, seed,
                                                 initialise))
            except KerasFileError as exc:
                here = f"{spec.label} branch {i}"
                raise KerasFileError(exc if str(exc).startswith(here) else f"{here}: {exc}") from None
    try:
        return Merge(branches, mode=spec.mode, concat_axis=spec.concat_axis)
    except ConfigError as exc:
        raise KerasFileError(f"{spec.label}: {shorten(exc, 300)}") from None


def _graph(spec, dtype, seed, initialise):
    """A Graph from its spec. An output made by create_output=True is listed in node_config
    and output_config alike: it is added once (0.2.0's own loader added it twice and failed)."""
    graph = Graph._for_config(dtype, seed, initialise)
    try:
        for entry in spec.inputs:
            shape = entry.get("input_shape")
            graph.add_input(entry["name"], tuple(shape) if isinstance(shape, list) else shape,
                            entry.get("dtype", "float"))
        for entry, layer_spec in spec.nodes:
            layer = _layer(layer_spec)
            if layer_spec.inline_weights is not None:
                layer.initial_weights = layer_spec.inline_weights
            graph.add_node(layer, **{k: v for k, v in entry.items() if k in keras0.GRAPH_NODE_KEYS})
        for entry in spec.outputs:
            made = entry["name"] in graph.outputs
            if made and graph.output_config[graph.output_order.index(entry["name"])] == \
                    {k: entry.get(k, d) for k, d in (("name", None), ("input", None), ("inputs", []),
                                                     ("merge_mode", "concat"), ("concat_axis", -1))}:
                continue  # made by its node's create_output=True
            graph.add_output(**entry)
    except KerasFileError:
        raise
    except ConfigError as exc:
        raise KerasFileError(shorten(exc, 400)) from None
    for key, order in (("input_order", graph.input_order), ("output_order", graph.output_order)):
        if key in spec.orders and spec.orders[key] != order:
            raise KerasFileError(f"the Graph config's {key} {quote(spec.orders[key])} disagrees with its "
                                 f"{key.split('_')[0]}_config ({quote(order)})")
    return graph


def _functional(spec, dtype, seed, initialise):
    """A FunctionalModel from its spec: the inputs in the model's order, every layer in the
    config's order (the weights' order), then the calls in topological order."""
    from .functional import FunctionalModel

    model = FunctionalModel._for_config(dtype, seed, initialise)
    try:
        for entry in spec.inputs:
            model.add_input(entry.name, tuple(entry.shape), entry.dtype)
        layers = {}
        for name, layer_spec in spec.layers.items():
            layers[name] = _layer(layer_spec)
            model.add_layer(layers[name], name)
        for node in spec.nodes:
            model.add_node(layers[node.layer], node.inputs)
        model.set_outputs(spec.outputs)
        model._require_built()
    except KerasFileError:
        raise
    except ConfigError as exc:
        raise KerasFileError(shorten(exc, 400)) from None
    return model


def compile_from_config(model, settings, graph=False):
    """Compile `model` as its config's optimizer/loss (and class_mode) say."""
    from . import losses, optimizers  # imported here: loading never needs training support

    opt = settings.get("optimizer")
    if not isinstance(opt, dict) or not isinstance(opt.get("name"), str):
        raise KerasFileError(f"the config's optimizer must be a mapping with a 'name', got {quote(opt)}")
    values = {k: v for k, v in opt.items() if k != "name"}
    for key, value in values.items():  # hand-written YAML may hold "1e-08" as a string
        if isinstance(value, str):
            try:
                values[key] = float(value)
            except ValueError:
                raise KerasFileError(f"optimizer {quote(opt['name'])}: setting {quote(key)}={quote(value)} "
                                     "is not a number") from None
    try:
        optimizer = optimizers.get(opt["name"], values)
    except ConfigError as exc:
        raise KerasFileError(f"the config's optimizer: {exc}") from None
    except (TypeError, ValueError) as exc:
        raise KerasFileError(f"optimizer {quote(opt['name'])}: bad settings ({shorten(exc, 160)})") from None
    loss = settings.get("loss")
    if graph and not isinstance(loss, dict):
        raise KerasFileError(f"a Graph config's loss must map output names to objective names, got {quote(loss)}")
    if not graph and not isinstance(loss, str):
        raise KerasFileError(f"the config's loss must be an objective name, got {quote(loss)}")
    for value in (loss.values() if graph else [loss]):
        try:
            losses.get(value)
        except ConfigError as exc:
            raise KerasFileError(f"the config's loss: {exc}") from None
    kwargs = {}
    if not graph and settings.get("class_mode") is not None:
        kwargs["class_mode"] = settings["class_mode"]
    try:
        model.compile(optimizer, loss, **kwargs)
    except ConfigError as exc:
        raise KerasFileError(f"cannot compile the model as the config asks: {exc}") from None


# -- the public loaders ---------------------------------------------------------------------
def model_from_config(config, dtype=None, seed=None, compile=True, initialise=True, keras_version=None,
                      keras_backend=None):
    """A reference model from a Keras model config (a dict): 0.1.x–0.3.x (`{"name": ...}`)
    or 1.x/2.x (`{"class_name": ..., "config": ...}`).

    The release that wrote it is told from the file (1.x/2.x: its `keras_version`; 0.x and
    1.x/2.x files that do not state it: its keys) or named (keras_version="0.3.2"), and
    the model computes under that release's rules, or the config is refused with the reason.
    dtype=None: the model computes in the dtype of the weights file `load_weights` reads
    (Keras saved its weights in floatX), float32 until then.
    A compiled 0.x model's config (`optimizer`, `loss`, `class_mode`) is compiled the same
    way unless `compile=False`. initialise=False: shapes only, no weight initialised.
    """
    if keras12.is_keras12_config(config):
        spec = keras12.read_config(config, keras_version=keras_version, keras_backend=keras_backend)
        return build_model(spec, dtype=dtype, seed=seed, compile=False, initialise=initialise)
    if keras_backend is not None:
        raise KerasFileError("keras_backend= names the backend of a Keras 1.x/2.x file; Keras 0.x ran on Theano only")
    spec = keras0.read_config(config, keras_version=keras_version)
    return build_model(spec, dtype=dtype, seed=seed, compile=compile, initialise=initialise)


def model_from_json(text_, dtype=None, seed=None, compile=True, initialise=True, keras_version=None,
                    keras_backend=None):
    """A reference `Sequential` or `Graph` from `model.to_json()` text of Keras 0.1.3–0.3.3 (or ours)."""
    return model_from_config(text.config_from_json(text_), dtype=dtype, seed=seed, compile=compile,
                             initialise=initialise, keras_version=keras_version, keras_backend=keras_backend)


def model_from_yaml(text_, dtype=None, seed=None, compile=True, initialise=True, keras_version=None,
                    keras_backend=None):
    """A reference `Sequential` or `Graph` from `model.to_yaml()` text (safe loader; `!!python/tuple` allowed)."""
    return model_from_config(text.config_from_yaml(text_), dtype=dtype, seed=seed, compile=compile,
                             initialise=initialise, keras_version=keras_version, keras_backend=keras_backend)


def load_model(config_path, weights_path=None, dtype=None, seed=None, compile=True, initialise=None,
               keras_version=None, keras_backend=None):
    """A reference model from Keras files: a 1.x/2.x `model.save` file alone
    (`load_model("m.h5")`), or a config file (0.x or 1.x/2.x `to_json`/`to_yaml`) and its
    HDF5 weights (`save_weights`). With no dtype it computes in the weights' (float32
    without weights). keras_backend ("theano", "tensorflow"): the backend that wrote a
    1.x/2.x file that does not state it (Keras 1.x), where the numbers depend on it."""
    if initialise is None:  # weights about to be loaded: nothing to initialise (or allocate) first
        initialise = weights_path is None
    if hdf5_12.is_hdf5(config_path):
        if weights_path is not None:
            raise KerasFileError(f"{config_path} is an HDF5 file: a model.save file holds its config and its "
                                 "weights; give it alone, or give a config file (to_json) and its weights")
        return _load_model_file(config_path, dtype, seed, keras_version, keras_backend)
    config = text.config_from_file(config_path)
    if keras12.is_keras12_config(config):
        return _load_keras12(config, weights_path, dtype, seed, initialise, keras_version, keras_backend)
    model = model_from_config(config, dtype=dtype, seed=seed, compile=compile,
                              initialise=initialise, keras_version=keras_version, keras_backend=keras_backend)
    if weights_path is not None:
        load_weights(model, weights_path)
    return model


def _load_keras12(config, weights_path, dtype, seed, initialise, keras_version, keras_backend=None):
    """A 1.x/2.x config and (optionally) its save_weights file: the file's attributes
    (keras_version, backend) tell the release with the config's."""
    info, layers = (None, None)
    if weights_path is not None:
        info, layers = hdf5_12.read_weights_file(weights_path)
    spec = keras12.read_config(config, keras_version=keras_version, stated=info, keras_backend=keras_backend)
    model = build_model(spec, dtype=dtype, seed=seed, compile=False, initialise=initialise)
    if layers is not None:
        hdf5_12.set_model_weights(model, layers, str(weights_path))
    return model


def _load_model_file(path, dtype, seed, keras_version, keras_backend=None):
    """A Keras 1.x/2.x `model.save` file: its model_config attribute, its model_weights group."""
    info, layers = hdf5_12.read_model_file(path)
    config = text.config_from_json(info["model_config"])
    if not keras12.is_keras12_config(config):
        raise KerasFileError(f"{path}: its model_config is not a Keras 1.x/2.x model config")
    spec = keras12.read_config(config, keras_version=keras_version, stated=info, keras_backend=keras_backend)
    if info.get("training_config") is not None:
        spec.notes.append("training_config (the compile settings) is not read: it plays no part in predict")
    model = build_model(spec, dtype=dtype, seed=seed, compile=False, initialise=False)
    hdf5_12.set_model_weights(model, layers, str(path))
    return model
