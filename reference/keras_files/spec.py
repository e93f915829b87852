"""What a reader of a Keras model file returns: plain data, no model.

A `ModelSpec` says which release wrote the file (and why we think so), the model's
shape (a `SequentialSpec` or a `GraphSpec`, whose layers are `LayerSpec`s and `MergeSpec`s)
and how it was compiled. Arguments are in the reference's terms: a release's rules
(its mask rule, its cell bugs, its defaults) are already translated into constructor
arguments of the one reference class per layer kind. reference/build.py turns a spec
into a model; nothing here imports a model.
"""
from dataclasses import dataclass, field

from ..errors import ConfigError


class KerasFileError(ConfigError):
    """A Keras model file is unreadable, malformed, does not fit the model, or was written
    by a release whose numbers cannot be reproduced here (one sentence saying which)."""


@dataclass
class LayerSpec:
    kind: str                    # the reference class name (reference/registry.py)
    arguments: dict              # constructor keyword arguments, in the reference's terms
    label: str = field(default="", compare=False)  # "layer 2", "Graph node 'lstm'": errors name the layer by it
    inline_weights: list = field(default=None, compare=False)  # weights a 0.1.x config held inline ("parameters")
    # weights the release did not store in its HDF5 file (0.1.x's JZS1/JZS2: P), each derived
    # by the rule in `derived_weights` ("identity")
    file_omits: tuple = ()
    derived_weights: dict = field(default_factory=dict)
    # weight name -> factor the release multiplied it by before computing (0.3.3's Embedding
    # dropout at inference): the loaded weight is the stored one times the factor
    weight_scales: dict = field(default_factory=dict)
    # Keras 1.x/2.x: the layer's Keras name (its HDF5 group, its node in a functional model)
    # and how its stored arrays become the reference layer's weights: a callable taking
    # [(weight name, array)] in the file's `weight_names` order and returning the arrays in
    # the reference layer's get_weights order (gates reordered, fused kernels split, biases
    # summed or zero-filled). None: the arrays are taken as they are.
    name: str = field(default="", compare=False)
    weight_map: object = field(default=None, compare=False)


@dataclass
class MergeSpec:
    branches: list               # SequentialSpec or MergeSpec, in branch order
    mode: str
    concat_axis: int
    label: str = field(default="", compare=False)


@dataclass
class SequentialSpec:
    layers: list                 # LayerSpec (a MergeSpec only first)


@dataclass
class GraphSpec:
    inputs: list                 # input_config entries (dicts)
    nodes: list                  # (node_config entry, LayerSpec) in add_node order
    outputs: list                # output_config entries
    orders: dict                 # input_order / output_order as the config gave them


@dataclass
class InputSpec:
    """A Keras 1.x/2.x model input (an InputLayer): its layer name, per-sample shape (None
    for a free axis) and dtype as the file gives it ("float32", "int32", ...)."""
    name: str
    shape: tuple
    dtype: str = "float32"


@dataclass
class NodeSpec:
    """One call of a layer in a Keras 1.x/2.x functional model, in topological order."""
    layer: str                   # the Keras layer name, a key of FunctionalSpec.layers
    inputs: list                 # [(layer name, node index, tensor index)] the call reads
    index: int = 0               # which call of that layer this is (its node index)


@dataclass
class FunctionalSpec:
    """A Keras 1.x/2.x functional model (`Model`, 1.x `Graph`-free API): every layer once
    (a layer called twice shares its weights), its calls in topological order, and the
    model's inputs and outputs as (layer name, node index, tensor index), in Keras's order."""
    inputs: list                 # InputSpec, in the model's input order
    layers: dict                 # Keras layer name -> LayerSpec, in the config's order
    nodes: list                  # NodeSpec
    outputs: list                # [(layer name, node index, tensor index)]


@dataclass
class ModelSpec:
    model: object                # SequentialSpec, GraphSpec or FunctionalSpec
    release: str                 # the Keras release whose rules the spec computes, e.g. "0.3.2"
    reason: str                  # why: "config keys custom_name, trainable"
    candidates: tuple = ()       # every release the file's keys allow
    compile: dict = None         # {"optimizer", "loss", "class_mode"} of a compiled config, else None
    notes: list = field(default_factory=list)  # what loading ignores or translates, one sentence each
    warnings: list = field(default_factory=list)  # what makes the numbers other than a user may expect
    backend: str = None          # Keras 1.x/2.x: "theano" or "tensorflow" as the file states it (its rules differ)

    @property
    def summary(self):
        """'Keras 0.3.2: config keys custom_name, trainable' (what inspect and convert print)."""
        backend = f" ({self.backend})" if self.backend else ""
        return f"Keras {self.release}{backend}: {self.reason}"
