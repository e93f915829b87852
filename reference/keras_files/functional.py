"""A Keras 1.x/2.x functional model's config -> FunctionalSpec (plain data, no model).

The config (keras/engine/topology.py `Container.get_config` at 1.2.2 and 2.1.6) is
{name, layers: [{class_name, config, name, inbound_nodes}], input_layers, output_layers}.
Each entry of a layer's `inbound_nodes` is one call of that layer (its node index is its
position there): the list of tensors it reads, each [layer name, node index, tensor
index] in 1.x and [layer name, node index, tensor index, call kwargs] in 2.x. A layer
with several entries is shared: one set of weights, several calls. input_layers and
output_layers name the model's inputs and outputs as [layer name, node index, tensor
index], in the model's order.

This module reads InputLayer entries (-> InputSpec) and the merge layers (1.x `Merge`,
2.x Concatenate, Add, Subtract, Multiply, Average, Maximum, Minimum, Dot -> the one
reference class MergeLayer, reference/merging.py) itself; every other layer goes to the
caller's `translate(entry, label) -> LayerSpec`. The calls are put in an order in which
every call comes after the calls it reads (Keras's own loader retries calls until their
inputs exist; the result is the same), a layer's calls in their node order.
Refused with one sentence: a model used as a layer, call kwargs that change what a call
computes, references to layers or calls that do not exist, cycles, more layers or calls
than untrusted.LIMITS["layers"].
"""
from ..untrusted import LIMITS, check_limit, quote, shorten
from .spec import FunctionalSpec, InputSpec, KerasFileError, LayerSpec, NodeSpec

#: the merge layer classes this module translates (1.x `Merge`; the 2.x classes)
MERGE_CLASSES = frozenset({"Merge", "Concatenate", "Add", "Subtract", "Multiply", "Average", "Maximum",
                           "Minimum", "Dot"})
#: class names of models; a model used as a layer of another is not read
MODEL_CLASSES = frozenset({"Model", "Sequential", "Functional", "Container", "Network"})
#: 2.x classes -> the reference mode
MERGE_MODES_2 = {"Add": "sum", "Subtract": "sub", "Multiply": "mul", "Average": "ave", "Maximum": "max",
                 "Minimum": "min", "Concatenate": "concat", "Dot": "dot"}
#: 1.x Merge modes read
MERGE_MODES_1 = ("sum", "mul", "concat", "ave", "max", "dot", "cos")
#: K.epsilon(), the floor of 1.x cos's denominator: the keras.json default (files do not record it)
COS_EPSILON = 1e-7
#: config keys of a merge layer that change nothing the reference computes
NO_EFFECT_KEYS = frozenset({"name", "trainable", "dtype", "batch_input_shape", "input_dtype"})
#: call kwargs (2.x inbound_nodes' fourth item) accepted, with the values that change nothing
NO_EFFECT_KWARGS = {"training": (None, False), "mask": (None,)}
#: the epsilon of the L2 norm of Dot(normalize=True), per backend (reference/merging.py)
NORMALIZE_EPSILON = {"theano": 1e-7, "tensorflow": 1e-12}


def _label(name):
    return f"layer {quote(name, 60)}"


def read(config, translate, release, backend=None):
    """FunctionalSpec of a Keras 1.x/2.x functional model config (see the module).
    translate(entry, label) -> LayerSpec for every layer that is neither an InputLayer nor a
    merge layer; release and backend as the file states them ("2.1.6", "theano")."""
    if not isinstance(config, dict):
        raise KerasFileError(f"a functional model's config must be a mapping, got {quote(config)}")
    entries = config.get("layers")
    if not isinstance(entries, list) or not entries:
        raise KerasFileError(f"a functional model's config needs a non-empty list 'layers', got {quote(entries)}")
    limit = LIMITS["layers"]
    if len(entries) > limit.value:
        raise KerasFileError(f"the config holds {len(entries)} layers, more than the {limit.value} accepted for "
                             f"{limit.what}; {limit.why}")
    by_name, calls = {}, 0
    for position, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("class_name"), str) \
                or not isinstance(entry.get("config"), dict):
            raise KerasFileError(f"layer {position} of the functional model is not a {{class_name, config, name, "
                                 f"inbound_nodes}} mapping: {quote(entry)}")
        name = entry.get("name", entry["config"].get("name"))
        if not isinstance(name, str) or not name:
            raise KerasFileError(f"layer {position} of the functional model has no name (got {quote(name)})")
        if name in by_name:
            raise KerasFileError(f"two layers of the functional model are named {quote(name)}")
        nodes = entry.get("inbound_nodes", [])
        if not isinstance(nodes, list) or not all(isinstance(n, list) for n in nodes):
            raise KerasFileError(f"{_label(name)}: inbound_nodes must be a list of calls (lists of tensors), "
                                 f"got {quote(nodes)}")
        calls += len(nodes)
        if calls > limit.value:
            raise KerasFileError(f"the config holds more than {limit.value} layer calls, the limit for "
                                 f"{limit.what}; {limit.why}")
        by_name[name] = entry

    inputs, layers = {}, {}
    for name, entry in by_name.items():
        kind, label = entry["class_name"], _label(name)
        if kind == "InputLayer":
            inputs[name] = _input(entry, name)
        elif kind in MODEL_CLASSES:
            raise KerasFileError(f"{label} is a whole model ({shorten(kind, 40)}) used as a layer; nested models "
                                 "are not read (save the inner model's layers in the outer model instead)")
        elif kind in MERGE_CLASSES:
            layers[name] = translate_merge(kind, entry["config"], release, backend, label, name)
        else:
            spec = translate(entry, label)
            if not isinstance(spec, LayerSpec):
                raise KerasFileError(f"{label}: the translation of a {shorten(kind, 40)} gave no layer")
            if not spec.name:
                spec.name = name
            layers[name] = spec

    order = _input_order(config, inputs)
    pending = {}  # (layer, node index) -> [(layer, node, tensor)]
    for name, entry in by_name.items():
        nodes = entry.get("inbound_nodes", [])
        if name in inputs:
            if nodes:
                raise KerasFileError(f"{_label(name)}: an InputLayer is not called on other tensors")
            continue
        if not nodes:
            raise KerasFileError(f"{_label(name)} is never called in the model (no inbound_nodes)")
        for index, node in enumerate(nodes):
            check_limit(len(node), "branches", f"{_label(name)} call {index}", "the number of tensors it reads",
                        KerasFileError)
            refs = [_tensor(item, f"{_label(name)} call {index}", by_name) for item in node]
            if not refs:
                raise KerasFileError(f"{_label(name)} call {index} reads no tensor")
            # a recurrent layer's further tensors are its initial_state (h, then c for LSTM):
            # reference/functional.py checks their number and shapes against the cell
            if layers[name].kind not in ("MergeLayer",) + INITIAL_STATE_KINDS and len(refs) != 1:
                raise KerasFileError(f"{_label(name)} ({shorten(by_name[name]['class_name'], 40)}) is called on "
                                     f"{len(refs)} tensors; only merge layers and recurrent layers (initial_state) "
                                     "take several")
            pending[(name, index)] = refs
    for key, refs in pending.items():
        for ref in refs:
            if ref[0] not in inputs and ref[:2] not in pending:
                raise KerasFileError(f"{_label(key[0])} call {key[1]} reads call {ref[1]} of {_label(ref[0])}, "
                                     f"which has {len(by_name[ref[0]].get('inbound_nodes', []))} call(s)")
            if ref[0] in inputs and ref[1:] != (0, 0):
                raise KerasFileError(f"{_label(key[0])} call {key[1]} reads tensor {list(ref[1:])} of input "
                                     f"{quote(ref[0])}, which has one (node 0, tensor 0)")
    nodes = _topological(pending, list(by_name), inputs)
    outputs = [_tensor(item, f"output {i}", by_name) for i, item in
               enumerate(_list(config, "output_layers"))]
    for ref in outputs:
        if ref[0] in inputs:
            if ref[1:] != (0, 0):
                raise KerasFileError(f"output {quote(ref)} names a tensor input {quote(ref[0])} does not have")
        elif ref[:2] not in pending:
            raise KerasFileError(f"output {quote(ref)} names a call layer {quote(ref[0])} does not have")
    return FunctionalSpec(inputs=[inputs[n] for n in order], layers=layers, nodes=nodes, outputs=outputs)


def _list(config, key):
    value = config.get(key)
    if not isinstance(value, list) or not value:
        raise KerasFileError(f"a functional model's config needs a non-empty list {key!r}, got {quote(value)}")
    return value


def _input(entry, name):
    config = entry["config"]
    shape = config.get("batch_input_shape")
    if not isinstance(shape, list) or len(shape) < 2 or any(
            s is not None and (isinstance(s, bool) or not isinstance(s, int) or s < 1) for s in shape):
        raise KerasFileError(f"input {quote(name)}: batch_input_shape must be a list [batch, axes...] of positive "
                             f"integers or null, got {quote(shape)}")
    for key in ("sparse", "ragged"):  # tf.keras writes ragged
        if config.get(key):
            raise KerasFileError(f"input {quote(name)} is {key}; {key} inputs are not read")
    dtype = config.get("dtype", config.get("input_dtype", "float32"))
    if not isinstance(dtype, str):
        raise KerasFileError(f"input {quote(name)}: dtype must be a name such as \"float32\", got {quote(dtype)}")
    return InputSpec(name=name, shape=tuple(shape[1:]), dtype=dtype)


def _input_order(config, inputs):
    order = []
    for i, item in enumerate(_list(config, "input_layers")):
        if not isinstance(item, list) or len(item) != 3 or item[0] not in inputs or item[1:] != [0, 0]:
            raise KerasFileError(f"input_layers entry {i} must name an InputLayer as [name, 0, 0], got {quote(item)}")
        if item[0] in order:
            raise KerasFileError(f"input_layers names {quote(item[0])} twice")
        order.append(item[0])
    missing = [n for n in inputs if n not in order]
    if missing:
        raise KerasFileError(f"the InputLayer {quote(missing[0])} is not among the model's input_layers")
    return order


#: the reference classes a call may give initial states (Bidirectional is refused there)
INITIAL_STATE_KINDS = ("LSTM", "GRU", "SimpleRNN", "Bidirectional")


def _tensor(item, where, by_name):
    """(layer, node, tensor) of an inbound_nodes / output_layers item; 2.x's call kwargs
    must be ones that change nothing."""
    if not isinstance(item, list) or len(item) not in (3, 4):
        raise KerasFileError(f"{where}: a tensor is [layer name, node index, tensor index] (2.x: and call kwargs), "
                             f"got {quote(item)}")
    name, node, tensor = item[:3]
    if not isinstance(name, str) or any(isinstance(v, bool) or not isinstance(v, int) or v < 0
                                        for v in (node, tensor)):
        raise KerasFileError(f"{where}: a tensor is [layer name, node index, tensor index], got {quote(item)}")
    if name not in by_name:
        raise KerasFileError(f"{where} reads unknown layer {quote(name)}")
    if len(item) == 4:
        kwargs = item[3]
        if not isinstance(kwargs, dict):
            raise KerasFileError(f"{where}: call kwargs must be a mapping, got {quote(kwargs)}")
        for key, value in kwargs.items():
            if key not in NO_EFFECT_KWARGS or not any(value is v for v in NO_EFFECT_KWARGS[key]):
                raise KerasFileError(f"{where}: the call passes {shorten(key, 40)}={quote(value, 40)}, which changes "
                                     f"what it computes; calls are read with no kwargs, or "
                                     f"{', '.join(f'{k}=null' for k in NO_EFFECT_KWARGS)}, training=false")
    return name, node, tensor


def _topological(pending, names, inputs):
    """NodeSpecs in an order where every call follows the calls it reads and the earlier
    calls of its own layer; a cycle is refused."""
    done = {(name, 0) for name in inputs}
    left = {name: sorted(k for (n, k) in pending if n == name) for name in names if name not in inputs}
    nodes = []
    progress = True
    while progress and any(left.values()):
        progress = False
        for name in names:  # Keras's loader walks the layers in config order, retrying
            queue = left.get(name)
            while queue and all(ref[:2] in done for ref in pending[(name, queue[0])]):
                index = queue.pop(0)
                nodes.append(NodeSpec(layer=name, inputs=list(pending[(name, index)]), index=index))
                done.add((name, index))
                progress = True
    stuck = [(n, q[0]) for n, q in left.items() if q]
    if stuck:
        raise KerasFileError(f"the calls of the functional model form a cycle (call {stuck[0][1]} of "
                             f"{_label(stuck[0][0])} waits on itself)")
    return nodes


def translate_merge(kind, config, release, backend, label, name):
    """LayerSpec(kind="MergeLayer") of a 1.x Merge or a 2.x merge layer's config."""
    where = f"{label} ({kind})"
    arguments = {}
    if kind == "Merge":
        used = {"mode", "mode_type", "concat_axis", "dot_axes", "output_shape", "output_shape_type",
                "output_mask", "output_mask_type", "arguments", "layers"}
        mode, mode_type = config.get("mode", "sum"), config.get("mode_type", "raw")
        if mode_type != "raw" or not isinstance(mode, str):
            raise KerasFileError(f"{where}: its mode is a Python function stored in the file; code from a file is "
                                 "never run")
        if mode not in MERGE_MODES_1:
            raise KerasFileError(f"{where}: unknown merge mode {quote(mode)}; accepted: {', '.join(MERGE_MODES_1)}")
        if config.get("layers"):
            raise KerasFileError(f"{where}: a Merge of models (its 'layers') inside a functional model is not read")
        if config.get("arguments"):
            raise KerasFileError(f"{where}: arguments {quote(config['arguments'])} are for a function mode")
        # output_shape and output_mask are read by Keras only for a function mode: no effect here
        arguments.update(mode=mode, concat_axis=config.get("concat_axis", -1), dot_axes=config.get("dot_axes", -1),
                         refuse_masks=mode == "max")
        if mode == "cos":
            arguments["normalize_epsilon"] = COS_EPSILON
    else:
        used = {"axis"} if kind == "Concatenate" else {"axes", "normalize"} if kind == "Dot" else set()
        arguments["mode"] = MERGE_MODES_2[kind]
        if kind == "Concatenate":
            arguments["concat_axis"] = config.get("axis", -1)
        if kind == "Dot":
            if "axes" not in config:
                raise KerasFileError(f"{where}: the config gives no axes")
            arguments["dot_axes"] = config["axes"]
            if config.get("normalize", False):
                if backend not in NORMALIZE_EPSILON:
                    raise KerasFileError(f"{where}: normalize=True divides by a norm whose epsilon is the backend's, "
                                         f"and the file names no backend ({quote(backend)}); accepted: "
                                         f"{', '.join(NORMALIZE_EPSILON)}")
                arguments.update(normalize=True, normalize_epsilon=NORMALIZE_EPSILON[backend])
            elif config.get("normalize", False) is not False:
                raise KerasFileError(f"{where}: normalize must be true or false, got {quote(config['normalize'])}")
    unknown = sorted(k for k in config if k not in used and k not in NO_EFFECT_KEYS)
    if unknown:
        raise KerasFileError(f"{where}: config key {quote(unknown[0])} is not read (it may change the numbers); "
                             f"read: {', '.join(sorted(used | NO_EFFECT_KEYS))}")
    return LayerSpec(kind="MergeLayer", arguments=arguments, label=label, name=name)
