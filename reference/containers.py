"""Keras 0.2.0's containers: `Merge` (keras/layers/core.py) as the first layer of a
Sequential, and the `Graph` model (keras/layers/containers.py, keras/models.py).

Merge: each branch is a Sequential (or a Merge) with its own input(s); the model takes one
array per leaf branch, in branch order (a nested Merge's inputs flattened in place).
The branches' outputs are summed, multiplied, averaged or concatenated; the mask is
dropped (0.2.0's `Merge.get_output_mask` is None). Its weights are the branches'
`get_weights()` in branch order, and the HDF5 file stores them as one group.

Graph: see the class. Both write their 0.2.0 configs (`get_config`; reference/build.py
builds them from files); both share one merge (merged_shape, merge_outputs,
split_merge_gradient).
"""
import numpy as np

from .dtypes import check_dtype
from .errors import ConfigError, InputError
from .layers import Layer
from .keras_files import keras02_writer
from .models import (Model, Sequential, backward_layer, check_name, forward_layer, is_input_shape, register_container,
                     shape_text)
from .untrusted import quote, table
from .validators import input_array, positive_int

MERGE_MODES = ("sum", "mul", "ave", "concat")


def check_merge(mode, concat_axis):
    """(mode, concat_axis) of a merge, or a ConfigError naming what is accepted."""
    if mode not in MERGE_MODES:
        raise ConfigError(f"unknown merge mode {quote(mode)}; accepted: {', '.join(MERGE_MODES)}")
    if isinstance(concat_axis, bool) or not isinstance(concat_axis, (int, np.integer)) or concat_axis == 0:
        raise ConfigError(f"concat_axis must be a non-zero integer (axis 0 is the batch), got {quote(concat_axis)}")
    return mode, int(concat_axis)


def merged_shape(shapes, mode, concat_axis, what="inputs"):
    """The per-sample shape of merging outputs of per-sample `shapes` (None: unknown size),
    or a ConfigError saying why they cannot be merged."""
    shapes = [tuple(s) for s in shapes]
    if mode != "concat":
        if any(s != shapes[0] for s in shapes):
            raise ConfigError(f"merge mode {mode!r} needs {what} of one output shape, got "
                              f"{', '.join(str(s) for s in shapes)}")
        return shapes[0]
    rank = len(shapes[0])
    axis = concat_axis - 1 if concat_axis > 0 else concat_axis  # per sample
    if not -rank <= axis < rank or any(len(s) != rank for s in shapes):
        raise ConfigError(f"concat_axis {concat_axis} does not fit the merged outputs "
                          f"{', '.join(str(s) for s in shapes)}")
    axis %= rank
    for s in shapes:
        if s[:axis] + s[axis + 1:] != shapes[0][:axis] + shapes[0][axis + 1:]:
            raise ConfigError(f"concat on axis {concat_axis} needs outputs equal on every other axis, got "
                              f"{', '.join(str(s) for s in shapes)}")
    sizes = [s[axis] for s in shapes]
    total = None if any(v is None for v in sizes) else sum(sizes)
    return shapes[0][:axis] + (total,) + shapes[0][axis + 1:]


def merge_outputs(outs, mode, concat_axis):
    """0.2.0's Merge.get_output: sum, product, mean or concatenation of `outs`."""
    if mode == "concat":
        return np.concatenate(outs, axis=concat_axis)
    Y = outs[0]
    for o in outs[1:]:
        Y = Y * o if mode == "mul" else Y + o
    return Y / len(outs) if mode == "ave" else Y


def split_merge_gradient(dY, outs, mode, concat_axis):
    """The gradient reaching each of `outs` from dY, the gradient of merge_outputs(outs)."""
    if mode == "concat":
        edges = np.cumsum([o.shape[concat_axis] for o in outs])[:-1]
        return np.split(dY, edges, axis=concat_axis)
    if mode == "mul":
        parts = []
        for i in range(len(outs)):
            g = dY
            for j, o in enumerate(outs):
                if j != i:
                    g = g * o
            parts.append(g)
        return parts
    g = dY / len(outs) if mode == "ave" else dY
    return [g] * len(outs)




@register_container
class Merge(Layer):
    def __init__(self, layers, mode="sum", concat_axis=-1):
        super().__init__()
        layers = list(layers) if isinstance(layers, (list, tuple)) else layers
        if not isinstance(layers, list) or len(layers) < 2:
            raise ConfigError("a Merge needs a list of two or more branches (Sequentials or Merges), "
                              f"got {quote(layers)}")
        for i, branch in enumerate(layers):
            if not isinstance(branch, (Sequential, Merge)):
                raise ConfigError(f"Merge branch {i}: a branch is a Sequential or a Merge, got {type(branch).__name__}")
        mode, concat_axis = check_merge(mode, concat_axis)
        self.layers, self.mode, self.concat_axis = layers, mode, concat_axis
        if self.built:
            self.output_shape(None)  # branches that cannot be merged: refused now

    # -- structure ----------------------------------------------------------------------
    @property
    def built(self):
        return all(all(layer.built for layer in b.layers) if isinstance(b, Sequential) else b.built
                   for b in self.layers)

    @built.setter
    def built(self, value):  # Layer.__init__ sets it; a Merge is built when its branches are
        pass

    @staticmethod
    def _nb_inputs(branch):
        if isinstance(branch, Merge):
            return branch.nb_inputs
        first = branch.layers[0] if branch.layers else None
        return first.nb_inputs if isinstance(first, Merge) else 1

    @property
    def nb_inputs(self):
        """How many arrays the model takes (one per leaf branch)."""
        return sum(self._nb_inputs(b) for b in self.layers)

    def _split(self, items, counts):
        out, start = [], 0
        for n in counts:
            out.append(items[start:start + n])
            start += n
        return out

    @property
    def input_shape(self):
        return tuple(b.input_shape for b in self.layers)

    @input_shape.setter
    def input_shape(self, value):
        pass

    def _branch_output_shape(self, branch):
        return branch.output_shape(None) if isinstance(branch, Merge) else branch.output_shape

    def output_shape(self, input_shape):
        return merged_shape([self._branch_output_shape(b) for b in self.layers], self.mode, self.concat_axis,
                            "branches")

    # -- weights ------------------------------------------------------------------------
    def _branch_layers(self):
        for b in self.layers:
            yield from (b._branch_layers() if isinstance(b, Merge) else b.layers)

    def param_specs(self, input_shape):
        return [spec for layer in self._branch_layers() for spec in layer.param_specs(layer.input_shape)]

    @property
    def weight_names(self):
        return [name for layer in self._branch_layers() for name in layer.weight_names]

    def get_weights(self):
        return [w for b in self.layers for w in b.get_weights()]

    def set_weights(self, weights):
        weights = list(weights)
        counts = [len(b.weight_names) if isinstance(b, Merge) else sum(len(l.weight_names) for l in b.layers)
                  for b in self.layers]
        if len(weights) != sum(counts):
            raise ConfigError(f"the Merge's branches have {sum(counts)} weight arrays ({counts} per branch), "
                              f"got {len(weights)}")
        for i, (b, ws) in enumerate(zip(self.layers, self._split(weights, counts))):
            try:
                b.set_weights(ws)
            except ConfigError as exc:
                raise ConfigError(f"Merge branch {i}: {exc}") from None

    def count_params(self):
        return sum(b.count_params() for b in self.layers)

    def set_dtype(self, dtype):
        self.dtype = check_dtype(dtype)
        for b in self.layers:
            b.set_dtype(self.dtype) if isinstance(b, Merge) else b.set_dtype(self.dtype, b.dtype_from)

    def build(self, input_shape, dtype, rng, initialise=True):
        raise ConfigError("a Merge's branches must declare their input shapes (input_shape or input_dim "
                          "on each branch's first layer)")

    # -- Keras 0.2.0 configs -------------------------------------------------------------
    def get_config(self):
        """0.2.0's Merge.get_config: its branches' configs in order, mode, concat_axis."""
        return {"name": "Merge", "layers": [b.get_config() for b in self.layers], "mode": self.mode,
                "concat_axis": self.concat_axis}

    # -- computation --------------------------------------------------------------------
    def check_inputs(self, Xs):
        """The model's inputs, one array per leaf branch, each checked by its branch."""
        if not isinstance(Xs, (list, tuple)) or len(Xs) != self.nb_inputs:
            got = f"{len(Xs)}" if isinstance(Xs, (list, tuple)) else f"one {type(Xs).__name__}"
            raise InputError(f"the model starts with a Merge and takes a list of {self.nb_inputs} arrays "
                             f"(one per branch, in branch order), got {got}")
        parts = self._split(list(Xs), [self._nb_inputs(b) for b in self.layers])
        checked = []
        for i, (b, xs) in enumerate(zip(self.layers, parts)):
            try:
                if isinstance(b, Merge):
                    checked += b.check_inputs(xs)
                elif isinstance(b.layers[0], Merge):
                    checked += b.layers[0].check_inputs(xs)
                else:
                    checked.append(b.check_input(xs[0]))
            except InputError as exc:
                raise InputError(f"Merge branch {i}: {exc}") from None
        sizes = {len(x) for x in checked}
        if len(sizes) != 1:
            raise InputError(f"the Merge's inputs must have one batch size, got {sorted(sizes)}")
        return checked

    def forward(self, X, mask=None, train=False, rng=None):
        parts = self._split(list(X), [self._nb_inputs(b) for b in self.layers])
        outs = []
        for b, xs in zip(self.layers, parts):
            if isinstance(b, Merge):
                outs.append(b.forward(xs, train=train))
            else:
                outs.append(b.forward(xs if isinstance(b.layers[0], Merge) else xs[0], train=train)[0])
        self._outs = outs
        return merge_outputs(outs, self.mode, self.concat_axis)

    def backward(self, dY):
        """(None, gradients of every branch weight): a Merge is the model's first layer."""
        parts = split_merge_gradient(dY, self._outs, self.mode, self.concat_axis)
        grads = []
        for b, g in zip(self.layers, parts):
            grads += b.backward(g)[1] if isinstance(b, Merge) else b.backward(g)
        return None, grads


# ---------------------------------------------------------------------------------------
# Graph (keras/layers/containers.py + keras/models.py Graph at 0.2.0)
# ---------------------------------------------------------------------------------------
INPUT_DTYPES = ("float", "int")



@register_container
class Graph(Model):
    """Keras 0.2.0's Graph model: named inputs, nodes (one layer each, fed by one input
    or node, or by a merge of several) and named outputs.

    A node with one `input` receives that input's mask; a node fed by `inputs=[...]` gets
    a merge of them, hence no mask (0.2.0's Merge drops masks); graph inputs carry none.
    Weights are the nodes' weights in add_node order. `predict({name: X})` returns
    {output name: Y} in add_output order.
    """

    def __init__(self, dtype="float32", seed=None, initialise=True):
        super().__init__(dtype, seed, initialise)
        self.namespace = set()
        self.inputs, self.input_order, self.input_config = {}, [], []
        self.nodes, self.node_config = {}, []
        self.outputs, self.output_order, self.output_config = {}, [], []
        self._shapes = {}  # input or node name -> per-sample output shape

    # -- construction -------------------------------------------------------------------
    def add_input(self, name, input_shape, dtype="float"):
        self._walk = None  # its structure changes: walk it again
        check_name(name, "a Graph input")
        if name in self.namespace:
            raise ConfigError(f"Graph: duplicate name {quote(name)}: an input or node already has it")
        if not is_input_shape(input_shape):
            raise ConfigError(f"Graph input {quote(name)}: input_shape must be a non-empty tuple of positive "
                              f"integers (or None), got {quote(input_shape)}")
        if dtype not in INPUT_DTYPES:
            raise ConfigError(f"Graph input {quote(name)}: unknown dtype {quote(dtype)}; accepted: "
                              f"{', '.join(INPUT_DTYPES)}")
        shape = tuple(None if s is None else int(s) for s in input_shape)
        if dtype == "int" and len(shape) != 1:
            raise ConfigError(f"Graph input {quote(name)}: dtype 'int' (token ids for an Embedding) needs a "
                              f"shape of one axis (time), got {shape}")
        self.namespace.add(name)
        self.input_order.append(name)
        self.inputs[name] = (shape, dtype)
        self._shapes[name] = shape
        self.input_config.append({"name": name, "input_shape": shape, "dtype": dtype})

    def _sources(self, owner, input, inputs, merge_mode, concat_axis, nodes_only=False):
        """(names feeding `owner`, merge mode or None, concat axis, their merged shape)."""
        if input and inputs:
            raise ConfigError(f"{owner}: give input or inputs, not both")
        if not input and not inputs:
            raise ConfigError(f"{owner}: no input given (input='name' or inputs=['a', 'b'])")
        names = [input] if input else list(inputs) if isinstance(inputs, (list, tuple)) else None
        if names is None:
            raise ConfigError(f"{owner}: inputs must be a list of names, got {quote(inputs)}")
        if inputs and len(names) < 2:
            raise ConfigError(f"{owner}: inputs=[...] merges two or more names, got {quote(names)}")
        for n in names:
            known = self.nodes if nodes_only and inputs else self._shapes
            if not isinstance(n, str) or n not in known:
                accepted = list(self.nodes) if nodes_only and inputs else self.input_order + list(self.nodes)
                raise ConfigError(f"{owner}: unknown {'node' if nodes_only and inputs else 'input or node'} "
                                  f"{quote(n)}; known so far: {', '.join(accepted) or 'none'}")
        if not inputs:
            return names, None, -1, self._shapes[input]
        mode, axis = check_merge(merge_mode, concat_axis)
        try:
            shape = merged_shape([self._shapes[n] for n in names], mode, axis)
        except ConfigError as exc:
            raise ConfigError(f"{owner}: cannot merge {', '.join(names)}: {exc}") from None
        return names, mode, axis, shape

    def add_node(self, layer, name, input=None, inputs=[], merge_mode="concat", concat_axis=-1,
                 create_output=False):
        self._walk = None  # its structure changes: walk it again
        check_name(name, "a Graph node")
        owner = f"Graph node {quote(name)}"
        if not isinstance(layer, Layer) or isinstance(layer, Merge):
            raise ConfigError(f"{owner}: a node holds one layer, got {type(layer).__name__}")
        if name in self.namespace:
            raise ConfigError(f"Graph: duplicate name {quote(name)}: an input or node already has it")
        for other, node in self.nodes.items():
            if node["layer"] is layer:
                raise ConfigError(f"{owner}: this layer object is already node {quote(other)}; "
                                  "give each node its own layer")
        if create_output and name in self.outputs:
            raise ConfigError(f"{owner}: create_output=True, but an output is already called {quote(name)}")
        names, mode, axis, shape = self._sources(owner, input, inputs, merge_mode, concat_axis)
        if any(n in self.inputs and self.inputs[n][1] == "int" for n in names) and not hasattr(layer, "mask_zero"):
            raise ConfigError(f"{owner}: an 'int' input holds token ids and feeds an Embedding only")
        declared = layer.declared_input_shape
        if declared is not None and not hasattr(layer, "mask_zero") and declared[-1] is not None \
                and declared[-1] != shape[-1]:
            raise ConfigError(f"{owner}: the layer declares input width {declared[-1]}, but its input "
                              f"outputs width {shape[-1]}")
        try:
            if not layer.built:
                layer.build(shape, self.dtype, self.rng, self.initialise)
            elif tuple(layer.input_shape)[-1] != shape[-1]:
                raise ConfigError(f"built for input shape {layer.input_shape}, but its input has {shape}")
            else:
                layer.set_dtype(self.dtype)
            out_shape = tuple(layer.output_shape(shape))
        except ConfigError as exc:
            raise ConfigError(f"{owner}: {exc}") from None
        except (TypeError, ValueError, IndexError) as exc:
            raise ConfigError(f"{owner} ({type(layer).__name__}) does not fit its input shape {shape}: {exc}") from None
        layer.name = name
        self.namespace.add(name)
        self.nodes[name] = {"layer": layer, "sources": names, "mode": mode, "concat_axis": axis}
        self._shapes[name] = out_shape
        self.node_config.append({"name": name, "input": input, "inputs": list(inputs or []),
                                 "merge_mode": merge_mode, "concat_axis": concat_axis,
                                 "create_output": bool(create_output)})
        if create_output:
            self.add_output(name, input=name)

    def add_output(self, name, input=None, inputs=[], merge_mode="concat", concat_axis=-1):
        self._walk = None  # its structure changes: walk it again
        check_name(name, "a Graph output")
        owner = f"Graph output {quote(name)}"
        if name in self.outputs:
            raise ConfigError(f"Graph: duplicate output name {quote(name)}")
        names, mode, axis, shape = self._sources(owner, input, inputs, merge_mode, concat_axis, nodes_only=True)
        self.outputs[name] = {"sources": names, "mode": mode, "concat_axis": axis, "shape": shape}
        self.output_order.append(name)
        self.output_config.append({"name": name, "input": input, "inputs": list(inputs or []),
                                   "merge_mode": merge_mode, "concat_axis": concat_axis})

    # -- structure ----------------------------------------------------------------------
    @property
    def layers(self):
        """The nodes' layers in add_node order."""
        return [node["layer"] for node in self.nodes.values()]

    @property
    def output_shape(self):
        """{output name: per-sample shape} in add_output order."""
        return {name: self.outputs[name]["shape"] for name in self.output_order}

    def _require_built(self):
        if not self.nodes:
            raise ConfigError("the Graph has no nodes")

    def _require_outputs(self):
        self._require_built()
        if not self.outputs:
            raise ConfigError("the Graph has no outputs: add_output (or create_output=True) names what predict returns")

    # -- weights (Model: get_weights/set_weights/count_params over self.layers) ------------
    # Every node's weights, in add_node order (BatchNormalization's running statistics
    # included, unlike 0.2.0's Graph.get_weights; see keras_files/hdf5.py NOT_KERAS_PARAMS).

    def summary(self, print_fn=print):
        self._require_outputs()
        rows = [("Node", "Type", "Input", "Output shape", "Params")]
        for name in self.input_order:
            rows.append((name, f"input ({self.inputs[name][1]})", "", shape_text(self._shapes[name]), "0"))
        for name, node in self.nodes.items():
            src = node["sources"][0] if node["mode"] is None else f"{node['mode']}({', '.join(node['sources'])})"
            rows.append((name, type(node["layer"]).__name__, src, shape_text(self._shapes[name]),
                         str(node["layer"].count_params())))
        for name in self.output_order:
            out = self.outputs[name]
            src = out["sources"][0] if out["mode"] is None else f"{out['mode']}({', '.join(out['sources'])})"
            rows.append((name, "output", src, shape_text(out["shape"]), ""))
        lines = table(rows)
        lines.append(f"Total params: {self.count_params()}  (dtype {self.dtype})")
        text = "\n".join(lines)
        print_fn(text)
        return text

    # -- computation --------------------------------------------------------------------
    def check_input(self, data, what="predict"):
        """{input name: array} checked and cast, from a dict that may also hold outputs."""
        self._require_outputs()
        if not isinstance(data, dict):
            raise InputError(f"{what}: a Graph takes a dict {{input name: array}}, got {type(data).__name__}")
        unknown = [k for k in data if k not in self.inputs and k not in self.outputs]
        if unknown:
            raise InputError(f"{what}: unknown name {quote(unknown[0])} in the data; inputs: "
                             f"{', '.join(self.input_order)}; outputs: {', '.join(self.output_order)}")
        missing = [k for k in self.input_order if k not in data]
        if missing:
            raise InputError(f"{what}: input {quote(missing[0])} is missing from the data "
                             f"(the Graph takes {', '.join(self.input_order)})")
        checked = {}
        for name in self.input_order:
            shape, kind = self.inputs[name]
            where = f"{what}: input {quote(name)}"
            X = input_array(data[name], where)
            if X.ndim != len(shape) + 1 or X.shape[0] == 0:
                raise InputError(f"{where} must have shape {shape_text(shape)}, got {X.shape}")
            if kind == "int":
                if X.dtype.kind not in "iu" and not (X.dtype.kind == "f" and np.all(X == np.round(X))):
                    raise InputError(f"{where} holds token ids and must be integers, got dtype {X.dtype}")
            elif X.dtype.kind not in "iuf":
                raise InputError(f"{where} must be numeric, got dtype {X.dtype}")
            elif shape[-1] is not None and X.shape[-1] != shape[-1]:
                raise InputError(f"{where} must have width {shape[-1]}, got shape {X.shape}")
            checked[name] = X if kind == "int" else X.astype(self.dtype, copy=False)
        sizes = {len(x) for x in checked.values()}
        if len(sizes) != 1:
            raise InputError(f"{what}: the inputs must have one batch size, got "
                             f"{', '.join(f'{k}: {len(x)}' for k, x in checked.items())}")
        return checked

    def forward(self, data, train=False):
        """{output name: (Y, mask)} for checked inputs, in the order of the Graph's walk
        (reference/topology.py); layers keep what backward needs."""
        from .topology import MERGE

        w = self.walked()
        values = {node.outputs[0]: (data[node.key], None) for node in w.inputs}  # value -> (output, mask)
        for node in w.nodes:
            X, mask = node.arguments(values)
            if node.kind == MERGE:
                values[node.outputs[0]] = (merge_outputs(X, node.mode, node.concat_axis), None)
            else:
                Y = forward_layer(node.layer, X, mask, train, self.rng)
                values[node.outputs[0]] = (Y, node.layer.output_mask(mask))
        self._values = values
        return {node.key: values[node.inputs[0]] for node in w.outputs}

    def backward(self, dY):
        """Gradients of every weight (get_weights order) for the last forward, given
        {output name: gradient of the output} (missing outputs: no gradient)."""
        grads = {}  # name -> accumulated gradient of its output

        def send(spec, g):
            if spec["mode"] is None:
                parts = [g]
            else:
                parts = split_merge_gradient(g, [self._values[(n, 0, 0)][0] for n in spec["sources"]], spec["mode"],
                                             spec["concat_axis"])
            for n, part in zip(spec["sources"], parts):
                grads[n] = part if n not in grads else grads[n] + part

        for name in self.output_order:
            if dY.get(name) is not None:
                send(self.outputs[name], dY[name])
        per_node = []
        for name, node in reversed(list(self.nodes.items())):
            layer = node["layer"]
            g = grads.pop(name, None)
            if g is None and getattr(layer, "activity_output", None) is not None:
                g = np.zeros_like(layer.activity_output)  # no output depends on it, its activity penalty does
            if g is None:  # nothing downstream reaches an output: its weights do not matter
                per_node.append([np.zeros_like(w) for w in layer.get_weights()])
                continue
            dX, layer_grads = backward_layer(layer, g)
            per_node.append(layer_grads)
            if dX is not None:
                send(node, dX)
        return [g for layer_grads in reversed(per_node) for g in layer_grads]

    def predict(self, data, batch_size=128, verbose=0):
        """{output name: Y} in add_output order (Keras 0.2.0's Graph.predict)."""
        batch_size = positive_int(batch_size, "predict", "batch_size", InputError)
        data = self.check_input(data)
        n = len(next(iter(data.values())))
        parts = [self.forward({k: x[i:i + batch_size] for k, x in data.items()})
                 for i in range(0, n, batch_size)]
        return {name: np.concatenate([p[name][0] for p in parts], axis=0) for name in self.output_order}

    def gradients(self, data, G):
        """d sum_o sum(Y_o * G_o) / d w for every array of get_weights(), prediction mode;
        G: {output name: array of that output's shape} (outputs left out contribute 0)."""
        data = self.check_input(data, "gradients")
        outs = self.forward(data)
        if not isinstance(G, dict) or any(k not in self.outputs for k in G):
            raise InputError(f"gradients: G must be a dict keyed by output names ({', '.join(self.output_order)})")
        dY = {}
        for name, g in G.items():
            g = np.asarray(g, dtype=self.dtype)
            if g.shape != outs[name][0].shape:
                raise InputError(f"gradients: G[{name!r}] must have the output's shape {outs[name][0].shape}, "
                                 f"got {g.shape}")
            dY[name] = g
        return self.backward(dY)

    # -- Keras 0.x configs and files (reference/keras_files) ------------------------------
    hdf5_layout = "graph"  # one group 'graph' (a Sequential: one group per layer)

    def get_config(self):
        """0.2.0's Graph.get_config: the add_* calls' arguments and each node's layer config
        (plus the compile settings of a compiled Graph). An empty `inputs` is one list
        object per section, as 0.2.0's mutable default `inputs=[]` of add_node and of
        add_output was: its YAML writes it once with an anchor (&id001)."""
        def entries(configs):
            shared = []
            return [dict(c, inputs=shared) if c.get("inputs") == [] else dict(c) for c in configs]

        config = {"name": "Graph",
                  "input_config": [dict(c) for c in self.input_config],
                  "node_config": entries(self.node_config),
                  "output_config": entries(self.output_config),
                  "input_order": list(self.input_order), "output_order": list(self.output_order),
                  "nodes": {name: keras02_writer.layer_config(layer) for name, layer in zip(self.nodes, self.layers)}}
        return keras02_writer.compiled_config(self, config)

    # -- training (keras/models.py Graph at 0.2.0; see reference/training.py) -------------
    def compile(self, optimizer, loss, theano_mode=None, masked_loss="keras"):
        """loss: {output name: objective name}; the training loss is their sum (see
        Sequential.compile for masked_loss)."""
        from . import training
        training.compile_graph(self, optimizer, loss, theano_mode=theano_mode, masked_loss=masked_loss)

    def train_on_batch(self, data, class_weight={}, sample_weight={}):
        """One update on one dict holding inputs and outputs; returns the loss before it."""
        from . import training
        return training.graph_train_on_batch(self, data, class_weight=class_weight, sample_weight=sample_weight)

    def test_on_batch(self, data, sample_weight={}):
        from . import training
        return training.graph_test_on_batch(self, data, sample_weight=sample_weight)

    def evaluate(self, data, batch_size=128, verbose=0, sample_weight={}):
        from . import training
        return training.graph_evaluate(self, data, batch_size=batch_size, verbose=verbose,
                                       sample_weight=sample_weight)

    def fit(self, data, batch_size=128, nb_epoch=100, verbose=1, callbacks=[], validation_split=0.,
            validation_data=None, shuffle=True, class_weight={}, sample_weight={}):
        """Train on one dict {input and output name: array}; returns a callbacks.History."""
        from . import training
        return training.graph_fit(self, data, batch_size=batch_size, nb_epoch=nb_epoch, verbose=verbose,
                                  callbacks=callbacks, validation_split=validation_split,
                                  validation_data=validation_data, shuffle=shuffle,
                                  class_weight=class_weight, sample_weight=sample_weight)
