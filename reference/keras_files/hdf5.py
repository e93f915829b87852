"""Keras 0.x HDF5 weights files (`save_weights`), both ways.

The layout, the same from Keras 0.1.0 to 0.3.3 (it holds no release): root attribute
`nb_layers`; one group `layer_{k}` per layer (weightless layers too; a top-level Merge is
one group holding all its branches' weights) with attribute `nb_params` and datasets
`param_{j}` in get_weights order, stored in floatX. Parameters are read by index up to
`nb_params` (h5py lists `param_10` before `param_2`). A Graph: one group `graph`,
`param_{n}` over every node in add_node order, without BatchNormalization's running
statistics. A layer whose release stored other weights than the reference layer holds
(0.1.x's JZS1/JZS2 left out their fixed projection P) says so in `file_weights` and
`derived_weights` (set by reference/build.py from the layer's spec).

Nothing is trusted: every size read from a file is checked against the model before any
data is read (every dataset through `_read_dataset`), every problem is a KerasFileError
naming the layer, and files are written atomically. This module builds no model: it
reads into and writes from one it is given.
"""
import os

import numpy as np

from .. import initializations
from ..dtypes import DTYPE_FROM_WEIGHTS, DTYPE_NOT_IN_WEIGHTS, DTYPE_UNDECIDED, DTYPES
from ..errors import ConfigError
from ..files import atomic_write, check_input
from ..layers import TimeDistributedDense
from ..recurrent import Recurrent
from ..untrusted import h5_member, quote, read_h5_dataset
from .spec import KerasFileError


# ---------------------------------------------------------------------------------------
def _h5py():
    import h5py  # deferred: importing h5py costs time every `import reference` would pay

    return h5py


def save_weights(model, path, overwrite=False):
    """Write the weights in Keras 0.2.0's HDF5 layout (atomically; refuses to overwrite unless asked)."""
    path = os.fspath(path)
    if not overwrite and os.path.exists(path):
        raise KerasFileError(f"{path} already exists; pass overwrite=True to replace it")
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
        raise KerasFileError(f"cannot write weights file {path}: {exc.strerror or exc}") from None


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
        raise KerasFileError(f"{where} has no '{key}' attribute; not a Keras weights file")
    try:
        value = np.asarray(node.attrs[key])
    except Exception as exc:  # h5py raises assorted errors on corrupt attributes
        raise KerasFileError(f"{where}: attribute '{key}' is unreadable ({exc})") from None
    if value.dtype.kind not in "iu" or value.size != 1 or value.ndim > 1:
        raise KerasFileError(f"{where}: attribute '{key}' must be one integer, got {quote(value)}")
    value = int(value.reshape(()))
    if value < 0:
        raise KerasFileError(f"{where}: attribute '{key}' is negative ({value})")
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
                raise KerasFileError("the model's input shape is unknown and the weights file does not reveal it")
            rank3 = isinstance(model.layers[k], (Recurrent, TimeDistributedDense))
            shape = (None, width) if rank3 else (width,)
        try:
            specs = [(name, tuple(s)) for name, s, _ in layer.param_specs(shape)]
            out.append((shape, specs))
            shape = layer.output_shape(shape)
        except (TypeError, ValueError, IndexError) as exc:
            raise KerasFileError(f"layer {index} ({type(layer).__name__}): cannot infer its weights' shapes ({exc})") from None
    return out


def load_weights(model, path):
    """Read Keras 0.x HDF5 weights into `model`; on any problem the model is left unchanged.

    A model whose dtype was not named (model_from_json(text) with no dtype) or came from
    an earlier weights file takes the dtype of this file's datasets, which must agree."""
    h5py = _h5py()
    path = os.fspath(path)
    if not os.path.exists(path):
        raise KerasFileError(f"weights file {path} does not exist")
    if not model.layers:
        raise ConfigError("the model has no layers")
    try:
        f = h5py.File(check_input(path, "weights file"), "r")
    except OSError as exc:
        raise KerasFileError(
            f"{path} is not a readable HDF5 file (truncated, corrupt or not HDF5): {' '.join(str(exc).split())}"
        ) from None
    try:
        with f:
            arrays = _read_weights(model, f, path, h5py)
    except KerasFileError:
        raise
    except (OSError, RuntimeError, KeyError, ValueError, TypeError) as exc:
        raise KerasFileError(f"{path} is corrupt or truncated: {' '.join(str(exc).split())}") from None

    # the file checked out: adopt its dtype if it decides, build the layers the config
    # left unbuilt, then set everything
    if model.dtype_from in (DTYPE_UNDECIDED, DTYPE_NOT_IN_WEIGHTS, DTYPE_FROM_WEIGHTS):
        decided = _file_dtype(model, arrays, path)
        if decided is None:
            model.set_dtype(model.dtype, DTYPE_NOT_IN_WEIGHTS)
        else:
            model.set_dtype(decided, DTYPE_FROM_WEIGHTS)
    for layer, (layer_shape, layer_specs), ws in zip(model.layers, arrays["specs"], arrays["weights"]):
        if not layer.built:
            layer.build(layer_shape, model.dtype, model.rng, initialise=False)
        for j, (name, shape) in enumerate(layer_specs):
            if ws[j] is None and name in getattr(layer, "derived_weights", {}):
                ws[j] = _derived_value(layer, name, shape, model.dtype)
            elif name in getattr(layer, "weight_scales", {}):  # in the model's dtype, as the release computed
                ws[j] = ws[j].astype(model.dtype) * np.asarray(layer.weight_scales[name], dtype=model.dtype)
        missing = [j for j, w in enumerate(ws) if w is None]
        if missing:  # a Graph file without running statistics: as Keras's reload, their initial values
            for j, w in _initial_values(layer, missing, model.dtype, model.rng).items():
                ws[j] = w
    model.set_weights([w for ws in arrays["weights"] for w in ws])


def _member(parent, key, cls, where, label, h5py):
    """parent[key], a `cls` (Group or Dataset) stored in the file (untrusted.h5_member)."""
    return h5_member(parent, key, "group" if cls is h5py.Group else "dataset", where, label, KerasFileError)


def _read_dataset(group, key, label, pname, shape, where, h5py):
    """group[key], weight `pname` of the layer `where`, in the file's dtype (it may decide
    the model's), under the one HDF5 dataset policy (untrusted.read_h5_dataset)."""
    return read_h5_dataset(group, key, where, f"{label} ({pname})", shape, KerasFileError)


def _read_graph_weights(graph, f, path, h5py):
    """{"specs", "weights"} per node, as _read_weights; a running statistic the file does
    not hold (0.2.0's Graph files never do) is None: it keeps its initial value."""
    if "nb_layers" in f.attrs:
        raise KerasFileError(f"{path} holds a Sequential model's weights (attribute nb_layers, groups layer_k), "
                              "but the model is a Graph (one group 'graph')")
    groups = list(f.keys())
    if groups != ["graph"]:
        raise KerasFileError(f"{path} holds {len(groups)} groups ({', '.join(quote(k) for k in groups[:5]) or 'none'}); "
                              "a Keras Graph weights file holds exactly one group 'graph'")
    g = _member(f, "graph", h5py.Group, path, f"'graph' of {path}", h5py)
    nb_params = _count_attr(g, "nb_params", f"{path}: group 'graph'")
    per_node = [_keras_params(layer) for layer in graph.layers]
    expected = sum(keep for node in per_node for keep, _, _ in node)
    if nb_params != expected:
        counts = ", ".join(f"{name}: {sum(k for k, _, _ in node)}" for name, node in zip(graph.nodes, per_node))
        raise KerasFileError(f"{path}: group 'graph' has nb_params={nb_params}, but the Graph's nodes have "
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
        raise KerasFileError(f"{path} holds a Graph model's weights (group 'graph'), but the model is a Sequential")
    nb_layers = _count_attr(f, "nb_layers", f"{path}")
    if nb_layers != len(model.layers):
        raise KerasFileError(
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
        stored = _stored(layer, layer_specs, where)
        if nb_params != len(stored):
            names = ", ".join(layer_specs[j][0] for j in stored) or "none"
            raise KerasFileError(
                f"{where}: the file has nb_params={nb_params}, but the layer has {len(stored)} "
                f"weight arrays ({names})"
            )
        layer_weights = [None] * len(layer_specs)
        for j, position in enumerate(stored):
            pname, shape = layer_specs[position]
            layer_weights[position] = _read_dataset(g, f"param_{j}", f"param {j}", pname, shape, where, h5py)
        weights.append(layer_weights)
    return {"specs": specs, "weights": weights}


def _stored(layer, layer_specs, where):
    """Positions (in the layer's weight order) of the weights its file stores, in the file's
    order: every weight but those the release left out (`layer.file_omits`), each of which
    must be derivable (`layer.derived_weights`)."""
    names = [n for n, _ in layer_specs]
    omitted = getattr(layer, "file_omits", ())
    for name in omitted:
        rule = getattr(layer, "derived_weights", {}).get(name)
        shape = dict(layer_specs)[name]
        if rule != "identity" or len(shape) != 2 or shape[0] != shape[1]:
            raise KerasFileError(f"{where}: the file does not hold {name} (its release never saved it) and it is "
                                 f"not the identity here (shape {shape}): its values are lost")
    return [j for j, n in enumerate(names) if n not in omitted]


def _derived_value(layer, name, shape, dtype):
    """A weight the release did not save, as it computed it (only the identity is derived)."""
    assert getattr(layer, "derived_weights", {}).get(name) == "identity" and shape[0] == shape[1]
    return np.eye(shape[0], dtype=dtype)


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
                    raise KerasFileError(
                        f"{path}: {where(k)} param {j} ({pname}) is stored as {w.dtype}; the model computes in "
                        f"{' or '.join(DTYPES)}: pass dtype= to choose one")
            elif w.dtype != first[0]:
                raise KerasFileError(
                    f"{path}: {where(k)} param {j} ({pname}) is stored as {w.dtype}, but {where(first[1])} "
                    f"param {first[2]} ({first[3]}) as {first[0]}; a Keras file holds one floatX, so the "
                    "model's dtype is ambiguous: pass dtype= to choose one")
    return None if first is None else first[0]


