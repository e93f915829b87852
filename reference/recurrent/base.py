"""What every recurrent cell shares: the hoisted input projection, the time loop,
the mask rule and truncated BPTT.

A cell describes itself with three tables and two functions:

- `param_specs`: its weights in Keras order;
- `projection`: the input projections computed for all timesteps before the loop,
  as groups of (W, b, pre) entries; each group becomes one per-step input `x`,
  the entry computing `pre(X·W) + b` (`pre` None for the plain `X·W + b`);
  `projection_activations()`: {group: activation} applied to a whole group after its
  bias, for gates that read the input only (computed once for all timesteps, not in
  the step: one node less per step in an ONNX loop); `project` interprets the table,
  written once against the op set as `step` is (the forward here, the ONNX emitters);
- `fused`: recurrent matrices concatenated along their columns so one matmul per
  step serves every gate that reads the same state;
- `step(o, xs, m, states, p)`: one timestep written against a small op set `o`
  (`NumpyOps` here, `OnnxOps` in rnn2onnx/graph.py), returning the output `h`,
  the states carried to the next step and a cache of intermediates;
- `step_backward(c, dh, dstates, p, g)`: the same step backwards, side by side,
  returning the gradients of the step's projection inputs and of the carried states;
- `recurrent_grads`: (U, cache key, projection group) triples: U's gradient is
  sum_t cache[t][key]^T · (gradient of group's per-step input at t), since the step's
  product key·U feeds the same pre-activation as that group; base does it with one
  matmul after the time loop. Other per-step weight gradients go through
  `g.outer(name, a, b)` (also one matmul after the loop) or `g[name] +=`.

Speed notes: the projection is one matmul per group (NumpyOps.affine: contiguous
per-step slices), the backward reads recurrent matrices through Fortran-ordered copies
(so `d @ U.T` is a plain row-major product), and weight gradients are accumulated after
the loop.

The mask rule is a parameter of the time loop (`mask_rule`, rules.py): Keras 0.1.2-0.2.0's
"the previous step's mask gates the carried state" is applied by each cell at the end of its
step (the carried states multiplied by this step's mask, `o.mask`); the later releases' rules
merge the step's unmasked result with the previous output and states (`rule.merge`).
`go_backwards` runs the loop over the time-reversed input (and mask); the outputs come in
processing order, as in every Keras release that has it.
"""
import numpy as np

from .. import activations, initializations
from ..errors import ConfigError, InputError
from ..layers import Layer
from ..untrusted import quote
from .rules import CARRY_RULES, get_rule


class NumpyOps:
    """The op set a cell's step is written against, evaluated eagerly with NumPy."""

    add, sub, mul, matmul = staticmethod(np.add), staticmethod(np.subtract), staticmethod(np.multiply), staticmethod(np.matmul)

    @staticmethod
    def act(activation, x):
        return activation(x)

    @staticmethod
    def split(x, sizes):
        out, start = [], 0
        for size in sizes:
            out.append(x[:, start:start + size])
            start += size
        return out

    @staticmethod
    def mask(x, m):
        return x if m is None else x * m

    @staticmethod
    def where(cond, a, b):
        return np.where(cond, a, b)

    @staticmethod
    def nonzero(x):
        return x != 0

    @staticmethod
    def any_nonzero(x, axes):
        return np.any(x != 0, axis=axes, keepdims=True)

    @staticmethod
    def affine(x, W, b, sizes):
        """x·W (+ b unless None) cut into column blocks of `sizes`, as `split` cuts: one
        product per block, so each block (and each timestep's rows of it) is contiguous
        for the loop that reads it."""
        out, start = [], 0
        for size in sizes:
            y = x @ W[:, start:start + size]
            if b is not None:
                y += b[start:start + size]
            out.append(y)
            start += size
        return out

    @staticmethod
    def concat(parts):
        return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=-1)


NP = NumpyOps()


def unmask(d, m):
    """Backward of `o.mask`."""
    return d if m is None else d * m


class Recurrent(Layer):
    """The arguments every recurrent layer takes beyond Keras 0.2.0's (all keyword-only in
    effect; their defaults are 0.2.0's behaviour):

    - `mask_rule`: what a masked timestep does, by the Keras release that wrote the model:
      "reset" (default; Keras 0.1.2-0.2.0: the previous step's mask resets the carried
      state, outputs computed at every step), "skip_batch" (Keras 0.3.0: the mask is read
      only with return_sequences=True; the input is multiplied by it and a step whose masked
      input is all zero over the whole batch outputs 0 and keeps the states), "skip_sample"
      (Keras 0.3.1: the same test per sample), "carry" (Keras 0.3.2 and later: a masked
      step outputs the previous output, 0 before the first, and keeps the states). See
      rules.py.
    - `go_backwards`: process the sequence from its last timestep to its first (the mask
      reversed with it); with return_sequences=True the outputs come in processing order
      (the first one is the last timestep's), as Keras returns them. Keras 0.3.0 and later.
    - `return_state`: the layer has more outputs: its output, then its final states (h for
      SimpleRNN, GRU and the JZS cells; h, c for LSTM), each row's state after its last
      unmasked step (Keras 2.x). `forward` then returns a list, and `output_shape`,
      `output_mask` lists (`nb_outputs` entries); `backward` takes a list of output
      gradients (None for an output not used). Only under the carry rules (Keras 1.x/2.x).
    - initial states (Keras 2.x's `initial_state`): `forward([X, s1, ...], mask)` starts the
      loop from the given per-sample states (`state_count` arrays of shape (batch,
      output_dim): h, then c for LSTM) instead of zeros; `backward` then returns
      [dX, ds1, ...]. Only under the carry rules (Keras 2.x). A masked step keeps the
      states, so a masked prefix carries the given states.
    - `initial_output`: what a masked prefix outputs when initial states are given:
      "zero" (default; the previous output starts at 0 apart from the states: Keras 2.x's
      Theano backend's `initial_output`, keras-team 2.3.x on TensorFlow and tf.keras,
      which run tf.keras's rnn) or "state" (the given h: keras-team 2.0-2.2.x's TensorFlow
      backend outputs `states[0]` at a masked step; CNTK likewise). Without given states
      both are 0.
    - `stateful`: only False. Keras's stateful layers carry each sample's final states into
      the next batch and the next predict call, so their numbers depend on the call
      history; such a layer is refused (ConfigError) rather than computed from zero states.
    """

    default_activation = "tanh"
    default_inner_activation = "hard_sigmoid"
    projection = ()  # groups of (W name, b name, pre-activation or None)
    fused = {}       # fused name -> U names concatenated along axis 1
    # (U name, cache key, group): U's gradient is sum_t cache[t][key]^T · dproj[group][t],
    # the step's recurrent product feeding the same pre-activation as that projection group
    recurrent_grads = ()

    def __init__(self, output_dim, init="glorot_uniform", inner_init="orthogonal", activation=None,
                 inner_activation=None, weights=None, truncate_gradient=-1, return_sequences=False,
                 input_dim=None, input_length=None, input_shape=None, mask_rule="reset", go_backwards=False,
                 stateful=False, return_state=False, initial_output="zero"):
        super().__init__(weights=weights, input_shape=input_shape, input_dim=input_dim,
                         input_length=input_length)
        if int(output_dim) < 1:
            raise ConfigError(f"{type(self).__name__}: output_dim must be >= 1, got {output_dim}")
        self.output_dim = int(output_dim)
        self.init, self.inner_init = init, inner_init
        initializations.get(init), initializations.get(inner_init)
        self.activation = activations.get(activation or self.default_activation)
        self.inner_activation = activations.get(inner_activation or self.default_inner_activation)
        truncate_gradient = int(truncate_gradient)
        if truncate_gradient == 0 or truncate_gradient < -1:
            raise ConfigError(
                f"{type(self).__name__}: truncate_gradient must be -1 (full BPTT) or a positive "
                f"number of timesteps, got {truncate_gradient}"
            )
        self.truncate_gradient = truncate_gradient
        self.return_sequences = bool(return_sequences)
        self.input_dim, self.input_length = input_dim, input_length
        self.rule = get_rule(mask_rule, type(self).__name__)
        self.mask_rule = self.rule.name
        self.go_backwards = _flag(go_backwards, type(self).__name__, "go_backwards")
        if _flag(stateful, type(self).__name__, "stateful"):
            raise ConfigError(
                f"{type(self).__name__}: stateful=True is not supported: Keras carries each sample's final "
                "states into the next batch and the next predict call, so its numbers depend on the call "
                "history; rebuild the layer with stateful=False to compute a fresh model's first batch"
            )
        self.stateful = False
        self.return_state = _flag(return_state, type(self).__name__, "return_state")
        if initial_output not in INITIAL_OUTPUTS:
            raise ConfigError(f"{type(self).__name__}: unknown initial_output {quote(initial_output)}; "
                              f"accepted: {', '.join(INITIAL_OUTPUTS)}")
        self.initial_output = initial_output
        if self.return_state and self.mask_rule not in CARRY_RULES:
            # the releases of the other rules have no return_state; under the reset rule the
            # carried state is the masked one, which Keras never returned
            raise ConfigError(f"{type(self).__name__}: return_state=True needs a mask_rule of Keras 1.x/2.x "
                              f"({', '.join(CARRY_RULES)}), got {quote(self.mask_rule)}")

    config_keys = ("output_dim", "init", "inner_init", "activation", "inner_activation",
                   "truncate_gradient", "return_sequences", "input_dim", "input_length")

    # the arguments later releases added, written only when they differ from 0.2.0's
    # behaviour, so a 0.2.0 model's config is the one 0.2.0 wrote
    later_config_defaults = {"mask_rule": "reset", "go_backwards": False, "return_state": False,
                             "initial_output": "zero"}

    #: how many states the cell carries (LSTM: h and c); return_state returns them all
    state_count = 1

    @property
    def nb_outputs(self):
        return 1 + self.state_count if self.return_state else 1

    def get_config(self):
        config = super().get_config()
        for key, default in self.later_config_defaults.items():
            if getattr(self, key) != default:
                config[key] = getattr(self, key)
        return config

    # -- shapes ----------------------------------------------------------------------
    def output_shape(self, input_shape):
        if len(input_shape) != 2:
            raise ConfigError(f"layer {self.name}: a recurrent layer takes sequences of shape (timesteps, features), "
                              f"got input shape {tuple(input_shape)} (give input_shape [null, width] or input_dim)")
        T = input_shape[0]
        shape = (T, self.output_dim) if self.return_sequences else (self.output_dim,)
        if self.return_state:
            return [shape] + [(self.output_dim,)] * self.state_count
        return shape

    def output_mask(self, mask):
        mask = mask if self.return_sequences else None
        if self.return_state:  # the states have no time axis: no mask (Keras's compute_mask)
            return [mask] + [None] * self.state_count
        return mask

    def fused_params(self):
        """The weights plus the fused recurrent matrices the step uses (a Weights: joined
        names too)."""
        p = Weights(self.params)
        for name, parts in self.fused.items():
            p[name] = np.concatenate([self.params[u] for u in parts], axis=-1)  # biases too
        return p

    def projection_activations(self):
        return {}

    def project(self, o, x, p):
        """The input projection of every timestep at once, interpreting the `projection`
        table (see the module docstring) against the op set `o` as `step` is: x holds
        the input rows (..., d), `p` the weights (fused_params(), or their ONNX
        initializers), a name 'a|b' the concatenation of weights a and b. Returns (xs, cache):
        xs one tensor (..., width) per group; cache["pre"] the (input, output) of each
        entry's pre-activation in table order, cache["post"] {group: (input, output)} of
        projection_activations(), which the backward reads.

        One affine map for all entries (`o.affine`: NumPy computes it block by block,
        ONNX as one MatMul and a Split); the biases go in with it unless a pre-activation
        sits between the product and its bias."""
        entries = [entry for group in self.projection for entry in group]
        W = p["|".join(W for W, _, _ in entries)]
        cache = {"pre": [], "post": {}}
        if all(pre is None for _, _, pre in entries):
            widths = [sum(self.params[W].shape[1] for W, _, _ in group) for group in self.projection]
            xs = o.affine(x, W, p["|".join(b for _, b, _ in entries)], widths)
        else:
            parts = iter(o.affine(x, W, None, [self.params[W].shape[1] for W, _, _ in entries]))
            xs = []
            for group in self.projection:
                cols = []
                for (_, b, pre), part in zip(group, parts):
                    if pre is not None:
                        z, part = part, o.act(pre, part)
                        cache["pre"].append((z, part))
                    cols.append(o.add(part, p[b]))
                xs.append(o.concat(cols))
        for j, activation in self.projection_activations().items():  # gates reading the input only
            a, xs[j] = xs[j], o.act(activation, xs[j])
            cache["post"][j] = (a, xs[j])
        return xs, cache

    def initial_states(self, n):
        return (np.zeros((n, self.output_dim), self.dtype),)

    # -- forward ----------------------------------------------------------------------
    def split_initial(self, X, mask):
        """(X, mask, initial states or None) of a call: a list [X, s1, ...] gives the states
        (see the class); its mask may be a list too (the states carry none)."""
        if not isinstance(X, (list, tuple)):
            return X, mask, None
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        X, given = X[0], list(X[1:])
        name = type(self).__name__
        if self.mask_rule not in CARRY_RULES:
            raise ConfigError(f"{name}: initial states need a mask_rule of Keras 2.x ({', '.join(CARRY_RULES)}), "
                              f"got {quote(self.mask_rule)}")
        if len(self.initial_states(1)) != self.state_count:  # SimpleDeepRNN also carries its lags
            raise ConfigError(f"{name}: initial states are only read by LSTM, GRU and SimpleRNN layers")
        if len(given) != self.state_count:
            raise InputError(f"layer {self.name}: a {name} takes {self.state_count} initial state(s), "
                             f"got {len(given)}")
        n = X.shape[0]
        for i, s in enumerate(given):
            if getattr(s, "shape", None) != (n, self.output_dim):
                raise InputError(f"layer {self.name}: initial state {i} must have shape {(n, self.output_dim)}, "
                                 f"got {getattr(s, 'shape', None)}")
        return X, mask, tuple(np.array(s, dtype=self.dtype) for s in given)

    def forward(self, X, mask=None, train=False, rng=None):
        X, mask, given = self.split_initial(X, mask)
        self._given_initial = given is not None
        if X.ndim != 3:
            raise InputError(f"layer {self.name}: expects (batch, time, features) input, got rank {X.ndim}")
        if X.shape[2] != self.input_shape[-1]:
            raise InputError(f"layer {self.name}: input has width {X.shape[2]}, expected {self.input_shape[-1]}")
        n, T, d = X.shape
        if T == 0:
            raise InputError(f"layer {self.name}: sequences must have at least one timestep, got shape {X.shape}")
        rule = self.rule
        if mask is not None and not rule.applies(self):
            mask = None
        m = None if mask is None else np.ascontiguousarray(mask.T, dtype=self.dtype)[:, :, None]  # (T, n, 1)
        Xt = X.transpose(1, 0, 2)  # time-major
        if self.go_backwards:
            Xt, m = Xt[::-1], None if m is None else m[::-1]
        if m is not None and rule.masks_input:
            Xt = Xt * m
        X2 = np.ascontiguousarray(Xt, dtype=self.dtype).reshape(T * n, d)
        p = self.fused_params()
        # the input projection of every timestep: xs[g] is (T, n, width)
        xs, proj_cache = self.project(NP, X2, p)
        xs = [x.reshape(T, n, -1) for x in xs]
        states = self.initial_states(n) if given is None else given
        H = np.empty((T, n, self.output_dim), self.dtype)
        caches = [None] * T
        step = self.step
        step_masks = None if m is None else rule.step_mask(m)
        gates = None if m is None else rule.gates(NP, X2.reshape(T, n, d), m, batch_axis=1)
        # the carry rule's output before the first step (for the cells whose output is not state 0)
        output = np.zeros((n, self.output_dim), self.dtype)
        own_output = given is not None and self.initial_output == "zero"  # see the class
        for t in range(T):
            mt = None if step_masks is None else step_masks[t]
            h, new_states, cache = step(NP, [x[t] for x in xs], mt, states, p)
            cache["m"] = mt
            if gates is not None:
                cache["gate"] = gates[t]
                h, new_states = rule.merge(NP, gates[t], h, new_states, states, output, own_output=own_output)
                output = h
            H[t], states = h, new_states
            caches[t] = cache
        self._cache = (X2, self.projection, proj_cache["pre"], proj_cache["post"], p, caches, (n, T, d), m)
        Y = H.transpose(1, 0, 2) if self.return_sequences else H[-1]
        if self.return_state:  # the carried states after the last step (copies: H[-1] may be one)
            return [Y] + [np.array(s) for s in states]
        return Y

    # -- backward ---------------------------------------------------------------------
    def truncation_boundary(self, caches, first, dstates, p, g):
        """Truncated BPTT stopped before step `first`; `dstates` is the gradient of the
        states carried into it. Cells whose carried state holds terms that Theano's
        original computed inside a later step (SimpleDeepRNN's lags) give their weights
        the gradient of those terms here. Nothing flows into earlier steps."""

    def backward(self, dY):
        X2, table, pre_cache, post_cache, p, caches, (n, T, d), m = self._cache
        # the forward's projection table, each group's weights side by side (as `project`)
        groups = [(p["|".join(W for W, _, _ in group)], [(self.params[W].shape[1], pre) for W, _, pre in group])
                  for group in table]
        k = self.output_dim
        dfinal = None  # return_state: the gradients of the final states
        if self.return_state:
            dY, dfinal = dY[0], dY[1:]
            if dY is None:
                dY = np.zeros((n, T, k) if self.return_sequences else (n, k), self.dtype)
        if self.return_sequences:
            dH = np.ascontiguousarray(dY.transpose(1, 0, 2), dtype=self.dtype)
        else:
            dH = np.zeros((T, n, k), self.dtype)
            dH[-1] = dY
        first = 0 if self.truncate_gradient < 0 else max(0, T - self.truncate_gradient)
        # the step reads U as `d @ U.T`: Fortran-ordered copies make that a plain matmul
        # (of the recurrent matrices only: the projection weights are read after the loop)
        projected = {W for group in table for W, _, _ in group}
        pb = {name: np.asfortranarray(v) if v.ndim == 2 and name not in projected else v for name, v in p.items()}
        g = StepGradients(p, T)
        dproj = [np.empty((T, n, W_g.shape[1]), self.dtype) for W_g, _ in groups]
        dstates = tuple(np.zeros_like(s) for s in self.initial_states(n))
        if dfinal is not None:  # the final states are those the last step carried
            dstates = tuple(z if d is None else np.array(d, dtype=self.dtype) for z, d in zip(dstates, dfinal))
        step_backward = self.step_backward
        merged = "gate" in caches[0]
        doutput = np.zeros((n, k), self.dtype)  # the carry rule: the gradient of the output carried on
        for t in range(T - 1, first - 1, -1):
            g.t = t
            g.slots = [buf[t] for buf in dproj]  # a step may write its gradients here directly
            if merged:  # the backward of rule.merge: where(gate, new, old) sends each gradient one way
                gate, dh = caches[t]["gate"], dH[t] + doutput
                dstates_kept = tuple(np.where(gate, 0, ds) for ds in dstates)
                if self.rule.needs_output:
                    doutput = np.where(gate, 0, dh)
                dxs, dstates = step_backward(caches[t], np.where(gate, dh, 0),
                                             tuple(np.where(gate, ds, 0) for ds in dstates), pb, g)
                dstates = tuple(a + b for a, b in zip(dstates, dstates_kept))
            else:
                dxs, dstates = step_backward(caches[t], dH[t], dstates, pb, g)
            for slot, dx in zip(g.slots, dxs):
                if dx is not slot:
                    slot[...] = dx
        if first > 0:
            self.truncation_boundary(caches, first, dstates, pb, g)
        # the gradients of the given initial states: what reached the states the first step read
        dinitial = [np.array(ds) if first == 0 else np.zeros_like(ds) for ds in dstates]
        if first == 0 and merged and self.rule.needs_output and self.initial_output == "state":
            dinitial[0] += doutput  # a masked prefix output the given h
        g.flush()
        for U, key, group in self.recurrent_grads:
            left = np.stack([caches[t][key] for t in range(first, T)])
            g[U] += left.reshape(-1, left.shape[-1]).T @ dproj[group][first:].reshape(-1, g[U].shape[1])
        # the input projection backward, over the steps the truncated backward reached
        rows = slice(first * n, T * n)
        for j, (a, y) in post_cache.items():  # dproj[j] holds the gradient of the activated group
            dy = dproj[j][first:].reshape(-1, a.shape[1])
            self.projection_activations()[j].backward_into(a[rows], y[rows], dy, dy)
        dX_rows = None  # sum over groups of dXW·W_g^T, for the reached rows
        pre_iter = iter(pre_cache)
        for (W_g, entries), group, buf in zip(groups, table, dproj):
            dXW = buf[first:].reshape(-1, W_g.shape[1])
            db = dXW.sum(axis=0)  # pairwise summation: more accurate in float32 than a BLAS product
            start = 0
            for width, pre in entries:
                if pre is not None:
                    z, y = next(pre_iter)
                    dXW[:, start:start + width] = pre.backward(z[rows], y[rows], dXW[:, start:start + width])
                start += width
            dW_g = X2[rows].T @ dXW  # one product for the group's weights, split below
            start = 0
            for (width, _), (W, b, _) in zip(entries, group):
                g[W] += dW_g[:, start:start + width]
                g[b] += db[start:start + width]
                start += width
            if dX_rows is None:
                dX_rows = dXW @ W_g.T
            else:
                dX_rows += dXW @ W_g.T
        # unfuse: recurrent blocks back to their Keras names
        for name, parts in self.fused.items():
            for part, block in zip(parts, np.split(g[name], len(parts), axis=-1)):
                g[part] += block
        dX = dX_rows
        if first > 0:  # the steps before `first` get no gradient
            dX = np.zeros((T * n, d), self.dtype)
            dX[rows] = dX_rows
        dX = dX.reshape(T, n, d)
        if m is not None and self.rule.masks_input:
            dX = dX * m
        if self.go_backwards:
            dX = dX[::-1]
        dX = dX.transpose(1, 0, 2)
        if getattr(self, "_given_initial", False):
            dX = [dX] + dinitial
        return dX, [g[name] for name in self.weight_names]


#: a masked prefix's output when initial states are given (see Recurrent)
INITIAL_OUTPUTS = ("zero", "state")


def _flag(value, kind, key):
    if not isinstance(value, (bool, np.bool_)):
        raise ConfigError(f"{kind}: {key} must be true or false, got {quote(value)}")
    return bool(value)


class Weights(dict):
    """A layer's weights by name; a name 'a|b|...' (not stored) is the concatenation of
    weights a, b, ... along their last axis: one product serves several weight blocks
    (Recurrent.project)."""

    def __missing__(self, key):
        if "|" not in key:
            raise KeyError(key)
        return np.concatenate([self[part] for part in key.split("|")], axis=-1)


class StepGradients(dict):
    """The weight gradients of one backward pass, by name, plus `outer(name, a, b)`:
    `self[name] += a.T @ b` for the current step `t`, collected in (T, n, ·) buffers and
    summed over all steps with one matmul in `flush()` (at most one call per name and
    step; the steps seen must form one contiguous range). `slots[j]` is where step t's
    gradient of projection group j goes: a step may write it there and return it."""

    def __init__(self, p, T):
        super().__init__((name, np.zeros_like(value)) for name, value in p.items())
        self.t, self.T, self._outer, self.slots = 0, T, {}, []

    def outer(self, name, a, b):
        entry = self._outer.get(name)
        if entry is None:
            entry = self._outer[name] = [np.empty((self.T,) + a.shape, a.dtype),
                                         np.empty((self.T,) + b.shape, b.dtype), self.t, self.t]
        entry[0][self.t] = a
        entry[1][self.t] = b
        entry[2], entry[3] = min(entry[2], self.t), max(entry[3], self.t)

    def flush(self):
        for name, (A, B, lo, hi) in self._outer.items():
            A2 = A[lo:hi + 1].reshape(-1, A.shape[-1])
            B2 = B[lo:hi + 1].reshape(-1, B.shape[-1])
            self[name] += A2.T @ B2
        self._outer = {}
