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
class ModelSpec:
    model: object                # SequentialSpec or GraphSpec
    release: str                 # the Keras release whose rules the spec computes, e.g. "0.3.2"
    reason: str                  # why: "config keys custom_name, trainable"
    candidates: tuple = ()       # every release the file's keys allow
    compile: dict = None         # {"optimizer", "loss", "class_mode"} of a compiled config, else None
    notes: list = field(default_factory=list)  # what loading ignores or translates, one sentence each
    warnings: list = field(default_factory=list)  # what makes the numbers other than a user may expect

    @property
    def summary(self):
        """'Keras 0.3.2: config keys custom_name, trainable' (what inspect and convert print)."""
        return f"Keras {self.release}: {self.reason}"
