"""Keras's `Bidirectional` wrapper (1.0.8+ and 2.x; keras/layers/wrappers.py at 1.2.2, 2.1.6,
2.2.4 and 2.3.1 compute the same numbers).

It holds two copies of one recurrent layer: the forward copy has the layer's config, the
backward copy the same config with `go_backwards` flipped. Both read the same input and
mask. With return_sequences the backward copy's outputs, which come in processing order,
are reversed along time (Keras's `K.reverse(y_rev, 1)`), so both halves are in time order.
The halves are merged: concat (forward first), sum, mul, ave ((y + y_rev) / 2), or not at
all (merge_mode None: two outputs). With return_state (2.x) the forward copy's final states
and then the backward copy's follow the output(s).

Masked steps. Every keras-team release (1.x and 2.x, on Theano and on TensorFlow) runs
both copies under the carry rule: a masked step repeats the previous output of its own
direction (`masked_output="repeat"`). tf.keras (TensorFlow's own Keras) sets
`zero_output_for_mask = return_sequences` on both copies: with return_sequences a masked
step outputs 0 in both halves while the states are still carried
(`masked_output="zero"`, the carry_zero mask rule). The config does not say which; the
reader sets it from the file's writer.

Weights: the forward copy's (its own Keras order) then the backward copy's.

`backward_layer` (tf.keras's argument): a layer of its own for the backward half instead of
the flipped copy; it must process the other way (go_backwards differs) and have the same
return_sequences and return_state (tf.keras's _verify_layer_config).
"""
import copy

import numpy as np

from ..errors import ConfigError, InputError
from ..layers import Layer
from ..registry import register_layer
from ..untrusted import quote
from .base import Recurrent
from .rules import CARRY_RULES, get_rule

MERGE_MODES = ("concat", "sum", "mul", "ave", None)
MASKED_OUTPUTS = ("repeat", "zero")


@register_layer
class Bidirectional(Layer):
    config_keys = ("layer", "merge_mode", "masked_output")

    def __init__(self, layer, merge_mode="concat", weights=None, masked_output="repeat", input_shape=None,
                 input_dim=None, input_length=None, backward_layer=None):
        for part in (layer, backward_layer):
            if part is not None and not isinstance(part, Recurrent):
                raise ConfigError(f"Bidirectional wraps a recurrent layer (LSTM, GRU, SimpleRNN, ...), "
                                  f"got {quote(type(part).__name__)}")
        if backward_layer is not None:
            if backward_layer.go_backwards == layer.go_backwards:
                raise ConfigError("Bidirectional: the backward layer must have the other go_backwards value "
                                  f"than the layer (both {layer.go_backwards})")
            for key in ("return_sequences", "return_state"):
                if getattr(backward_layer, key) != getattr(layer, key):
                    raise ConfigError(f"Bidirectional: the backward layer's {key} must be the layer's "
                                      f"({getattr(layer, key)}), got {getattr(backward_layer, key)}")
        if merge_mode not in MERGE_MODES:
            raise ConfigError(f"Bidirectional: unknown merge_mode {quote(merge_mode)}; accepted: "
                              f"{', '.join(str(m) for m in MERGE_MODES)}")
        if masked_output not in MASKED_OUTPUTS:
            raise ConfigError(f"Bidirectional: unknown masked_output {quote(masked_output)}; accepted: "
                              f"{', '.join(MASKED_OUTPUTS)}")
        if input_shape is None and input_dim is None and layer.declared_input_shape is not None:
            input_shape = layer.declared_input_shape  # Bidirectional(LSTM(..., input_shape=...))
        self.forward_layer = self.backward_layer = None
        super().__init__(weights=weights, input_shape=input_shape, input_dim=input_dim, input_length=input_length)
        self.layer, self.merge_mode, self.masked_output = layer, merge_mode, masked_output
        self.backward_given = backward_layer
        self.return_sequences, self.return_state = layer.return_sequences, layer.return_state
        self.forward_layer = self._copy(layer, layer.go_backwards)
        self.backward_layer = self._copy(backward_layer or layer, not layer.go_backwards)
        self.name = self.name  # names the copies

    def _copy(self, layer, go_backwards):
        part = copy.copy(layer)
        part.go_backwards = go_backwards
        part.initial_weights = None  # the wrapper's weights, set at build, hold both halves
        if self.masked_output == "zero" and layer.return_sequences:
            # tf.keras's Bidirectional: zero_output_for_mask = return_sequences on both copies
            if layer.mask_rule not in CARRY_RULES:
                raise ConfigError(f"Bidirectional: masked_output='zero' is tf.keras's rule, for a layer under the "
                                  f"carry rule, not {quote(layer.mask_rule)}")
            part.rule = get_rule("carry_zero", type(layer).__name__)
            part.mask_rule = part.rule.name
        return part

    @property
    def name(self):
        return self._name

    @name.setter
    def name(self, value):
        self._name = value
        if self.forward_layer is not None:  # ONNX node names and errors say which half
            self.forward_layer.name, self.backward_layer.name = f"{value}/forward", f"{value}/backward"

    @property
    def nb_outputs(self):
        return (2 if self.merge_mode is None else 1) + len(self._state_slots())

    def _state_slots(self):
        """One entry per state output (forward's, then backward's)."""
        if not self.return_state:
            return []
        return [None] * (self.forward_layer.state_count + self.backward_layer.state_count)

    def _branch_layers(self):
        """The two copies, in weight order (regularizers, training: reference/regularizers.py)."""
        return [self.forward_layer, self.backward_layer]

    # -- weights ------------------------------------------------------------------------
    def build(self, input_shape, dtype, rng, initialise=True):
        self.input_shape = tuple(input_shape)
        self.dtype = np.dtype(dtype)
        for part in self._branch_layers():
            part.build(self.input_shape, dtype, rng, initialise)
        self._specs = self.forward_layer._specs + self.backward_layer._specs
        if self.initial_weights is not None:
            self.set_weights(self.initial_weights)
        self.built = True

    def get_weights(self):
        return self.forward_layer.get_weights() + self.backward_layer.get_weights()

    def set_weights(self, weights):
        weights, half, rest = list(weights), len(self.forward_layer._specs), len(self.backward_layer._specs)
        if len(weights) != half + rest:
            raise ConfigError(f"layer {self.name}: expected {half + rest} weight arrays (the forward layer's "
                              f"{half}, then the backward layer's {rest}), got {len(weights)}")
        self.forward_layer.set_weights(weights[:half])
        self.backward_layer.set_weights(weights[half:])

    def set_dtype(self, dtype):
        self.dtype = np.dtype(dtype)
        for part in self._branch_layers():
            part.set_dtype(dtype)

    def get_config(self):
        config = {"name": "Bidirectional", "layer": self.layer.get_config(), "merge_mode": self.merge_mode,
                  "masked_output": self.masked_output}
        if self.backward_given is not None:
            config["backward_layer"] = self.backward_given.get_config()
        return config

    # -- shapes and masks ------------------------------------------------------------------
    def _split(self, values):
        """(output, [states]) of one copy's forward/shape/mask list."""
        return (values[0], list(values[1:])) if self.return_state else (values, [])

    def output_shape(self, input_shape):
        shape, states = self._split(self.forward_layer.output_shape(input_shape))
        shape_rev, states_rev = self._split(self.backward_layer.output_shape(input_shape))
        if self.merge_mode == "concat":
            shape = tuple(shape[:-1]) + (shape[-1] + shape_rev[-1],)
        elif self.merge_mode is not None and tuple(shape) != tuple(shape_rev):
            raise ConfigError(f"layer {self.name}: merge_mode {self.merge_mode!r} needs halves of one shape, got "
                              f"{tuple(shape)} and {tuple(shape_rev)}")
        outputs = [shape, shape_rev] if self.merge_mode is None else [shape]
        outputs += states + states_rev
        return outputs if len(outputs) > 1 else outputs[0]

    def output_mask(self, mask):
        mask = mask if self.return_sequences else None
        outputs = [mask, mask] if self.merge_mode is None else [mask]
        outputs += self._state_slots()
        return outputs if len(outputs) > 1 else outputs[0]

    # -- computation --------------------------------------------------------------------
    def forward(self, X, mask=None, train=False, rng=None):
        y, states = self._split(self.forward_layer.forward(X, mask, train=train, rng=rng))
        y_rev, states_rev = self._split(self.backward_layer.forward(X, mask, train=train, rng=rng))
        if self.return_sequences:
            y_rev = y_rev[:, ::-1]
        self._halves = (y, y_rev)
        mode = self.merge_mode
        if mode == "concat":
            outputs = [np.concatenate([y, y_rev], axis=-1)]
        elif mode == "sum":
            outputs = [y + y_rev]
        elif mode == "ave":
            outputs = [(y + y_rev) / 2]
        elif mode == "mul":
            outputs = [y * y_rev]
        else:
            outputs = [y, np.ascontiguousarray(y_rev)]
        outputs += states + states_rev
        return outputs if len(outputs) > 1 else outputs[0]

    def backward(self, dY):
        y, y_rev = self._halves
        dY = list(dY) if self.nb_outputs > 1 else [dY]
        if len(dY) != self.nb_outputs:
            raise InputError(f"layer {self.name}: expected {self.nb_outputs} output gradients, got {len(dY)}")
        n_out = 2 if self.merge_mode is None else 1
        d, d_states = dY[:n_out], dY[n_out:]
        mode = self.merge_mode
        if mode is None:
            dy, dy_rev = d
        elif d[0] is None:
            dy = dy_rev = None
        elif mode == "concat":
            k = y.shape[-1]
            dy, dy_rev = d[0][..., :k], d[0][..., k:]
        elif mode == "sum":
            dy = dy_rev = d[0]
        elif mode == "ave":
            dy = dy_rev = d[0] / 2
        else:  # mul
            dy, dy_rev = d[0] * y_rev, d[0] * y
        zeros = np.zeros_like(y)
        dy = zeros if dy is None else dy
        dy_rev = zeros if dy_rev is None else dy_rev
        if self.return_sequences:
            dy_rev = dy_rev[:, ::-1]
        half = self.forward_layer.state_count
        if self.return_state:
            dy, dy_rev = [dy] + d_states[:half], [dy_rev] + d_states[half:]
        dX, grads = self.forward_layer.backward(dy)
        dX_rev, grads_rev = self.backward_layer.backward(dy_rev)
        return dX + dX_rev, grads + grads_rev
