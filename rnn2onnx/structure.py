"""The model as the exporter walks it: named inputs, layer chains, merges and nodes,
named outputs (SPEC, "The public contract, continued").

A plain Sequential is the one-branch case: one input `input`, one chain, one output
`output`. A Sequential whose first layer is a `Merge` takes one input per leaf branch
(`input_1`, `input_2`, ... in the order `predict([X0, X1, ...])` takes the arrays, a
nested Merge's inputs flattened in place); each branch is a chain (or a Merge) walked the
same way, and the merge drops the masks, as Keras 0.2.0's `Merge.get_output_mask` does.
A `Graph` has its own input names (add_input order) and output names (add_output
order); its nodes are walked in add_node order: a node with one `input` receives that
input's mask, a node fed by `inputs=[...]` a merge of them and no mask.

A Keras 1.x/2.x functional model (reference.functional.FunctionalModel) has one graph
input per model input, named after its input layer, and one graph output per model
output, named as `FunctionalModel.output_names` says: the output layer's name, and for a
further output of a layer already named (a second tensor of a return_state layer, a
later call of a shared layer, one tensor given twice) or a name an input has, the name
with `_1`, `_2`, ... (the first suffix not taken); both in the model's order. Its calls
are emitted in call order; each gets the masks of the tensors it reads (a merge layer a
list of them) and hands on its layer's output mask, as the reference does.

The model's topology is walked once, by reference.topology.walk (inputs, layer calls and
merges in evaluation order, outputs, as uniform records): the emission, `describe`
(`rnn2onnx inspect`) and the ports (model_inputs/model_outputs, their dims) all read it.
`emit_model` is the one builder path: every layer of every branch or node goes through
the same emitters (rnn2onnx/emitters), and every merge through `emit_merge`.
"""
from dataclasses import dataclass

import numpy as np
import onnx

from reference.containers import Graph as GraphModel
from reference.containers import Merge
from reference.functional import FunctionalModel
from reference.topology import LAYER, MERGE, walk

from .emitters import EMITTERS
from .emitters.merge import emit_merge
from .emitters.unrolled import fixed_dims
from reference.errors import ConfigError

from .errors import ExportError


@dataclass
class Port:
    """One graph input or output: its name and per-sample shape (None: dynamic). An input
    also says what valid data for it is: int64 token ids below `vocab`, or floats (where a
    Masking layer reads it, its `mask_value` marks the masked steps)."""

    name: str
    shape: tuple
    ids: bool = False
    vocab: int = None
    mask_value: float = None
    length: int = None  # the one sequence length the input takes (fixed_length), or None


def is_merge(layer):
    return isinstance(layer, Merge)


def is_graph(model):
    return isinstance(model, GraphModel)


def is_functional(model):
    return isinstance(model, FunctionalModel)


def chain_port(name, chain):
    """The input port of a Sequential that reads one input."""
    return _chain_port(name, chain.layers)


def _chain_port(name, layers):
    """The input port read by a chain of layers (a Sequential or one of its branches)."""
    first = layers[0]
    length = _fixed_length(layers)
    if type(first).__name__ == "Embedding":
        return Port(name, (length,), ids=True, vocab=first.input_dim, length=length)
    masking = [layer for layer in layers if type(layer).__name__ == "Masking"]
    return Port(name, tuple(first.input_shape), mask_value=masking[0].mask_value if masking else None,
                length=length)


def _reader_port(w, node, shape, ids, length=None):
    """The port of a Graph's or functional model's input `node` of per-sample `shape`;
    `ids`: it holds token ids, valid for every Embedding that reads it. A float input's
    mask value is the first Masking layer's that reads it."""
    readers = w.readers(node.outputs[0])
    if ids:
        return Port(node.key, shape, ids=True, vocab=min(layer.input_dim for layer in readers), length=length)
    masking = [layer for layer in readers if type(layer).__name__ == "Masking"]
    return Port(node.key, tuple(shape), mask_value=masking[0].mask_value if masking else None, length=length)


def _holds_ids(model, name):
    """Whether input `name` holds token ids."""
    if is_functional(model):
        return model.takes_ids(name)
    if is_graph(model):
        return model.inputs[name][1] == "int"
    return type(model.layers[0]).__name__ == "Embedding"


def model_inputs(model, w=None):
    """[Port] of the model's inputs, in the order its predict takes them (`w`: its walk,
    reference.topology.walk)."""
    w = w or walk(model)
    if is_functional(model):
        free = _functional_free_shapes(model, w) is not None
        return [_reader_port(w, node, model.inputs[node.key][0], model.takes_ids(node.key),
                             None if free else _input_length(model, node.key)) for node in w.inputs]
    if is_graph(model):  # an 'int' input holds token ids (of any length) for the Embeddings that read it
        ports = []
        for node in w.inputs:
            shape, kind = model.inputs[node.key]
            ports.append(_reader_port(w, node, (None,) if kind == "int" else shape, kind == "int"))
        return ports
    return [_chain_port(node.key, [n.layer for n in w.nodes if n.kind == LAYER and n.prefix == node.prefix])
            for node in w.inputs]


def model_outputs(model, w=None):
    """[Port] of the model's outputs, in the order of its outputs (a Graph's add_output
    order); an output that is an input as it is holds what that input holds."""
    w = w or walk(model)
    if is_functional(model):
        shapes = model.output_shape
    elif is_graph(model):
        shapes = [model.output_shape[node.key] for node in w.outputs]
    else:
        shapes = [model.output_shape]
    inputs = {node.outputs[0]: node.key for node in w.inputs}
    return [Port(node.key, tuple(shape), ids=node.inputs[0] in inputs and _holds_ids(model, inputs[node.inputs[0]]))
            for node, shape in zip(w.outputs, shapes)]


def as_list(model, inputs):
    """The arrays of predict-style `inputs` (one array, a list per branch, a Graph's
    {input name: array}), in input order."""
    ports = model_inputs(model)
    if is_graph(model):
        if not isinstance(inputs, dict) or sorted(inputs) != sorted(p.name for p in ports):
            got = sorted(inputs) if isinstance(inputs, dict) else type(inputs).__name__
            raise ExportError(f"the Graph takes a dict of its inputs {[p.name for p in ports]}, got {got}")
        return [inputs[p.name] for p in ports]
    arrays = list(inputs) if len(ports) > 1 else [inputs]
    if len(arrays) != len(ports):
        raise ExportError(f"the model takes {len(ports)} input arrays "
                          f"({', '.join(p.name for p in ports)}), got {len(arrays)}")
    return arrays


def predict_style(model, arrays):
    """What predict takes, from the list of arrays in input order."""
    if is_graph(model):
        return {p.name: x for p, x in zip(model_inputs(model), arrays)}
    return list(arrays) if len(model_inputs(model)) > 1 else arrays[0]


def feeds(model, inputs):
    """{graph input name: array} for predict-style `inputs`, each array in the input's
    element type (int64 token ids, else the model's dtype)."""
    ports = model_inputs(model)
    from reference.validators import input_array

    return {p.name: input_array(x, f"input {p.name!r}").astype(np.int64 if p.ids else model.dtype)
            for p, x in zip(ports, as_list(model, inputs))}


def predict_outputs(model, inputs):
    """The reference's outputs for predict-style `inputs`, as a list in output order."""
    Y = model.predict(predict_style(model, [np.asarray(x) for x in as_list(model, inputs)]))
    if is_functional(model):
        return list(Y) if len(model.outputs) > 1 else [Y]
    return [Y[p.name] for p in model_outputs(model)] if is_graph(model) else [Y]


def onnx_dims(shape, time):
    """Per-sample dims of a tensor with the time dim (the first of two) named `time`
    (None: unnamed), always dynamic, even when the model was built with an input_length."""
    shape = list(shape)
    if len(shape) == 2:
        shape[0] = None
    return _named(shape, time)


def _time_names(n_inputs):
    """The inputs' time dims: one name per input (a merge may concatenate on time, or
    join a sequence with a branch's last output, so lengths may differ)."""
    return ["time"] if n_inputs == 1 else [f"time_{i + 1}" for i in range(n_inputs)]


def _output_time(n_inputs):
    """An output's time dim: the input's with one input; unnamed with several."""
    return "time" if n_inputs == 1 else None


def io_dims(layers):
    """Per-sample dims of the input and output of a chain of layers (a Sequential) ("time"
    for a dynamic axis).

    The input's time axis is dynamic, even when the model was built with an input_length,
    as long as every layer takes the same per-sample shape whatever the sequence length
    (only a sequence's first axis, time, may change). A layer that needs the length
    fixes it to the built one: Flatten of a sequence, Reshape of one (`needs_length`),
    Permute moving time into the features. Output axes that follow the input's time are
    "time"; the others (RepeatVector's n, Reshape's dims) are concrete."""
    embedding = type(layers[0]).__name__ == "Embedding"
    built = tuple(layers[0].input_shape)
    if embedding or len(built) >= 2:
        free = (None,) + built[1:]
        shape = free
        try:
            for index, layer in enumerate(layers):
                had = tuple(layer.input_shape)
                time_axis = index == 0 and embedding or len(had) >= 2
                if len(shape) != len(had) or any(s != h for i, (s, h) in enumerate(zip(shape, had))
                                                 if not (i == 0 and time_axis and s is None)):
                    raise ConfigError("the layer's per-sample shape depends on the sequence length")
                if getattr(layer, "needs_length", False) and None in shape:
                    raise ConfigError("the layer needs the sequence length")
                shape = layer.output_shape(shape)
        except ConfigError:
            pass
        else:
            # a convolution or pooling changes the length: the output's time is its own
            changes = any(hasattr(layer, "output_length") for layer in layers)
            return _named(free), _named(shape, "out_time" if changes else "time")
    return _named(built), _named(layers[-1].output_shape(layers[-1].input_shape))


def _has_time(model, name):
    """Whether input `name` of a functional model is a sequence (token ids, or (time, features))."""
    return model.takes_ids(name) or len(model.inputs[name][0]) >= 2


def _input_length(model, name):
    shape = model.inputs[name][0]
    return shape[0] if _has_time(model, name) and isinstance(shape[0], int) else None


def _functional_free_shapes(model, w):
    """{value: per-sample shape} of a functional model (`w`: its walk) whose inputs' time
    axes are left free, or None when some call needs the built sequence length (its
    per-sample shapes depend on it: a Flatten, Reshape or Permute of a sequence, per-sample
    weights)."""
    shapes = {}
    for node in w.inputs:
        shape = model.inputs[node.key][0]
        shapes[node.outputs[0]] = ((None,) + shape[1:]) if _has_time(model, node.key) else shape
    try:
        for node in w.nodes:
            layer = node.layer
            ins = [shapes[v] for v in node.inputs]
            built = list(layer.input_shape) if getattr(layer, "nb_inputs", 1) != 1 else [layer.input_shape]
            for got, had in zip(ins, built):
                had = tuple(had)
                if len(got) != len(had) or any(s != h for i, (s, h) in enumerate(zip(got, had))
                                               if not (i == 0 and s is None)):
                    return None
                if getattr(layer, "needs_length", False) and None in got:
                    return None
            out = layer.output_shape(ins if getattr(layer, "nb_inputs", 1) != 1 else ins[0])
            shapes.update(zip(node.outputs, [tuple(o) for o in out] if getattr(layer, "nb_outputs", 1) > 1
                              else [tuple(out)]))
    except (ConfigError, TypeError, ValueError, IndexError):
        return None
    return shapes


def fixed_length(model):
    """The one sequence length the model takes (its exported input's time axis is
    concrete: a Flatten, Reshape or Permute of the sequence, per-sample weights), or None."""
    return None if is_functional(model) else _fixed_length(model.layers)


def _fixed_length(layers):
    if not all(layer.built for layer in layers) or is_merge(layers[0]):
        return None
    input_dims, _ = io_dims(layers)
    has_time = type(layers[0]).__name__ == "Embedding" or len(input_dims) >= 2
    return input_dims[0] if has_time and isinstance(input_dims[0], int) else None


def _named(shape, time="time"):
    return [time if s is None else int(s) for s in shape]


# ---------------------------------------------------------------------------------------
# emission, in the order of the model's walk


def emit_model(model, ctx):
    """Add the model's inputs, every layer and merge, and its outputs to `ctx.g`, in the
    order of the model's walk (reference.topology)."""
    g = ctx.g
    w = walk(model)
    ins, outs = model_inputs(model, w), model_outputs(model, w)
    clash = {p.name for p in ins} & {p.name for p in outs}
    if clash:
        raise ExportError(f"the model has an input and an output both named {sorted(clash)[0]!r}; "
                          "an ONNX graph needs distinct names")
    g.root.used_names.update(p.name for p in ins + outs)  # no node may take these names
    chain = not is_graph(model) and not is_functional(model) and not is_merge(model.layers[0])
    in_dims, out_dims = io_dims(model.layers) if chain else (None, None)  # a plain Sequential: exact dims
    per_port = functional_dims(model, w) if is_functional(model) else None
    values = {}  # value -> (tensor, mask)
    for index, (port, node, time) in enumerate(zip(ins, w.inputs, _time_names(len(ins)))):
        elem = onnx.TensorProto.INT64 if port.ids else None
        dims = per_port[0][index] if per_port else in_dims or onnx_dims(port.shape, time)
        dims = fixed_dims(dims, ctx.fixed[port.name]) if ctx.fixed else ["batch"] + dims
        g.inputs.append(onnx.helper.make_tensor_value_info(port.name, elem or g.elem, dims))
        values[node.outputs[0]] = (port.name, None)
    if is_functional(model):
        _check_name_lengths(model)
    for node in w.nodes:
        x, mask = node.arguments(values)
        if node.kind == MERGE:
            values[node.outputs[0]] = (_emit_merge(node, ctx, x), None)
        else:
            values.update(node.results(*emit_layer(node.layer, ctx, x, mask, node.key)))
    renamed = {}  # tensor -> the output name it took (one tensor may be several outputs)
    for index, (port, node) in enumerate(zip(outs, w.outputs)):
        tensor = values[node.inputs[0]][0]
        _name_output(g, renamed.get(tensor, tensor), port.name)
        renamed.setdefault(tensor, port.name)
        dims = per_port[1][index] if per_port else out_dims or onnx_dims(port.shape, _output_time(len(ins)))
        g.add_output(port.name, ["batch"] + dims, elem=onnx.TensorProto.INT64 if port.ids else None)


def _check_name_lengths(model):
    """Refuse a functional model whose input or layer names are longer than MAX_NAME_CHARS
    (each names many ONNX nodes and values)."""
    from .exporter import MAX_NAME_CHARS

    for name in model.input_names + [layer.name for layer in model.layers]:
        if len(name) > MAX_NAME_CHARS:
            raise ExportError(f"the model's layer name {name[:40]!r}… is {len(name)} characters long; names of "
                              f"more than {MAX_NAME_CHARS} characters are not exported")


def _emit_merge(node, ctx, xs):
    """A merge (a Sequential's Merge layer, or a Graph's inputs=[...]) of the tensors `xs`;
    records its form under its key."""
    key = node.key
    y = emit_merge(ctx.g, xs, node.mode, node.concat_axis, key)
    form = _merge_form(node.mode, node.concat_axis, len(xs))
    if node.layer is not None:  # a Sequential's Merge layer
        ctx.forms[key] = (form, "a merge drops the masks (Keras 0.2.0's Merge has no output mask)")
        ctx.configs[key] = {"name": "Merge", "mode": node.mode, "concat_axis": node.concat_axis,
                            "branches": len(xs)}
    else:
        sources = [v[0] for v in node.inputs]
        ctx.forms[key] = (form, f"merges {', '.join(sources)}; a merge drops the masks")
        ctx.configs[key] = {"name": "merge", "mode": node.mode, "concat_axis": node.concat_axis, "inputs": sources}
    return y


def functional_dims(model, w=None):
    """([per-sample dims of each input], [of each output]) of a functional model (`w`: its
    walk): a time axis is dynamic ("time"; several inputs: "time_1", ...) unless some call
    needs the built length (then the built one); outputs' dynamic axes are "time" (or
    "out_time" after a convolution or pooling) with one input, unnamed with several."""
    w = w or walk(model)
    free = _functional_free_shapes(model, w)
    names = _time_names(len(model.input_names))
    ins = []
    for name, time in zip(model.input_names, names):
        shape = model.inputs[name][0]
        if free is not None and _has_time(model, name):
            shape = (None,) + shape[1:]
        ins.append(_named(shape, time))
    changes = any(hasattr(layer, "output_length") for layer in model.layers)
    time = (("out_time" if changes else "time") if len(names) == 1 else None)
    shapes = free or {(n, k, t): shape for (n, k), outs in model._shapes.items() for t, shape in enumerate(outs)}
    return ins, [_named(shapes[node.inputs[0]], time) for node in w.outputs]


def _merge_form(mode, concat_axis, n):
    if mode == "concat":
        return f"Concat(axis={concat_axis})"
    return {"sum": "Add", "mul": "Mul", "ave": "Add+Div"}[mode] + f" of {n}"


def emit_layer(layer, ctx, x, mask, key):
    """One layer through its registered emitter; records its ONNX form under `key`."""
    g = ctx.g
    kind = type(layer).__name__
    if kind not in EMITTERS:
        raise ExportError(f"layer {key} ({kind}) has no ONNX emitter; "
                          f"exportable layers: {', '.join(sorted(EMITTERS))}")
    before = len(g.nodes)
    ctx.key = key
    x, mask = EMITTERS[kind](layer, ctx, x, mask)
    if key not in ctx.forms:
        ops = sorted({n.op_type for n in g.nodes[before:]})
        ctx.forms[key] = ("+".join(ops) or "nothing (identity)", "")
    ctx.configs[key] = layer.get_config()
    return x, mask


def _name_output(g, tensor, name):
    """Make `tensor` the graph output `name`: its producer's output is renamed, or an
    Identity is added when the tensor is a graph input or already an output."""
    producers = [n for n in g.nodes if tensor in n.output]
    if not producers or tensor in {v.name for v in g.inputs} | {v.name for v in g.outputs} \
            or _read_in_subgraphs(g.nodes, tensor):  # a subgraph (an If branch) reads it by its name
        g.node("Identity", [tensor], f"{name}/Identity", output_names=[name])
        return
    for node in g.nodes:
        for i, out in enumerate(node.output):
            if out == tensor:
                node.output[i] = name
        for i, inp in enumerate(node.input):
            if inp == tensor:
                node.input[i] = name


def _read_in_subgraphs(nodes, tensor):
    """Whether a node inside a subgraph of `nodes` (at any depth) reads `tensor`."""
    for node in nodes:
        for attr in node.attribute:
            graphs = [attr.g] if attr.type == onnx.AttributeProto.GRAPH else \
                list(attr.graphs) if attr.type == onnx.AttributeProto.GRAPHS else []
            for sub in graphs:
                if any(tensor in inner.input for inner in sub.node) or _read_in_subgraphs(sub.node, tensor):
                    return True
    return False


# ---------------------------------------------------------------------------------------
# for people (rnn2onnx inspect)


def describe(model, plan=()):
    """Lines showing the model's structure: its inputs, branches or nodes, merges and
    outputs, with each layer's ONNX form when `plan` (rnn2onnx.plan's rows) is given."""
    forms = {key: form for key, form, _ in plan}
    w = walk(model)
    producers = w.producers()
    ports = model_inputs(model, w)
    lines = []

    def layer_text(node):
        form = forms.get(node.key)
        return f"{node.layer.name} ({type(node.layer).__name__}" + (f": {form})" if form else ")")

    def chain(value, indent):
        """The line of the Sequential (the model or a branch) whose output is `value`,
        after its Merge's lines when it starts with one."""
        parts, node = [], producers[value]
        while node.kind == LAYER:
            parts.insert(0, layer_text(node))
            node = producers[node.inputs[0]]
        if node.kind == MERGE:
            merge(node, indent)
            head = node.key[len(node.prefix):]  # the Merge's own name
        else:
            head = node.key  # the input it reads
        lines.append("  " * indent + " -> ".join([head] + parts))

    def merge(node, indent):
        form = forms.get(node.key)
        lines.append("  " * indent + f"{node.key}: Merge mode={node.mode}"
                     + (f" concat_axis={node.concat_axis}" if node.mode == "concat" else "")
                     + (f" ({form})" if form else "") + f", {len(node.inputs)} branches, masks dropped:")
        for i, value in enumerate(node.inputs):
            branch = producers[value]
            if branch.kind == MERGE and branch.key == f"{node.key}/branch_{i + 1}":  # a Merge given as a branch
                merge(branch, indent + 1)
            else:
                lines.append("  " * (indent + 1) + f"branch_{i + 1}:")
                chain(value, indent + 2)

    def dims(port, time):
        return ", ".join(str(d) for d in ["batch"] + onnx_dims(port.shape, time or "?"))

    def source(value):
        """What a Graph node or output reads: a name, or a merge of names."""
        node = producers[value]
        if node.kind != MERGE:
            return value[0]
        form = forms.get(node.key)
        axis = f", concat_axis={node.concat_axis}" if node.mode == "concat" else ""
        return (f"{node.mode}({', '.join(v[0] for v in node.inputs)}{axis})" + (f" [{form}]" if form else "")
                + ", masks dropped")

    if is_functional(model):
        in_dims, out_dims = functional_dims(model, w)
        for port, d in zip(ports, in_dims):
            lines.append(f"input {port.name}: {'int64 token ids' if port.ids else model.dtype} "
                         f"({', '.join(str(v) for v in ['batch'] + d)})")
        for node in w.nodes:
            form = forms.get(node.key)
            shared = f", call {node.call + 1} of {node.calls} (shared weights)" if node.calls > 1 else ""
            lines.append(f"call {node.key} ({type(node.layer).__name__}" + (f": {form}" if form else "")
                         + f"{shared}) <- " + ", ".join(_value_text(v) for v in node.inputs))
        for port, d, node in zip(model_outputs(model, w), out_dims, w.outputs):
            lines.append(f"output {port.name}: {'int64 token ids' if port.ids else model.dtype} "
                         f"({', '.join(str(v) for v in ['batch'] + [v if v is not None else '?' for v in d])}) "
                         f"<- {_value_text(node.inputs[0])}")
        return lines
    for port, time in zip(ports, _time_names(len(ports))):
        lines.append(f"input {port.name}: {'int64 token ids' if port.ids else model.dtype} ({dims(port, time)})")
    if is_graph(model):
        for node in w.nodes:
            if node.kind == LAYER:
                lines.append(f"node {layer_text(node)} <- {source(node.inputs[0])}")
        for port, node in zip(model_outputs(model, w), w.outputs):
            lines.append(f"output {port.name}: {model.dtype} ({dims(port, _output_time(len(ports)))}) <- "
                         f"{source(node.inputs[0])}")
        return lines
    chain(w.outputs[0].inputs[0], 0)
    for port in model_outputs(model, w):
        lines[-1] += f" -> {port.name}"
        lines.append(f"output {port.name}: {model.dtype} ({dims(port, _output_time(len(ports)))})")
    return lines


def _value_text(value):
    """A functional model's tensor as inspect shows it: name, name[call], name#tensor."""
    name, call, tensor = value
    return name + (f"[{call}]" if call else "") + (f"#{tensor}" if tensor else "")
