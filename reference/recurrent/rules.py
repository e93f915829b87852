"""The mask rules of the Keras releases: how a masked timestep changes a recurrent
layer's output and carried states. Written once against the op set `o` (NumpyOps here,
OnnxOps in rnn2onnx/graph.py), so the reference's time loop and the ONNX loop body apply
the same code.

  reset        (0.1.2-0.2.0) the previous step's mask resets the carried state to zero;
               outputs are computed at every step. Each cell applies it to what it
               carries (SimpleDeepRNN gates its lag terms, not its pending sums), so the
               cell's step receives the mask (`step_mask`).
  skip_batch   (0.3.0) the mask is used only with return_sequences=True; the input is
               multiplied by it, and a step whose (masked) input is all zero over the WHOLE
               batch outputs 0 and keeps every state. The test reads the data: an unmasked
               all-zero input is skipped too.
  skip_sample  (0.3.1) as skip_batch, the all-zero test per sample.
  carry        (0.3.2 and every later release) a masked step outputs the previous
               output (0 before the first) and keeps the states; the input is not
               multiplied by the mask; applied whatever return_sequences is.
  carry_zero   (tf.keras's zero_output_for_mask=True, which its Bidirectional sets on both
               copies when return_sequences=True) a masked step outputs 0 and keeps the
               states.

Each rule computes a per-step `gate` before the time loop (`gates`, from the mask and the
input), then `merge`s the step's unmasked result with what it had before (`merge`).
"""
from ..errors import ConfigError
from ..untrusted import quote


class MaskRule:
    name = ""
    releases = ""
    merges = True             # the loop merges each step's result by a gate (`gates`, `merge`)
    masks_input = False       # the input is multiplied by the mask before the projection
    needs_output = False      # the previous output is carried (one more state)

    def applies(self, layer):
        """Whether the layer reads its input mask at all under this rule."""
        return True

    def step_mask(self, m):
        """What the cell's step receives as its mask (the reset rule lives in the cells)."""
        return None

    def gates(self, o, x, m, batch_axis):
        """The per-step gates of all timesteps (True: the step counts) from the masked input
        `x` and the mask `m` (a trailing axis of 1), both with features last."""
        return None

    def merge(self, o, gate, h, new_states, states, output, own_output=False):
        """(output, carried states) of a step from its unmasked result (h, new_states), the
        states it read and the previous output. `own_output`: the previous output is
        carried on its own even where the step's output is its state 0 (a layer given
        initial states: its output before the first unmasked step is 0, not the given h)."""
        return h, new_states


class Reset(MaskRule):
    name, releases = "reset", "Keras 0.1.2-0.2.0"
    merges = False

    def step_mask(self, m):
        return m


class Skip(MaskRule):
    masks_input = True

    def __init__(self, name, releases, whole_batch):
        self.name, self.releases, self.whole_batch = name, releases, whole_batch

    def applies(self, layer):
        # these releases pass a recurrent layer its mask only with return_sequences=True
        return layer.return_sequences

    def gates(self, o, x, m, batch_axis):
        return o.any_nonzero(x, (batch_axis, -1) if self.whole_batch else (-1,))

    def merge(self, o, gate, h, new_states, states, output, own_output=False):
        # Theano's switch(any, output, 0*output): 0*output is h*gate as a number
        return o.where(gate, h, 0.0), tuple(o.where(gate, new, old) for new, old in zip(new_states, states))


class Carry(MaskRule):
    name, releases = "carry", "Keras 0.3.2 and later"
    needs_output = True

    def gates(self, o, x, m, batch_axis):
        return o.nonzero(m)

    def merge(self, o, gate, h, new_states, states, output, own_output=False):
        carried = tuple(o.where(gate, new, old) for new, old in zip(new_states, states))
        if self.output_is_state(h, new_states) and not own_output:
            return carried[0], carried  # the previous output is the state the step read
        return o.where(gate, h, output), carried

    @staticmethod
    def output_is_state(h, new_states):
        """Whether the step carries its output as state 0 (every cell but SimpleDeepRNN):
        then the previous output needs no state of its own."""
        return new_states[0] is h


class CarryZero(Carry):
    name, releases = "carry_zero", "tf.keras with zero_output_for_mask=True"
    needs_output = False

    def merge(self, o, gate, h, new_states, states, output, own_output=False):
        # the states are carried as under "carry"; only the output differs
        return o.where(gate, h, 0.0), tuple(o.where(gate, new, old) for new, old in zip(new_states, states))


#: the rules a layer's final states may be returned under (return_state): the states
#: carried over masked steps, as Keras 1.x/2.x return them
CARRY_RULES = ("carry", "carry_zero")

MASK_RULES = {rule.name: rule for rule in (
    Reset(),
    Skip("skip_batch", "Keras 0.3.0", whole_batch=True),
    Skip("skip_sample", "Keras 0.3.1", whole_batch=False),
    Carry(),
    CarryZero(),
)}


def get_rule(name, layer_kind):
    if not isinstance(name, str) or name not in MASK_RULES:
        raise ConfigError(f"{layer_kind}: unknown mask_rule {quote(name)}; accepted: {', '.join(MASK_RULES)}")
    return MASK_RULES[name]
