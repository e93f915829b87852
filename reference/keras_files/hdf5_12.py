"""Keras 1.x/2.x HDF5 files: `save_weights` and `model.save`, read.

The layouts (keras/engine/topology.py, 2.2.x+ engine/saving.py, at each tag):

- `save_weights(path)`: root attributes `layer_names` (every layer, weightless ones
  included), 2.x also `keras_version`, `backend`; one group per layer with attribute
  `weight_names`; the datasets are found by those names, which may hold '/' (2.x:
  `lstm_1/kernel:0` nests a group `lstm_1` in the layer's group). Datasets list in
  alphabetical order inside a group (`lstm_1_U_c` first): the order is `weight_names`'.
- `model.save(path)` (1.0.7+): root attributes `keras_version`, `model_config` (the
  to_json text), 2.x `backend`, a compiled model `training_config`; the weights as
  above inside the group `model_weights`.

Attributes are bytes in files of the era and str in files h5py 3 wrote: both are read.
Keras loads the layers that have weights by position (the file's weighted layers in
`layer_names` order onto the model's weighted layers in config order), each layer's arrays
by position; so does this reader, after checking every count and name. Every member is
opened under reference/untrusted.py's HDF5 policy (hard links only, data stored in the
file, unfiltered, written in full); nothing is set on a model unless the whole file fits.
"""
import os

import numpy as np

from ..dtypes import DTYPE_FROM_WEIGHTS, DTYPE_NOT_IN_WEIGHTS, DTYPE_UNDECIDED, DTYPES
from ..errors import ConfigError
from ..files import check_input
from ..untrusted import LIMITS, MAX_CONFIG_CHARS, h5_member, quote, read_h5_dataset, shorten
from .spec import KerasFileError

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
MAX_NAMES = LIMITS["layers"].value * 16  # layer_names / weight_names entries: far above any model


def _h5py():
    import h5py  # deferred, as in hdf5.py

    return h5py


def is_hdf5(path):
    """Whether the file at `path` starts with the HDF5 signature (at offset 0: Keras wrote
    no user block). A path that is not a readable regular file (a FIFO is never waited on)
    is not: the config reader then says why it cannot be read."""
    from ..files import InputPathError, open_input

    try:
        with open_input(path, "file") as f:
            return f.read(8) == HDF5_SIGNATURE
    except (InputPathError, OSError):
        return False


def text_attr(node, key, where, limit=MAX_CONFIG_CHARS):
    """A string attribute (bytes or str; h5py 3 reads either), or None when absent."""
    if key not in node.attrs:
        return None
    try:
        value = node.attrs[key]
    except Exception as exc:  # noqa: BLE001 - h5py raises assorted errors on corrupt attributes
        raise KerasFileError(f"{where}: attribute {quote(key)} is unreadable ({shorten(exc, 120)})") from None
    if isinstance(value, np.ndarray) and value.shape == () and value.dtype.kind in "SUO":
        value = value[()]
    if isinstance(value, (bytes, np.bytes_)):
        if len(value) > limit:
            raise KerasFileError(f"{where}: attribute {quote(key)} holds {len(value)} bytes, more than {limit}")
        try:
            value = bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            raise KerasFileError(f"{where}: attribute {quote(key)} is not UTF-8 text") from None
    if not isinstance(value, str):
        raise KerasFileError(f"{where}: attribute {quote(key)} must be text, got {quote(value)}")
    if len(value) > limit:
        raise KerasFileError(f"{where}: attribute {quote(key)} holds {len(value)} characters, more than {limit}")
    return value


def names_attr(node, key, where):
    """A list-of-names attribute (`layer_names`, `weight_names`): bytes or str entries."""
    if key not in node.attrs:
        return None
    try:
        value = node.attrs[key]
    except Exception as exc:  # noqa: BLE001
        raise KerasFileError(f"{where}: attribute {quote(key)} is unreadable ({shorten(exc, 120)})") from None
    value = np.asarray(value)
    if value.size == 0:  # h5py reads an empty list as an empty float array
        return []
    if value.ndim != 1 or value.dtype.kind not in "SUO":
        raise KerasFileError(f"{where}: attribute {quote(key)} must be a list of names, got {quote(value)}")
    if value.size > MAX_NAMES:
        raise KerasFileError(f"{where}: attribute {quote(key)} lists {value.size} names, more than {MAX_NAMES}")
    out = []
    for item in value.tolist():
        if isinstance(item, bytes):
            try:
                item = item.decode("utf-8")
            except UnicodeDecodeError:
                raise KerasFileError(f"{where}: attribute {quote(key)} holds a name that is not UTF-8") from None
        if not isinstance(item, str) or not item or len(item) > 1000:
            raise KerasFileError(f"{where}: attribute {quote(key)} holds a bad name {quote(item)}")
        out.append(item)
    return out


def open_file(path, what="HDF5 file"):
    h5py = _h5py()
    path = os.fspath(path)
    if not os.path.exists(path):
        raise KerasFileError(f"{what} {path} does not exist")
    try:
        return h5py.File(check_input(path, what), "r")
    except OSError as exc:
        raise KerasFileError(f"{path} is not a readable HDF5 file (truncated, corrupt or not HDF5): "
                             f"{shorten(exc, 200)}") from None


def file_info(f, path):
    """{"keras_version", "backend", "model_config", "training_config"} of an open file
    (None where absent) and "weights": the group holding the layer groups (the root of a
    save_weights file, `model_weights` of a model.save file), or None."""
    info = {key: text_attr(f, key, path) for key in ("keras_version", "backend", "model_config", "training_config")}
    info["weights"] = None
    if "model_weights" in f:
        info["weights"] = h5_member(f, "model_weights", "group", path, "'model_weights'", KerasFileError)
        for key in ("keras_version", "backend"):  # model.save repeats them on model_weights (2.x)
            if info[key] is None:
                info[key] = text_attr(info["weights"], key, path)
    elif "layer_names" in f.attrs:
        info["weights"] = f
    return info


def read_model_file(path):
    """(info, [(layer name, [(weight name, array)])]) of a model.save file; info as file_info."""
    try:
        with open_file(path, "model file") as f:
            info = file_info(f, path)
            if info["model_config"] is None:
                raise KerasFileError(
                    f"{path} holds no model_config attribute: not a Keras model.save file (a save_weights file "
                    "needs its config: load_model(config, weights))")
            layers = read_layers(info["weights"], path) if info["weights"] is not None else []
    except KerasFileError:
        raise
    except (OSError, RuntimeError, KeyError, ValueError, TypeError) as exc:
        raise KerasFileError(f"{path} is corrupt or truncated: {shorten(exc, 200)}") from None
    return info, layers


def read_weights_file(path):
    """(info, [(layer name, [(weight name, array)])]) of a save_weights (or model.save) file."""
    try:
        with open_file(path, "weights file") as f:
            if "nb_layers" in f.attrs and "layer_names" not in f.attrs:
                raise KerasFileError(f"{path} is a Keras 0.x weights file (attribute nb_layers), but the config is "
                                     "a Keras 1.x/2.x one; save the weights with the release that wrote the config")
            info = file_info(f, path)
            if info["weights"] is None:
                raise KerasFileError(f"{path} has no layer_names attribute: not a Keras 1.x/2.x weights file")
            layers = read_layers(info["weights"], path)
    except KerasFileError:
        raise
    except (OSError, RuntimeError, KeyError, ValueError, TypeError) as exc:
        raise KerasFileError(f"{path} is corrupt or truncated: {shorten(exc, 200)}") from None
    return info, layers


def read_layers(group, path):
    """[(layer name, [(weight name, array)])] of every layer in `layer_names` order."""
    layer_names = names_attr(group, "layer_names", path)
    if layer_names is None:
        raise KerasFileError(f"{path}: the weights group has no layer_names attribute")
    out = []
    for name in layer_names:
        where = f"{path}: layer {quote(name, 40)}"
        g = h5_member(group, name, "group", where, f"group {quote(name, 40)}", KerasFileError)
        weight_names = names_attr(g, "weight_names", where)
        if weight_names is None:
            raise KerasFileError(f"{where}: the group has no weight_names attribute")
        arrays = []
        for wname in weight_names:
            parent, parts = g, wname.split("/")
            if any(part in ("", ".", "..") for part in parts):
                raise KerasFileError(f"{where}: weight name {quote(wname, 60)} is not a path inside the layer's group")
            for part in parts[:-1]:  # 2.x: 'lstm_1/kernel:0' nests a group
                parent = h5_member(parent, part, "group", where, f"group {quote(part, 40)}", KerasFileError)
            arrays.append((wname, read_h5_dataset(parent, parts[-1], where, f"weight {quote(wname, 60)}",
                                                  error=KerasFileError)))
        out.append((name, arrays))
    return out


# ---------------------------------------------------------------------------------------
def _weighted_layers(model):
    """The model's layers that hold weights, in config order (a 1.x Merge-first
    Sequential's Merge: its branches' layers, as Keras's file lists them)."""
    return [layer for layer in _leaves(model.layers) if layer.weight_names]


def _leaves(layers):
    for layer in layers:
        # a Merge of branch models (reference/containers.py; the readers import no model)
        if type(layer).__name__ == "Merge" and hasattr(layer, "_branch_layers"):
            yield from layer._branch_layers()
        else:
            yield layer


def set_model_weights(model, layers, path):
    """Set `layers` ([(layer name, [(weight name, array)])], as read) on `model`, Keras's
    way (the file's weighted layers by position onto the model's); the model's dtype
    follows the file's unless it was named. Nothing is set unless every layer fits."""
    stored = [(name, arrays) for name, arrays in layers if arrays]
    targets = _weighted_layers(model)
    if len(stored) != len(targets):
        raise KerasFileError(
            f"{path} holds weights for {len(stored)} layers "
            f"({', '.join(quote(n, 30) for n, _ in stored[:6]) or 'none'}), "
            f"but the model has {len(targets)} layers with weights "
            f"({', '.join(quote(getattr(l, 'keras_name', l.name), 30) for l in targets[:6]) or 'none'})")
    dtypes = {a.dtype for _, arrays in stored for _, a in arrays}
    if len(dtypes) > 1:
        raise KerasFileError(f"{path} stores weights in several dtypes ({', '.join(sorted(map(str, dtypes)))}); "
                             "a Keras file holds one floatX, so the model's dtype is ambiguous: pass dtype= to "
                             "choose one")
    if model.dtype_from in (DTYPE_UNDECIDED, DTYPE_NOT_IN_WEIGHTS, DTYPE_FROM_WEIGHTS) and dtypes:
        dtype = str(next(iter(dtypes)))
        if dtype not in DTYPES:
            raise KerasFileError(f"{path} stores its weights as {dtype}; the model computes in "
                                 f"{' or '.join(DTYPES)}: pass dtype= to choose one")
    else:
        dtype = str(model.dtype)
    mapped = []
    for layer, (name, arrays) in zip(targets, stored):
        keras_name = getattr(layer, "keras_name", "") or layer.name
        where = f"layer {quote(keras_name, 40)} ({type(layer).__name__})"
        weight_map = getattr(layer, "keras_weight_map", None)
        try:
            if weight_map is None:
                ws = [a for _, a in arrays]
            elif _takes_names(weight_map):
                ws = weight_map(arrays, names=layer.weight_names)
            else:  # a plain callable of [(name, array)]
                ws = weight_map(arrays)
        except KerasFileError as exc:
            raise KerasFileError(f"{path}: {exc}") from None
        ws = [np.asarray(w, dtype=dtype) for w in ws]
        _check_fits(layer, ws, arrays, where, path)
        mapped.append(ws)
    if dtypes and model.dtype_from in (DTYPE_UNDECIDED, DTYPE_NOT_IN_WEIGHTS, DTYPE_FROM_WEIGHTS):
        model.set_dtype(dtype, DTYPE_FROM_WEIGHTS)
    elif not dtypes and model.dtype_from == DTYPE_UNDECIDED:
        model.set_dtype(model.dtype, DTYPE_NOT_IN_WEIGHTS)
    for layer, ws in zip(targets, mapped):
        try:
            layer.set_weights(ws)
        except ConfigError as exc:  # checked above; kept as a sentence if a layer refuses anyway
            raise KerasFileError(f"{path}: {shorten(exc, 300)}") from None
    renamed = [(getattr(layer, "keras_name", ""), n) for layer, (n, _) in zip(targets, stored)
               if getattr(layer, "keras_name", "") != n]
    if renamed and hasattr(model, "keras_notes"):
        model.keras_notes.append(f"the weights file names {len(renamed)} layers differently from the config "
                                 f"(first: {quote(renamed[0][1], 30)} for {quote(renamed[0][0], 30)}); read by "
                                 "position, as Keras reads them")


def _check_fits(layer, ws, arrays, where, path):
    """Refuse `ws` unless `layer.set_weights(ws)` will take them, before any layer is set.
    A layer with its own set_weights (one whose stored shapes decide its form, a wrapper
    passing them on) is tried on a copy."""
    from ..layers import Layer

    if type(layer).set_weights is not Layer.set_weights:
        import copy

        try:
            copy.deepcopy(layer).set_weights(ws)
        except ConfigError as exc:
            raise KerasFileError(f"{path}: {where}: {shorten(exc, 300)} (the file does not fit its config)") from None
        return
    expected = [(n, tuple(s)) for n, s, _ in layer._specs]
    if len(ws) != len(expected):
        raise KerasFileError(f"{path}: {where} stores {len(arrays)} weight arrays, which give {len(ws)} of the "
                             f"layer's {len(expected)} ({', '.join(n for n, _ in expected)})")
    for w, (wname, shape) in zip(ws, expected):
        if tuple(np.shape(w)) != shape:
            raise KerasFileError(f"{path}: {where}: weight {wname} has shape {tuple(np.shape(w))} in the file, "
                                 f"but the layer expects {shape} (the file does not fit its config)")


def _takes_names(function):
    import inspect

    try:
        return "names" in inspect.signature(function).parameters
    except (TypeError, ValueError):
        return False


def load_weights(model, path):
    """Read a Keras 1.x/2.x weights file (save_weights or model.save) into `model`."""
    _, layers = read_weights_file(path)
    set_model_weights(model, layers, os.fspath(path))
