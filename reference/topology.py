"""A model's topology, walked once: its inputs, every layer call and merge in the order the
model evaluates them, and its outputs, as one kind of record (`Node`) whatever the model.
The exporter's emission, `rnn2onnx inspect` and the exported I/O contract
(rnn2onnx/structure.py) read the model through it, and so do the Graph's and the
functional model's forward passes.

A value (a tensor with its mask) is named as Keras 1.x/2.x names a tensor: (name, call
index, tensor index). A model input is (input name, 0, 0); a layer call's outputs are
(its key, 0, t) in a Sequential or a Graph, (layer name, call index, t) in a functional
model; a merge's output is (its key, None, 0): no call of a layer, so never taken for
the output of a Graph node whatever names the Graph has (a node may be called "a/merge").

- Sequential: one input `input`, its layers in order, one output `output`. A Sequential
  whose first layer is a Merge takes one input per leaf branch, `input_1`, `input_2`, ...
  in the order predict takes the arrays (a nested Merge's inputs flattened in place).
  Each branch is walked before its Merge; a layer of branch i of merge key K has the key
  "K/branch_i/<layer name>" (its `prefix` "K/branch_i/"), a Merge given directly as a
  branch the key "K/branch_i". A Merge drops the masks (0.2.0's Merge.get_output_mask).
- Graph: its inputs (add_input order), its nodes (add_node order), then its outputs
  (add_output order). A node or output fed by `inputs=[...]` reads a merge of them, walked
  just before it: key "<node>/merge", or "output <name>/merge"; the merge drops the masks.
- Functional model (reference/functional.py): its inputs, its calls in call order (key:
  the layer name; a later call of a shared layer "<name>/call_k"), and its outputs named
  as `output_names` says. A merge layer is a layer call of several values.
"""
import itertools
from dataclasses import dataclass

from .containers import Graph, Merge
from .functional import FunctionalModel

INPUT, LAYER, MERGE, OUTPUT = "input", "layer", "merge", "output"


@dataclass(frozen=True, slots=True)  # a model keeps its walk (Model.walked): records are shared, never changed
class Node:
    """One step of the walk.

    kind: "input" (a model input: `outputs` holds its value), "layer" (a call of `layer`),
    "merge" (a 0.2.0 merge of `inputs`: a Sequential's Merge, whose `layer` it is, or a
    Graph's `inputs=[...]`, whose `layer` is None), "output" (a model output: `inputs`
    holds its value). key: the name it goes by (an input's or output's name; a call's or
    merge's name in the exported file and the plan). prefix: the Sequential branch it
    belongs to ("" outside branches); an input's prefix is the branch reading it."""

    kind: str
    key: str
    layer: object = None
    inputs: tuple = ()
    outputs: tuple = ()
    prefix: str = ""
    mode: str = None
    concat_axis: int = None
    states: int = 0   # a recurrent call given initial states: the values after its input
    call: int = 0     # which call of its layer, from 0 (a shared layer has several)
    calls: int = 1    # how many calls its layer has

    def arguments(self, values):
        """(x, mask) the node takes, from {value: (tensor, mask)}: a merge's [tensors] and
        no mask; a layer of several inputs (a merge layer) [tensors] and [masks]; a
        recurrent layer given initial states [input, states...] and its input's mask; any
        other layer its one tensor and mask."""
        xs = [values[v][0] for v in self.inputs]
        if self.kind == MERGE:
            return xs, None
        ms = [values[v][1] for v in self.inputs]
        if getattr(self.layer, "nb_inputs", 1) != 1:
            return xs, ms
        return (xs if self.states else xs[0]), ms[0]

    def results(self, y, mask):
        """{value: (tensor, mask)} of what the node made: a layer of several outputs gives
        a list of tensors and a list of masks (or None: none masked)."""
        if len(self.outputs) == 1:
            return {self.outputs[0]: (y, mask)}
        masks = list(mask) if mask is not None else [None] * len(y)
        return dict(zip(self.outputs, zip(list(y), masks)))


@dataclass(frozen=True)
class Walk:
    """[Node] of the model's inputs (in predict's order), its layer calls and merges (in
    evaluation order) and its outputs (in output order)."""

    inputs: list
    nodes: list
    outputs: list

    def __iter__(self):
        yield from self.inputs
        yield from self.nodes
        yield from self.outputs

    def producers(self):
        """{value: the input, layer or merge Node that makes it}."""
        return {v: node for node in self.inputs + self.nodes for v in node.outputs}

    def readers(self, value):
        """The layers reading `value`, each once, in evaluation order; a 0.2.0 merge is
        looked through to the layer reading it."""
        found, seen = [], set()
        for node in self.nodes:
            if value not in node.inputs:
                continue
            layers = [node.layer] if node.kind == LAYER else \
                [n.layer for n in self.nodes if n.kind == LAYER and node.outputs[0] in n.inputs]
            for layer in layers:
                if id(layer) not in seen:
                    seen.add(id(layer))
                    found.append(layer)
        return found


def value(name, call=0, tensor=0):
    """The value a model input or a layer call makes."""
    return (name, call, tensor)


def merged(key):
    """The value a merge makes."""
    return (key, None, 0)


def walk(model):
    """The model's Walk (see the module)."""
    if isinstance(model, FunctionalModel):
        return _walk_functional(model)
    if isinstance(model, Graph):
        return _walk_graph(model)
    return _walk_sequential(model)


def _walk_sequential(model):
    inputs, nodes = [], []
    merge_first = bool(model.layers) and isinstance(model.layers[0], Merge)
    names = (f"input_{i}" for i in itertools.count(1)) if merge_first else iter(["input"])

    def chain(seq, prefix):
        layers = seq.layers
        if layers and isinstance(layers[0], Merge):
            x = merge(layers[0], prefix + layers[0].name, prefix)
            layers = layers[1:]
        else:
            inputs.append(_input(next(names), prefix))
            x = inputs[-1].outputs[0]
        for layer in layers:
            key = prefix + layer.name
            nodes.append(Node(LAYER, key, layer, inputs=(x,), outputs=(value(key),), prefix=prefix))
            x = value(key)
        return x

    def merge(m, key, prefix):
        xs = []
        for i, branch in enumerate(m.layers):
            where = f"{key}/branch_{i + 1}"
            xs.append(merge(branch, where, key + "/") if isinstance(branch, Merge) else chain(branch, where + "/"))
        nodes.append(Node(MERGE, key, m, inputs=tuple(xs), outputs=(merged(key),), prefix=prefix,
                          mode=m.mode, concat_axis=m.concat_axis))
        return merged(key)

    y = chain(model, "")
    return Walk(inputs, nodes, [Node(OUTPUT, "output", inputs=(y,))])


def _input(name, prefix=""):
    return Node(INPUT, name, outputs=(value(name),), prefix=prefix)


def _walk_graph(model):
    nodes = []

    def sources(spec, key):
        if spec["mode"] is None:
            return value(spec["sources"][0])
        nodes.append(Node(MERGE, key, inputs=tuple(value(n) for n in spec["sources"]), outputs=(merged(key),),
                          mode=spec["mode"], concat_axis=spec["concat_axis"]))
        return merged(key)

    for name, spec in model.nodes.items():
        x = sources(spec, f"{name}/merge")
        nodes.append(Node(LAYER, name, spec["layer"], inputs=(x,), outputs=(value(name),)))
    ys = [sources(model.outputs[name], f"output {name}/merge") for name in model.output_order]
    return Walk([_input(name) for name in model.input_order], nodes,
                [Node(OUTPUT, name, inputs=(y,)) for name, y in zip(model.output_order, ys)])


def _walk_functional(model):
    nodes = []
    for call in model.nodes:
        name, index = call["layer"], call["index"]
        nodes.append(Node(LAYER, name + (f"/call_{index}" if index else ""), model._layers[name],
                          inputs=tuple(call["inputs"]),
                          outputs=tuple(value(name, index, t) for t in range(len(call["shapes"]))),
                          states=call.get("states", 0), call=index, calls=model.calls(name)))
    return Walk([_input(name) for name in model.input_names], nodes,
                [Node(OUTPUT, name, inputs=(tuple(ref),)) for name, ref in zip(model.output_names, model.outputs)])
