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

`emit_model` is the one builder path: every layer of every branch or node goes through
the same emitters (rnn2onnx/emitters), and every merge through `emit_merge`.
"""
from dataclasses import dataclass

import numpy as np
import onnx

from reference.containers import Graph as GraphModel
from reference.containers import Merge
from reference.functional import FunctionalModel

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


def _leaf_chains(node):
    """The Sequentials that read a model input, in the order predict takes the arrays."""
    if is_merge(node):
        for branch in node.layers:
            yield from _leaf_chains(branch)
    elif node.layers and is_merge(node.layers[0]):
        yield from _leaf_chains(node.layers[0])
    else:
        yield node


def chain_port(name, chain):
    """The input port of a Sequential that reads one input."""
    first = chain.layers[0]
    length = fixed_length(chain)
    if type(first).__name__ == "Embedding":
        return Port(name, (length,), ids=True, vocab=first.input_dim, length=length)
    masking = [layer for layer in chain.layers if type(layer).__name__ == "Masking"]
    return Port(name, tuple(chain.input_shape), mask_value=masking[0].mask_value if masking else None,
                length=length)


def _graph_port(model, name):
    shape, kind = model.inputs[name]
    readers = [node["layer"] for node in model.nodes.values() if name in node["sources"]]
    if kind == "int":  # token ids: valid for every Embedding that reads them
        return Port(name, (None,), ids=True, vocab=min(layer.input_dim for layer in readers))
    masking = [layer for layer in readers if type(layer).__name__ == "Masking"]
    return Port(name, tuple(shape), mask_value=masking[0].mask_value if masking else None)


def _functional_port(model, name, length):
    shape, _ = model.inputs[name]
    readers = model.readers(name)
    if model.takes_ids(name):  # token ids: valid for every Embedding that reads them
        return Port(name, shape, ids=True, vocab=min(layer.input_dim for layer in readers), length=length)
    masking = [layer for layer in readers if type(layer).__name__ == "Masking"]
    return Port(name, shape, mask_value=masking[0].mask_value if masking else None, length=length)


def model_inputs(model):
    """[Port] of the model's inputs, in the order its predict takes them."""
    if is_functional(model):
        free = _functional_free_shapes(model) is not None
        return [_functional_port(model, name, None if free else _input_length(model, name))
                for name in model.input_names]
    if is_graph(model):
        return [_graph_port(model, name) for name in model.input_order]
    if not model.layers or not is_merge(model.layers[0]):
        return [chain_port("input", model)]
    return [chain_port(f"input_{i + 1}", chain) for i, chain in enumerate(_leaf_chains(model))]


def model_outputs(model):
    """[Port] of the model's outputs, in the order of its outputs (a Graph's add_output order)."""
    if is_functional(model):  # an output that is an ids input as it is holds its token ids
        return [Port(name, tuple(shape), ids=ref[0] in model.inputs and model.takes_ids(ref[0]))
                for name, shape, ref in zip(model.output_names, model.output_shape, model.outputs)]
    if is_graph(model):  # an output that is an 'int' input as it is holds its token ids
        return [Port(name, tuple(shape), ids=_passes_ids(model, model.outputs[name]))
                for name, shape in model.output_shape.items()]
    return [Port("output", tuple(model.output_shape))]


def _passes_ids(model, spec):
    source = spec["sources"][0]
    return spec["mode"] is None and source in model.inputs and model.inputs[source][1] == "int"


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


def io_dims(model):
    """Per-sample dims of the graph's input and output ("time" for a dynamic axis).

    The input's time axis is dynamic, even when the model was built with an input_length,
    as long as every layer takes the same per-sample shape whatever the sequence length
    (only a sequence's first axis, time, may change). A layer that needs the length
    fixes it to the built one: Flatten of a sequence, Reshape of one (`needs_length`),
    Permute moving time into the features. Output axes that follow the input's time are
    "time"; the others (RepeatVector's n, Reshape's dims) are concrete."""
    layers = model.layers
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


def _functional_free_shapes(model):
    """{(layer, node): [per-sample output shapes]} of a functional model whose inputs' time
    axes are left free, or None when some call needs the built sequence length (its
    per-sample shapes depend on it: a Flatten, Reshape or Permute of a sequence, per-sample
    weights)."""
    shapes = {}
    for name in model.input_names:
        shape = model.inputs[name][0]
        shapes[(name, 0)] = [((None,) + shape[1:]) if _has_time(model, name) else shape]
    try:
        for node in model.nodes:
            layer = model._layers[node["layer"]]
            ins = [shapes[(n, k)][t] for n, k, t in node["inputs"]]
            built = list(layer.input_shape) if getattr(layer, "nb_inputs", 1) != 1 else [layer.input_shape]
            for got, had in zip(ins, built):
                had = tuple(had)
                if len(got) != len(had) or any(s != h for i, (s, h) in enumerate(zip(got, had))
                                               if not (i == 0 and s is None)):
                    return None
                if getattr(layer, "needs_length", False) and None in got:
                    return None
            out = layer.output_shape(ins if getattr(layer, "nb_inputs", 1) != 1 else ins[0])
            shapes[(node["layer"], node["index"])] = [tuple(o) for o in out] \
                if getattr(layer, "nb_outputs", 1) > 1 else [tuple(out)]
    except (ConfigError, TypeError, ValueError, IndexError):
        return None
    return shapes


def fixed_length(model):
    """The one sequence length the model takes (its exported input's time axis is
    concrete: a Flatten, Reshape or Permute of the sequence, per-sample weights), or None."""
    if is_functional(model):
        return None
    if not all(layer.built for layer in model.layers) or is_merge(model.layers[0]):
        return None
    input_dims, _ = io_dims(model)
    has_time = type(model.layers[0]).__name__ == "Embedding" or len(input_dims) >= 2
    return input_dims[0] if has_time and isinstance(input_dims[0], int) else None


def _named(shape, time="time"):
    return [time if s is None else int(s) for s in shape]


# ---------------------------------------------------------------------------------------
# the walk


def emit_model(model, ctx):
    """Add the model's inputs, every layer and merge, and its outputs to `ctx.g`."""
    g = ctx.g
    ins, outs = model_inputs(model), model_outputs(model)
    clash = {p.name for p in ins} & {p.name for p in outs}
    if clash:
        raise ExportError(f"the model has an input and an output both named {sorted(clash)[0]!r}; "
                          "an ONNX graph needs distinct names")
    g.root.used_names.update(p.name for p in ins + outs)  # no node may take these names
    chain = not is_graph(model) and not is_functional(model) and not is_merge(model.layers[0])
    in_dims, out_dims = io_dims(model) if chain else (None, None)  # a plain Sequential: exact dims
    per_port = functional_dims(model) if is_functional(model) else None
    tensors = []
    for index, (port, time) in enumerate(zip(ins, _time_names(len(ins)))):
        elem = onnx.TensorProto.INT64 if port.ids else None
        dims = per_port[0][index] if per_port else in_dims or onnx_dims(port.shape, time)
        dims = fixed_dims(dims, ctx.fixed[port.name]) if ctx.fixed else ["batch"] + dims
        g.inputs.append(onnx.helper.make_tensor_value_info(port.name, elem or g.elem, dims))
        tensors.append(port.name)
    if is_graph(model):
        results = _emit_graph(model, ctx, dict(zip(model.input_order, tensors)))
    elif is_functional(model):
        results = _emit_functional(model, ctx, dict(zip(model.input_names, tensors)))
        out_dims = None
    else:
        results = [_emit_chain(model, ctx, iter(tensors), "")[0]]
    renamed = {}  # tensor -> the output name it took (one tensor may be several outputs)
    for index, (port, tensor) in enumerate(zip(outs, results)):
        _name_output(g, renamed.get(tensor, tensor), port.name)
        renamed.setdefault(tensor, port.name)
        dims = per_port[1][index] if per_port else out_dims or onnx_dims(port.shape, _output_time(len(ins)))
        g.add_output(port.name, ["batch"] + dims, elem=onnx.TensorProto.INT64 if port.ids else None)


def _emit_chain(seq, ctx, inputs, prefix):
    """Emit a Sequential (a branch or the model) reading the next of `inputs`; its first
    layer may be a Merge. Returns (output tensor, mask)."""
    layers = seq.layers
    if is_merge(layers[0]):
        x, mask = _emit_merge_layer(layers[0], ctx, inputs, prefix + layers[0].name), None
        layers = layers[1:]
    else:
        x, mask = next(inputs), None
    for layer in layers:
        x, mask = emit_layer(layer, ctx, x, mask, prefix + layer.name)
    return x, mask


def _emit_merge_layer(merge, ctx, inputs, key):
    outs = []
    for i, branch in enumerate(merge.layers):
        where = f"{key}/branch_{i + 1}"
        if is_merge(branch):  # a Merge given directly as a branch has no name of its own
            outs.append(_emit_merge_layer(branch, ctx, inputs, where))
        else:
            outs.append(_emit_chain(branch, ctx, inputs, where + "/")[0])
    y = emit_merge(ctx.g, outs, merge.mode, merge.concat_axis, key)
    ctx.forms[key] = (_merge_form(merge.mode, merge.concat_axis, len(outs)),
                      "a merge drops the masks (Keras 0.2.0's Merge has no output mask)")
    ctx.configs[key] = {"name": "Merge", "mode": merge.mode, "concat_axis": merge.concat_axis,
                        "branches": len(outs)}
    return y


def _emit_graph(model, ctx, tensors):
    """The Graph's nodes in add_node order, then its outputs; [output tensors]."""
    values = {name: (tensor, None) for name, tensor in tensors.items()}  # name -> (tensor, mask)
    for name, node in model.nodes.items():
        x, mask = _emit_sources(node, values, ctx, f"{name}/merge")
        values[name] = emit_layer(node["layer"], ctx, x, mask, name)
    return [_emit_sources(model.outputs[name], values, ctx, f"output {name}/merge")[0] for name in model.output_order]


def functional_dims(model):
    """([per-sample dims of each input], [of each output]) of a functional model: a time
    axis is dynamic ("time"; several inputs: "time_1", ...) unless some call needs the
    built length (then the built one); outputs' dynamic axes are "time" (or "out_time"
    after a convolution or pooling) with one input, unnamed with several."""
    free = _functional_free_shapes(model)
    names = _time_names(len(model.input_names))
    ins = []
    for name, time in zip(model.input_names, names):
        shape = model.inputs[name][0]
        if free is not None and _has_time(model, name):
            shape = (None,) + shape[1:]
        ins.append(_named(shape, time))
    changes = any(hasattr(layer, "output_length") for layer in model.layers)
    time = (("out_time" if changes else "time") if len(names) == 1 else None)
    shapes = free or {key: model._shapes[key] for key in model._shapes}
    return ins, [_named(shapes[(n, k)][t], time) for n, k, t in model.outputs]


def _emit_functional(model, ctx, tensors):
    """The calls in call order; [output tensors] in output order. A call's key (its layer
    name; a later call of a shared layer: name/call_k) names its ONNX nodes and its row in
    the plan."""
    from .exporter import MAX_NAME_CHARS

    for name in model.input_names + [layer.name for layer in model.layers]:
        if len(name) > MAX_NAME_CHARS:
            raise ExportError(f"the model's layer name {name[:40]!r}… is {len(name)} characters long; names of "
                              f"more than {MAX_NAME_CHARS} characters are not exported")
    values = {(name, 0): ([tensor], [None]) for name, tensor in tensors.items()}  # -> (tensors, masks)
    for node in model.nodes:
        layer = model._layers[node["layer"]]
        xs = [values[(n, k)][0][t] for n, k, t in node["inputs"]]
        ms = [values[(n, k)][1][t] for n, k, t in node["inputs"]]
        multi_in = getattr(layer, "nb_inputs", 1) != 1
        key = _call_key(node)
        # a recurrent layer given initial states reads [input, states...] with its input's mask
        x_in = xs if multi_in or node.get("states") else xs[0]
        y, mask = emit_layer(layer, ctx, x_in, ms if multi_in else ms[0], key)
        if getattr(layer, "nb_outputs", 1) > 1:
            ys, masks = list(y), list(mask) if mask is not None else [None] * len(y)
        else:
            ys, masks = [y], [mask]
        values[(node["layer"], node["index"])] = (ys, masks)
    return [values[(n, k)][0][t] for n, k, t in model.outputs]


def _call_key(node):
    return node["layer"] + (f"/call_{node['index']}" if node["index"] else "")


def _emit_sources(spec, values, ctx, key):
    """(tensor, mask) a Graph node or output reads: its one source as it is (mask kept),
    or the merge of several (no mask)."""
    if spec["mode"] is None:
        return values[spec["sources"][0]]
    y = emit_merge(ctx.g, [values[n][0] for n in spec["sources"]], spec["mode"], spec["concat_axis"], key)
    ctx.forms[key] = (_merge_form(spec["mode"], spec["concat_axis"], len(spec["sources"])),
                      f"merges {', '.join(spec['sources'])}; a merge drops the masks")
    ctx.configs[key] = {"name": "merge", "mode": spec["mode"], "concat_axis": spec["concat_axis"],
                        "inputs": list(spec["sources"])}
    return y, None


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
    forms = {key: (form, reason) for key, form, reason in plan}
    ins = iter(model_inputs(model))
    lines = []

    def layer_text(layer, key):
        form = forms.get(key, (None,))[0]
        return f"{layer.name} ({type(layer).__name__}" + (f": {form})" if form else ")")

    def chain(seq, prefix, indent):
        layers = seq.layers
        if is_merge(layers[0]):
            merge(layers[0], prefix + layers[0].name, indent)
            parts, layers = [layers[0].name], layers[1:]
        else:
            port = next(ins)
            parts = [port.name]
        parts += [layer_text(layer, prefix + layer.name) for layer in layers]
        lines.append("  " * indent + " -> ".join(parts))

    def merge(m, key, indent):
        form = forms.get(key, (None,))[0]
        lines.append("  " * indent + f"{key}: Merge mode={m.mode}"
                     + (f" concat_axis={m.concat_axis}" if m.mode == "concat" else "")
                     + (f" ({form})" if form else "") + f", {len(m.layers)} branches, masks dropped:")
        for i, branch in enumerate(m.layers):
            where = f"{key}/branch_{i + 1}"
            if is_merge(branch):
                merge(branch, where, indent + 1)
            else:
                lines.append("  " * (indent + 1) + f"branch_{i + 1}:")
                chain(branch, where + "/", indent + 2)

    def dims(port, time):
        return ", ".join(str(d) for d in ["batch"] + onnx_dims(port.shape, time or "?"))

    def source(spec, key):
        if spec["mode"] is None:
            return spec["sources"][0]
        form = forms.get(key, (None,))[0]
        axis = f", concat_axis={spec['concat_axis']}" if spec["mode"] == "concat" else ""
        return (f"{spec['mode']}({', '.join(spec['sources'])}{axis})" + (f" [{form}]" if form else "")
                + ", masks dropped")

    ports = model_inputs(model)
    if is_functional(model):
        in_dims, out_dims = functional_dims(model)
        for port, d in zip(ports, in_dims):
            lines.append(f"input {port.name}: {'int64 token ids' if port.ids else model.dtype} "
                         f"({', '.join(str(v) for v in ['batch'] + d)})")
        for node in model.nodes:
            layer = model._layers[node["layer"]]
            key = _call_key(node)
            form = forms.get(key, (None,))[0]
            shared = f", call {node['index'] + 1} of {model.calls(node['layer'])} (shared weights)" \
                if model.calls(node["layer"]) > 1 else ""
            sources = ", ".join(n + (f"[{k}]" if k else "") + (f"#{t}" if t else "") for n, k, t in node["inputs"])
            lines.append(f"call {key} ({type(layer).__name__}" + (f": {form}" if form else "") + f"{shared}) <- "
                         + sources)
        for port, d, (n, k, t) in zip(model_outputs(model), out_dims, model.outputs):
            src = n + (f"[{k}]" if k else "") + (f"#{t}" if t else "")
            lines.append(f"output {port.name}: {'int64 token ids' if port.ids else model.dtype} "
                         f"({', '.join(str(v) for v in ['batch'] + [v if v is not None else '?' for v in d])}) "
                         f"<- {src}")
        return lines
    for port, time in zip(ports, _time_names(len(ports))):
        lines.append(f"input {port.name}: {'int64 token ids' if port.ids else model.dtype} ({dims(port, time)})")
    if is_graph(model):
        for name, node in model.nodes.items():
            lines.append(f"node {layer_text(node['layer'], name)} <- {source(node, f'{name}/merge')}")
        for port in model_outputs(model):
            spec = model.outputs[port.name]
            lines.append(f"output {port.name}: {model.dtype} ({dims(port, _output_time(len(ports)))}) <- "
                         f"{source(spec, f'output {port.name}/merge')}")
        return lines
    chain(model, "", 0)
    for port in model_outputs(model):
        lines[-1] += f" -> {port.name}"
        lines.append(f"output {port.name}: {model.dtype} ({dims(port, _output_time(len(ports)))})")
    return lines
