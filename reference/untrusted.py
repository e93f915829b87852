"""Reading what a stranger wrote: bounded quoting, and config parsers with limits.

- `printable(text)`: the one way a string from a file reaches a terminal (escaped
  control characters, bounded); `table(rows)` formats names into bounded columns.
- `quote(value)`: the one formatter for a value taken from a file (or any caller) into
  an error message: a bounded repr, never longer than QUOTE_LIMIT characters, that never
  walks more of a nested value than it shows (a 5-million-character name or an alias
  bomb costs microseconds).
- `parse_json(text)`, `parse_yaml(text, loader)`: a config's text to plain Python
  values, refusing texts over MAX_CONFIG_CHARS, nesting deeper than MAX_DEPTH and YAML
  aliases that expand to more than MAX_ALIAS_EXPANSION values beyond the document's own.
- `LIMITS`: the one table of bounds on the sizes a config may ask for (layers, branches,
  timesteps, windows, depth, weight elements), each with its reason; `check_limit`
  applies one, `check_layer_count` the model-wide one.
- `h5_member(parent, key, ...)`, `read_h5_dataset(group, key, ...)`: the one way a
  member of an HDF5 file from elsewhere is opened and a dataset read (the dataset policy
  below).
"""
import json
import reprlib

import numpy as np
import yaml

from .errors import ConfigError

QUOTE_LIMIT = 80
CELL_LIMIT = 60                 # a table cell (a name in a summary); Keras's own names are ~25 characters
MAX_CONFIG_CHARS = 64 << 20     # a Keras 0.2.0 config is kilobytes; inline weights of 0.1.x a few MB
MAX_DEPTH = 64                  # Keras configs nest a handful of levels
MAX_ALIAS_EXPANSION = 100_000   # values aliases may add to a YAML document, counted expanded


class Limit:
    """One named bound on a size read from a config: its value and why it is enough."""

    def __init__(self, value, what, why):
        self.value, self.what, self.why = value, what, why


# Every bound on a size a config may ask for. A tiny config must not make the compiler
# build gigabytes: each bound is far above any Keras 0.2.0 model and low enough that a
# model at every bound at once still converts within seconds and a few hundred MB.
LIMITS = {
    "layers": Limit(2_000, "layers in one model (nested Merge branches, Graph nodes and inputs included)",
                    "Keras 0.2.0 models have tens of layers; each layer is several ONNX nodes"),
    "branches": Limit(256, "branches of one Merge (inputs of one Graph merge)",
                      "a Merge joins a few branches; each is a sub-model in the graph"),
    "timesteps": Limit(10_000, "steps of a declared sequence length (input_length, the time axis of "
                                "input_shape, RepeatVector's n)",
                       "validation feeds batches of that length; 0.2.0 models were trained on hundreds"),
    "window": Limit(4_096, "a window or step length (Convolution1D filter_length and subsample_length, "
                           "MaxPooling1D pool_length and stride)",
                    "the export unrolls a window into that many ONNX nodes"),
    "depth": Limit(256, "SimpleDeepRNN's depth", "each level adds a weight matrix and nodes to every step"),
    "units": Limit(1 << 24, "a width (output_dim, input_dim, nb_filter, a feature axis of input_shape)",
                   "one weight array is bounded by weight_elements anyway; a width beyond is a typo"),
    "sample_values": Limit(1 << 23, "one sample at a layer's input or output",
                           "predict and validation hold batches of them"),
    "samples": Limit(10_000, "generated validation samples (n)",
                     "every padding kind is drawn in 6 samples; more only costs time"),
    "weight_elements": Limit(1 << 31, "values in one weight array",
                             "8 GiB in float32, beyond one ONNX tensor without external data"),
}


def check_limit(value, name, where, key, error=ConfigError):
    """`value` (an int already checked to be one) if it is within LIMITS[name]; else one
    sentence naming the limit and why."""
    limit = LIMITS[name]
    if value > limit.value:
        raise error(f"{where}: {key} is {quote(value, 30)}, more than the {limit.value} accepted for {limit.what}; "
                    f"{limit.why}")
    return value


def check_sample_values(shape, where, what, error=ConfigError):
    """Refuse a per-sample `shape` (None: a dimension not fixed) holding more than
    LIMITS["sample_values"] values."""
    values = 1
    for d in shape:
        values *= d if isinstance(d, int) and not isinstance(d, bool) else 1
    limit = LIMITS["sample_values"]
    if values > limit.value:
        raise error(f"{where}: its {what} {tuple(shape)} holds {values} values per sample, more than the "
                    f"{limit.value} accepted for {limit.what}; {limit.why}")


def check_layer_count(config, error=ConfigError):
    """Refuse a model config holding more than LIMITS["layers"] layer configs before any
    is built: a Sequential's or Merge's "layers" (Merge branches recursively), a Graph's
    "nodes" and inputs. Visits layer configs only, and stops at the limit."""
    limit, count, stack = LIMITS["layers"].value, 0, [config]
    while stack:
        item = stack.pop()
        if not isinstance(item, dict):
            continue
        children = item.get("layers") if item.get("name") in ("Sequential", "Merge") or item is config else None
        nodes = item.get("nodes") if item is config else None
        inputs = item.get("input_config") if item is config else None
        for group in (children, list(nodes.values()) if isinstance(nodes, dict) else None, inputs):
            if isinstance(group, list):
                count += len(group)
                if count > limit:
                    raise error(f"the config holds more than {limit} layers, the limit for "
                                f"{LIMITS['layers'].what}; {LIMITS['layers'].why}")
                stack.extend(group)


_repr = reprlib.Repr()
_repr.maxlevel, _repr.maxstring, _repr.maxother = 3, 30, QUOTE_LIMIT
_repr.maxlist = _repr.maxtuple = _repr.maxdict = _repr.maxset = 6
_repr.maxlong = 40


def printable(text, limit=None):
    """`text` as it may reach a terminal: every character that is not printable (ESC and
    the other control characters that make escape sequences, line breaks, bidirectional
    overrides) shown as its escape (`\\x1b`, `\\n`, `\\u202e`), cut to `limit` characters
    with a trailing '…'. Every string from a file that is printed passes through here."""
    text = str(text)
    if limit is not None and len(text) > 4 * limit:  # do not escape a huge string just to cut it
        text = text[:4 * limit]
    if not text.isprintable():
        text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return text if limit is None or len(text) <= limit else text[:limit - 1] + "…"


def shorten(text, limit=QUOTE_LIMIT):
    """`text` on one line (runs of white space as one space), printable, cut to `limit`
    characters with a trailing '…'."""
    text = str(text)
    if len(text) > 4 * limit:  # do not split a huge string just to cut it
        text = text[:4 * limit]
    return printable(" ".join(text.split()), limit)


def table(rows, cell_limit=CELL_LIMIT):
    """The lines of a left-aligned text table (a dashed line under the first row): each
    cell printable and at most `cell_limit` characters, so one long name widens its column
    by no more than that."""
    cells = [[printable(cell, cell_limit) for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in cells]
    lines.insert(1, "-" * max(len(line) for line in lines))
    return lines


def quote(value, limit=QUOTE_LIMIT):
    """A short repr of `value` for an error message: at most `limit` characters, a long
    string shown as its prefix and '…'."""
    if isinstance(value, str) and len(value) > limit:
        return shorten(repr(value[:limit]), limit)
    return shorten(_repr.repr(value), limit)


class ConfigLimitError(ConfigError):
    """A config text is too large, too deeply nested, or expands too far."""


def _check_size(text):
    if len(text) > MAX_CONFIG_CHARS:
        raise ConfigLimitError(f"the config is {len(text)} characters long, more than the {MAX_CONFIG_CHARS} "
                               "accepted; a Keras model config is far smaller")


def _check_bracket_depth(text):
    """Refuse bracket nesting deeper than MAX_DEPTH before a parser recurses into it
    (PyYAML takes minutes to fail on 200,000 '['). Brackets inside quoted strings count
    too: a Keras config has none there. (Vectorised: a regular expression took 4 s on
    a 10 MB config.)"""
    data = np.frombuffer(text.encode("utf-8", "surrogatepass"), dtype=np.uint8)
    brackets = data[(data == ord("[")) | (data == ord("]")) | (data == ord("{")) | (data == ord("}"))]
    if brackets.size:
        steps = np.where((brackets == ord("[")) | (brackets == ord("{")), 1, -1)
        if int(np.cumsum(steps).max()) > MAX_DEPTH:
            raise _too_deep()


def _too_deep():
    return ConfigLimitError(f"the config nests deeper than {MAX_DEPTH} levels; a Keras model config nests a few levels")


MAX_INT_DIGITS = 40  # a Keras config's integers are sizes and seeds; Python refuses 4,300+ digits anyway


def _bounded_int(text):
    if len(text.lstrip("+-")) > MAX_INT_DIGITS:
        raise ConfigLimitError(f"the config holds an integer of {len(text.lstrip('+-'))} digits, more than the "
                               f"{MAX_INT_DIGITS} accepted; a Keras config's numbers are sizes")
    return int(text)


def parse_json(text):
    """JSON text -> Python values, within the limits above."""
    _check_size(text)
    _check_bracket_depth(text)
    try:
        value = json.loads(text, parse_int=_bounded_int)
    except RecursionError:
        raise _too_deep() from None
    return value  # JSON values nest exactly as their brackets do: no second depth check needed


class BoundedSafeLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing documents whose aliases expand past
    MAX_ALIAS_EXPANSION values (the "billion laughs") or that refer to themselves, and
    nesting deeper than MAX_DEPTH. Checked on the composed node graph, before any value
    is constructed."""

    def compose_document(self):
        node = super().compose_document()
        _check_nodes(node)
        return node

    def construct_yaml_int(self, node):
        _bounded_int(node.value.replace("_", ""))
        return super().construct_yaml_int(node)


BoundedSafeLoader.add_constructor("tag:yaml.org,2002:int", BoundedSafeLoader.construct_yaml_int)


def _check_nodes(root):
    """Count the values of the node graph as construction would expand them."""
    own, expanded = set(), {}
    # iterative post-order: (node, depth, children done?)
    stack, on_path = [(root, 1, False)], set()
    while stack:
        node, depth, done = stack.pop()
        key = id(node)
        if done:
            on_path.discard(key)
            children = _children(node)
            expanded[key] = 1 + sum(expanded[id(c)] for c in children)
            if expanded[key] - len(own) > MAX_ALIAS_EXPANSION:
                raise ConfigLimitError(f"the YAML config's aliases expand to more than {MAX_ALIAS_EXPANSION} "
                                       "values; refused (a config needs no aliases)")
            continue
        if key in expanded:
            continue
        if key in on_path:
            raise ConfigLimitError("the YAML config holds an alias to a value that contains it; refused")
        if depth > MAX_DEPTH:
            raise _too_deep()
        own.add(key)
        on_path.add(key)
        stack.append((node, depth, True))
        stack.extend((c, depth + 1, False) for c in _children(node))


def _children(node):
    if isinstance(node, yaml.SequenceNode):
        return node.value
    if isinstance(node, yaml.MappingNode):
        return [x for pair in node.value for x in pair]
    return ()


def parse_yaml(text, loader=BoundedSafeLoader):
    """YAML text -> Python values with `loader` (a BoundedSafeLoader subclass)."""
    _check_size(text)
    _check_bracket_depth(text)
    try:
        return yaml.load(text, Loader=loader)
    except RecursionError:
        raise _too_deep() from None


# -- HDF5 files from elsewhere ---------------------------------------------------------------
# Keras wrote every weight as a plain dataset: a hard link in its group, contiguous and
# unfiltered, written in full. The policy for a weights file from elsewhere:
# - a member must be a hard link: soft and external links are refused before they are
#   followed (an external link opens any path the file names, a FIFO included);
# - a dataset must keep its data in the file (no external storage, no virtual dataset),
#   be unfiltered (no compression: a few bytes may expand to gigabytes), and its storage
#   must hold every byte it declares: contiguous or chunked data must have been written
#   in full (never-written chunks and a contiguous dataset left at its fill value read as
#   arrays of any declared size from a file of a few kilobytes); compact data always is.
# So what a read allocates is bounded by the file's own size.


def h5_member(parent, key, kind, where, label, error=ConfigError):
    """parent[key], a "group" or a "dataset", which must exist and be stored in the file
    (a hard link; checked before it is followed); `label` names it in errors."""
    import h5py

    cls = h5py.Group if kind == "group" else h5py.Dataset
    if key not in parent:
        raise error(f"{where}: {kind} {label} is missing")
    link = parent.get(key, getlink=True)
    if not isinstance(link, h5py.HardLink):
        raise error(f"{where}: {quote(key)} is a {type(link).__name__}, not data stored in the file; refused")
    member = parent[key]
    if not isinstance(member, cls):
        raise error(f"{where}: {label} is not a {kind}")
    return member


def read_h5_dataset(group, key, where, label, shape=None, error=ConfigError):
    """group[key] read as an array, under the dataset policy above; `shape`, when given,
    is the shape it must have (checked before anything is read)."""
    import h5py

    d = h5_member(group, key, "dataset", where, label, error)
    if d.external or d.is_virtual:
        raise error(f"{where}: {label} keeps its data outside the file; refused")
    if d.dtype.kind != "f":
        raise error(f"{where}: {label} has dtype {shorten(d.dtype)}, expected floating point")
    if shape is not None and tuple(d.shape) != tuple(shape):
        raise error(f"{where}: {label} has shape {tuple(d.shape)} in the file, but the layer expects {tuple(shape)}")
    plist = d.id.get_create_plist()
    if plist.get_nfilters():
        raise error(f"{where}: {label} is stored compressed or filtered, which Keras never wrote; refused "
                    "(rewrite the file without filters, e.g. h5repack -f NONE)")
    if plist.get_layout() != h5py.h5d.COMPACT and d.id.get_storage_size() < d.size * d.dtype.itemsize:
        raise error(f"{where}: {label} declares {d.size * d.dtype.itemsize} bytes but the file stores "
                    f"{d.id.get_storage_size()} of them (never written); refused")
    return np.array(d[()])
