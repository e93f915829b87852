"""FunctionalModel: a Keras 1.x/2.x functional model (`Model(inputs, outputs)`) as the
reference computes it: named inputs, layers called on the outputs of other calls, and
the model's outputs, each in Keras's order.

Terms are Keras's (keras/engine/topology.py at 1.2.2 and 2.1.6): a *node* is one call of
a layer; a layer called more than once (a shared layer) has one node per call, numbered
from 0, all with the layer's one set of weights. A tensor is named by
(layer name, node index, tensor index): a layer with several outputs (nb_outputs > 1:
return_state, Bidirectional merge_mode=None) gives tensor indices 0, 1, ...; an input is
the node 0 of its input layer.

- predict takes one array per input in the model's input order (a list; a single array
  for a one-input model) and returns one array per output (a list; a single array for a
  one-output model).
- A recurrent layer (LSTM, GRU, SimpleRNN) called on more tensors than one reads the
  tensors after its input as its initial states (Keras 2.x's `initial_state`: h, then c
  for LSTM); the call's mask is its input's.
- Masks flow along the calls: each call gets the masks of the tensors it reads and hands
  on `layer.output_mask(...)` (a list of masks for a multi-output layer, from a list of
  masks for a merge layer); inputs carry none.
- get_weights/set_weights: the layers' weights layer by layer, in the order the layers
  were added (a Keras config's `layers` order); a shared layer's weights appear once.
- gradients: backward through the calls in reverse order; a shared layer's gradients are
  the sums over its calls. Each layer keeps what its backward needs from its last forward,
  so the state a call leaves is kept per call of a shared layer and put back before that
  call's backward.
"""
import numpy as np

from .errors import ConfigError, InputError
from .layers import Embedding, Layer
from .recurrent import Bidirectional, Recurrent
from .models import Model, backward_layer, check_name, forward_layer, is_input_shape, shape_text
from .untrusted import LIMITS, check_limit, quote, table
from .validators import input_array, positive_int

FLOAT_DTYPES = ("float16", "float32", "float64")
INT_DTYPES = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")


class FunctionalModel(Model):
    """A functional model built call by call (reference/build.py builds one from a Keras
    1.x/2.x config):

        m = FunctionalModel(dtype="float64")
        m.add_input("ids", (None,), dtype="int32")
        m.add_node(Embedding(11, 4, mask_zero=True), ["ids"], name="emb")
        m.add_node(LSTM(5, return_sequences=True), ["emb"], name="fwd")
        m.add_node(MergeLayer("concat"), ["emb", "fwd"], name="cat")
        m.set_outputs(["cat", "fwd"])

    A reference to a tensor is "layer" (node 0, tensor 0), (layer, node) or
    (layer, node, tensor). Calling `add_node` again with a layer object already in the
    model adds another call of that layer (shared weights).
    """

    def __init__(self, dtype="float32", seed=None, initialise=True, name="model"):
        super().__init__(dtype, seed, initialise)
        self.name = name
        self.input_names = []           # in the model's input order
        self.inputs = {}                # input name -> (per-sample shape, "float" or "int")
        self._layers = {}               # layer name -> layer, in the order added
        self.nodes = []                 # [{"layer", "index", "inputs", "shapes"}] in call order
        self._shapes = {}               # (name, node index) -> [per-sample shape of each output tensor]
        self.outputs = []               # [(name, node, tensor)] in the model's output order
        self._calls = {}                # layer name -> how many calls (nodes) it has

    # -- construction -----------------------------------------------------------------
    def _count_check(self):
        limit = LIMITS["layers"]
        if len(self.inputs) + len(self.nodes) >= limit.value:
            raise ConfigError(f"the model holds more than {limit.value} inputs and calls, the limit for "
                              f"{limit.what}; {limit.why}")

    def add_input(self, name, shape, dtype="float32"):
        """An input layer: its name, per-sample shape (None: a free axis) and dtype as
        Keras wrote it ("float32", "int32", ...; token ids go to an Embedding)."""
        self._walk = None  # its structure changes: walk it again
        check_name(name, "a functional model\'s input")
        self._count_check()
        if name in self.inputs or name in self._layers:
            raise ConfigError(f"duplicate layer name {quote(name)} in the functional model")
        if not is_input_shape(shape):
            raise ConfigError(f"input {quote(name)}: the shape must be a non-empty tuple of positive integers "
                              f"(or None), got {quote(shape)}")
        if dtype not in FLOAT_DTYPES + INT_DTYPES:
            raise ConfigError(f"input {quote(name)}: unknown dtype {quote(dtype)}; accepted: "
                              f"{', '.join(FLOAT_DTYPES + INT_DTYPES)}")
        shape = tuple(None if s is None else int(s) for s in shape)
        self.inputs[name] = (shape, "int" if dtype in INT_DTYPES else "float")
        self.input_names.append(name)
        self._shapes[(name, 0)] = [shape]

    def _ref(self, ref, where):
        """(name, node, tensor) of a reference, or a ConfigError naming what exists."""
        if isinstance(ref, str):
            ref = (ref, 0, 0)
        elif isinstance(ref, (list, tuple)) and len(ref) == 2:
            ref = (ref[0], ref[1], 0)
        if not isinstance(ref, (list, tuple)) or len(ref) != 3 or not isinstance(ref[0], str) or any(
                isinstance(v, bool) or not isinstance(v, (int, np.integer)) for v in ref[1:]):
            raise ConfigError(f"{where}: a tensor is named by a layer name or (layer, node index, tensor index), "
                              f"got {quote(ref)}")
        name, node, tensor = ref[0], int(ref[1]), int(ref[2])
        if (name, node) not in self._shapes:
            if name in self.inputs or name in self._layers:
                raise ConfigError(f"{where}: layer {quote(name)} has no call (node) {node} before this one")
            known = self.input_names + list(self._layers)
            raise ConfigError(f"{where}: unknown layer {quote(name)}; known so far: "
                              f"{quote(', '.join(known)) if known else 'none'}")
        if not 0 <= tensor < len(self._shapes[(name, node)]):
            raise ConfigError(f"{where}: layer {quote(name)} node {node} has {len(self._shapes[(name, node)])} "
                              f"output tensor(s), got tensor index {tensor}")
        return name, node, tensor

    def _is_ids(self, ref):
        return ref[0] in self.inputs

    def add_layer(self, layer, name=None):
        """Add `layer` without calling it yet, so the weights follow the order layers are
        added (a config's order) whatever order their calls come in; add_node calls it."""
        self._walk = None  # its structure changes: walk it again
        if not isinstance(layer, Layer):
            raise ConfigError(f"add_layer takes a layer, got {type(layer).__name__}")
        if any(known is layer for known in self._layers.values()):
            raise ConfigError("this layer object is already in the model")
        self._count_check()
        name = name or getattr(layer, "keras_name", None) or self._auto_name(layer)
        check_name(name, "a functional model\'s layer")
        if name in self.inputs or name in self._layers:
            raise ConfigError(f"duplicate layer name {quote(name)} in the functional model")
        layer.name = name
        self._layers[name] = layer
        return name

    def add_node(self, layer, inputs, name=None):
        """Call `layer` on the tensors `inputs` (a list of references, see the class);
        returns (layer name, node index) of the new call."""
        self._walk = None  # its structure changes: walk it again
        if not isinstance(layer, Layer):
            raise ConfigError(f"add_node takes a layer, got {type(layer).__name__}")
        self._count_check()
        shared = [n for n, known in self._layers.items() if known is layer]
        if shared:
            name = shared[0]
        else:
            name = name or getattr(layer, "keras_name", None) or self._auto_name(layer)
            check_name(name, "a functional model\'s layer")
            if name in self.inputs or name in self._layers:
                raise ConfigError(f"duplicate layer name {quote(name)} in the functional model")
        index = self._calls.get(name, 0)
        where = f"layer {quote(name)}" + (f" (call {index})" if index else "")
        if not isinstance(inputs, (list, tuple)) or not inputs:
            raise ConfigError(f"{where}: inputs must be a non-empty list of tensors, got {quote(inputs)}")
        check_limit(len(inputs), "branches", where, "the number of tensors it reads")
        refs = [self._ref(ref, where) for ref in inputs]
        shapes = [self._shapes[(n, k)][t] for n, k, t in refs]
        multi = getattr(layer, "nb_inputs", 1) != 1
        nb_states = 0  # a recurrent layer's initial states: the tensors after its input
        if not multi and len(refs) > 1 and isinstance(layer, (Recurrent, Bidirectional)):
            if isinstance(layer, Bidirectional):
                raise ConfigError(f"{where}: a Bidirectional layer called with initial states "
                                  f"({len(refs) - 1} tensors after its input) is not supported")
            nb_states = len(refs) - 1
            if type(layer).__name__ not in ("LSTM", "GRU", "SimpleRNN"):
                raise ConfigError(f"{where}: only LSTM, GRU and SimpleRNN layers take initial states, "
                                  f"not a {type(layer).__name__}")
            if nb_states != layer.state_count:
                raise ConfigError(f"{where}: a {type(layer).__name__} takes {layer.state_count} initial state(s) "
                                  f"after its input, got {nb_states}")
            for i, state in enumerate(shapes[1:]):
                if tuple(state) != (layer.output_dim,):
                    raise ConfigError(f"{where}: initial state {i} must have shape (batch, {layer.output_dim}), "
                                      f"got (batch,) + {quote(state)}")
            shapes = shapes[:1]
        if not multi and len(refs) - nb_states != 1:
            raise ConfigError(f"{where}: a {type(layer).__name__} takes one input, got {len(refs)}")
        if multi and len(refs) < 2:
            raise ConfigError(f"{where}: a {type(layer).__name__} merges a list of two or more inputs, got {len(refs)}")
        ids = [r for r in refs if self._is_ids(r) and self.inputs[r[0]][1] == "int"]
        if ids and not isinstance(layer, Embedding):
            raise ConfigError(f"{where}: input {quote(ids[0][0])} holds integer token ids and feeds an Embedding "
                              f"only, not a {type(layer).__name__}")
        shape = shapes if multi else shapes[0]
        try:
            if not multi:
                declared = layer.declared_input_shape
                if declared is not None and not isinstance(layer, Embedding) and declared[-1] is not None \
                        and shape[-1] is not None and declared[-1] != shape[-1]:
                    raise ConfigError(f"the layer declares input width {declared[-1]}, but its input has "
                                      f"width {shape[-1]}")
            if not layer.built:
                layer.build(shape, self.dtype, self.rng, self.initialise)
            else:
                if not multi and tuple(layer.input_shape)[-1] != shape[-1]:
                    raise ConfigError(f"built for input shape {tuple(layer.input_shape)}, but this call's input "
                                      f"has {tuple(shape)}")
                layer.set_dtype(self.dtype)
            out = layer.output_shape(shape)
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}") from None
        except (TypeError, ValueError, IndexError) as exc:
            raise ConfigError(f"{where} ({type(layer).__name__}) does not fit its input shape "
                              f"{quote(shape)}: {exc}") from None
        outs = [tuple(s) for s in out] if getattr(layer, "nb_outputs", 1) > 1 else [tuple(out)]
        layer.name = name
        self._layers[name] = layer
        self.nodes.append({"layer": name, "index": index, "inputs": refs, "shapes": outs, "states": nb_states})
        self._shapes[(name, index)] = outs
        self._calls[name] = index + 1
        return name, index

    def _auto_name(self, layer):
        kind = type(layer).__name__.lower()
        n = 1
        while f"{kind}_{n}" in self._layers or f"{kind}_{n}" in self.inputs:
            n += 1
        return f"{kind}_{n}"

    def set_outputs(self, outputs):
        """The model's outputs: a list of tensor references, in the model's output order."""
        self._walk = None  # its structure changes: walk it again
        if not isinstance(outputs, (list, tuple)) or not outputs:
            raise ConfigError(f"a functional model needs a non-empty list of outputs, got {quote(outputs)}")
        self.outputs = [self._ref(ref, f"output {i}") for i, ref in enumerate(outputs)]

    # -- structure --------------------------------------------------------------------
    @property
    def layers(self):
        """Every layer once, in the order added (a Keras config's layers order, input layers left out)."""
        return list(self._layers.values())

    def calls(self, name):
        """How many nodes (calls) layer `name` has."""
        return self._calls.get(name, 0)

    @property
    def output_names(self):
        """One distinct name per output, in output order: the layer's name, or, for a
        further output of a layer already named (a second tensor of return_state, a later
        call, the same tensor twice) or a name an input has, the name with `_1`, `_2`, ...
        (the first suffix not taken). The exported ONNX outputs are named so."""
        taken, names = set(self.input_names), []
        for name, _, _ in self.outputs:
            candidate, k = name, 0
            while candidate in taken:
                k += 1
                candidate = f"{name}_{k}"
            taken.add(candidate)
            names.append(candidate)
        return names

    @property
    def input_shape(self):
        """[per-sample shape of each input], in input order."""
        return [self.inputs[n][0] for n in self.input_names]

    @property
    def output_shape(self):
        """[per-sample shape of each output], in output order."""
        return [self._shapes[(n, k)][t] for n, k, t in self.outputs]

    def readers(self, name):
        """The layers reading input `name` (each once, in call order)."""
        return self.walked().readers((name, 0, 0))

    def takes_ids(self, name):
        """Whether input `name` holds token ids: an integer dtype, or read by Embeddings only
        (Keras 2.x's Input defaults to float32 in front of an Embedding)."""
        readers = self.readers(name)
        return self.inputs[name][1] == "int" or bool(readers) and all(isinstance(r, Embedding) for r in readers)

    def _require_built(self):
        if not self.nodes:
            raise ConfigError("the functional model has no layers")
        if not self.outputs:
            raise ConfigError("the functional model has no outputs (set_outputs names them)")
        idle = [name for name in self._layers if not self._calls.get(name)]
        if idle:
            raise ConfigError(f"layer {quote(idle[0])} of the functional model is never called")

    def summary(self, print_fn=print):
        self._require_built()
        rows = [("Layer (call)", "Type", "Inputs", "Output shape", "Params")]
        for name in self.input_names:
            rows.append((name, f"input ({self.inputs[name][1]})", "", shape_text(self.inputs[name][0]), "0"))
        for node in self.nodes:
            layer = self._layers[node["layer"]]
            label = node["layer"] + (f" [{node['index']}]" if node["index"] else "")
            src = ", ".join(_ref_text(r) for r in node["inputs"])
            shapes = " ".join(shape_text(s) for s in node["shapes"])
            rows.append((label, type(layer).__name__, src, shapes,
                         "(shared)" if node["index"] else str(layer.count_params())))
        for out_name, ref in zip(self.output_names, self.outputs):
            rows.append((out_name, "output", _ref_text(ref), shape_text(self._shapes[ref[:2]][ref[2]]), ""))
        lines = table(rows)
        lines.append(f"Total params: {self.count_params()}  (dtype {self.dtype})")
        text = "\n".join(lines)
        print_fn(text)
        return text

    # Keras 0.2.0's config and HDF5 writers (Model's) describe Sequential and Graph only
    def _not_keras02(self, *args, **kwargs):
        raise ConfigError("a functional model (Keras 1.x/2.x) has no Keras 0.2.0 config or weights file; "
                          "Keras 0.2.0 wrote Sequential and Graph models only")

    get_config = to_json = to_yaml = save_weights = load_weights = _not_keras02

    # -- computation --------------------------------------------------------------------
    def check_input(self, X, what="predict"):
        """The model's inputs as a list in input order, each checked and cast."""
        self._require_built()
        n = len(self.input_names)
        if n == 1 and not isinstance(X, (list, tuple)):
            X = [X]
        if not isinstance(X, (list, tuple)) or len(X) != n:
            got = f"{len(X)} arrays" if isinstance(X, (list, tuple)) else f"one {type(X).__name__}"
            raise InputError(f"{what}: the model takes a list of {n} arrays ({', '.join(self.input_names)}, in "
                             f"this order), got {got}")
        checked = []
        for name, value in zip(self.input_names, X):
            shape, _ = self.inputs[name]
            where = f"{what}: input {quote(name)}"
            A = input_array(value, where)
            if A.ndim != len(shape) + 1 or A.shape[0] == 0:
                raise InputError(f"{where} must have shape {shape_text(shape)}, got {A.shape}")
            if A.dtype.kind not in "iuf":
                raise InputError(f"{where} must be numeric, got dtype {A.dtype}")
            # a sequence's length may differ from the built one (as a Sequential's may),
            # unless a layer needs it (that layer refuses then)
            sequence = self.takes_ids(name) or len(shape) >= 2
            if any(s is not None and a != s for i, (a, s) in enumerate(zip(A.shape[1:], shape))
                   if not (i == 0 and sequence)):
                raise InputError(f"{where} must have shape {shape_text(shape)}, got {A.shape}")
            if self.takes_ids(name):
                if A.dtype.kind == "f" and not np.all(A == np.round(A)):
                    raise InputError(f"{where} holds token ids and must be integers, got non-integer values")
                checked.append(A)
            else:
                checked.append(A.astype(self.dtype, copy=False))
        if len({len(a) for a in checked}) != 1:
            raise InputError(f"{what}: the inputs must have one batch size, got "
                             f"{', '.join(f'{k}: {len(a)}' for k, a in zip(self.input_names, checked))}")
        return checked

    def forward(self, Xs, train=False):
        """[(Y, mask)] of the outputs for checked inputs, in the order of the model's walk
        (reference/topology.py: what each call reads); every call keeps what backward needs."""
        w = self.walked()
        values = {node.outputs[0]: (X, None) for node, X in zip(w.inputs, Xs)}  # value -> (tensor, mask)
        self._states = {}
        for node in w.nodes:
            layer = node.layer
            X, mask = node.arguments(values)
            values.update(node.results(forward_layer(layer, X, mask, train, self.rng), layer.output_mask(mask)))
            if node.calls > 1:  # a shared layer: keep this call's state for its backward
                self._states[node.outputs[0][:2]] = dict(vars(layer))
        return [values[node.inputs[0]] for node in w.outputs]

    def backward(self, dYs):
        """Gradients of every weight (get_weights order) for the last forward, given one
        gradient per output (None: that output contributes nothing)."""
        w = self.walked()  # the forward's calls, in reverse
        grads = {}  # value -> its gradient (summed over the calls reading it)

        def send(value, g):
            if value[0] in self.inputs or g is None:
                return
            grads[value] = g if value not in grads else grads[value] + g

        for node, g in zip(w.outputs, dYs):
            if g is not None:
                send(node.inputs[0], np.asarray(g, dtype=self.dtype))
        per_layer = {}
        for node in reversed(w.nodes):
            gs = [grads.pop(v, None) for v in node.outputs]  # a multi-output layer: None where none came
            if all(g is None for g in gs):  # nothing downstream reaches an output
                continue
            layer, (name, call, _) = node.layer, node.outputs[0]
            if (name, call) in self._states:
                vars(layer).update(self._states[(name, call)])
            dX, layer_grads = backward_layer(layer, gs if len(gs) > 1 else gs[0])
            total = per_layer.get(name)
            per_layer[name] = list(layer_grads) if total is None else [a + b for a, b in zip(total, layer_grads)]
            dXs = dX if getattr(layer, "nb_inputs", 1) != 1 or node.states else [dX]
            for value, d in zip(node.inputs, dXs):
                send(value, d)
        out = []
        for name, layer in self._layers.items():
            out += per_layer.get(name) or [np.zeros_like(w) for w in layer.get_weights()]
        return out

    def predict(self, X, batch_size=128, verbose=0):
        """One array per output, in output order (a single array for a one-output model)."""
        batch_size = positive_int(batch_size, "predict", "batch_size", InputError)
        Xs = self.check_input(X)
        n = len(Xs[0])
        parts = [self.forward([x[i:i + batch_size] for x in Xs]) for i in range(0, n, batch_size)]
        Ys = [np.concatenate([p[j][0] for p in parts], axis=0) for j in range(len(self.outputs))]
        return Ys if len(Ys) > 1 else Ys[0]

    def gradients(self, X, G):
        """d sum_o sum(Y_o * G_o) / d w for every array of get_weights(), prediction mode;
        G: one array per output (a list; a single array for a one-output model; None: no
        contribution)."""
        Xs = self.check_input(X, "gradients")
        outs = self.forward(Xs)
        Gs = [G] if len(outs) == 1 and not isinstance(G, (list, tuple)) else G
        if not isinstance(Gs, (list, tuple)) or len(Gs) != len(outs):
            raise InputError(f"gradients: G must hold one array per output ({len(outs)}), in output order")
        dYs = []
        for i, (g, (Y, _)) in enumerate(zip(Gs, outs)):
            if g is not None:
                g = np.asarray(g, dtype=self.dtype)
                if g.shape != Y.shape:
                    raise InputError(f"gradients: G[{i}] must have the output's shape {Y.shape}, got {g.shape}")
            dYs.append(g)
        return self.backward(dYs)


def _ref_text(ref):
    name, node, tensor = ref
    return f"{name}[{node}][{tensor}]"
