"""Keras 0.2.0's regularizers (keras/regularizers.py) and how training honours them.

- `WeightRegularizer(l1, l2)` on a weight p adds `l1*sum|p| + l2*sum(p**2)` to the
  training loss (gradient `l1*sign(p) + 2*l2*p`; sign(0) = 0, as Theano's abs).
- `ActivityRegularizer(l1, l2)` on a layer's training-mode output Y (batch first) adds
  `l1*sum(mean(|Y|, axis=0)) + l2*sum(mean(Y**2, axis=0))`.
- `l1(l=0.01)`, `l2(l=0.01)`, `l1l2(l1=0.01, l2=0.01)`, `activity_l1`, `activity_l2`,
  `activity_l1l2` are 0.2.0's shorthands; `identity` (the base `Regularizer`) adds nothing.

0.2.0's `Sequential.compile` added every layer's regularizers to the training loss
(`train_on_batch` returns it with them); prediction never sees them. Configs name a
regularizer as 0.2.0's `get_config()` wrote it, `{"name": "WeightRegularizer", "l1": …,
"l2": …}` / `{"name": "ActivityRegularizer", …}`; a plain name ("l2") is read as 0.2.0's
`regularizers.get` read it (the shorthand with its default strength).

`Regularized` is the mixin of the layers that took `W_regularizer`, `b_regularizer`,
`activity_regularizer`, `W_constraint` and `b_constraint` in 0.2.0 (Dense,
TimeDistributedDense, MaxoutDense, Convolution1D; Embedding without the b_ ones; no
recurrent layer took any).
"""
import numpy as np

from . import constraints
from .errors import ConfigError
from .registry import from_table
from .validators import real


class Regularizer:
    kind = "identity"

    def penalty(self, value):
        return 0.0

    def gradient(self, value):
        return np.zeros_like(value)

    def get_config(self):
        return {"name": type(self).__name__}

    def __repr__(self):
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.get_config().items() if k != 'name')})"


class _L1L2(Regularizer):
    def __init__(self, l1=0., l2=0.):
        for key, value in (("l1", l1), ("l2", l2)):
            real(value, type(self).__name__, key)  # kept as given (get_config writes it back)
        self.l1, self.l2 = l1, l2

    def get_config(self):
        return {"name": type(self).__name__, "l1": self.l1, "l2": self.l2}


class WeightRegularizer(_L1L2):
    kind = "weight"  # of a weight (W_regularizer, b_regularizer)

    def penalty(self, p):
        return self.l1 * np.sum(np.abs(p)) + self.l2 * np.sum(p ** 2)

    def gradient(self, p):
        return (self.l1 * np.sign(p) + 2 * self.l2 * p).astype(p.dtype, copy=False)


class ActivityRegularizer(_L1L2):
    kind = "activity"  # of a layer's output (activity_regularizer)

    def penalty(self, Y):
        return self.l1 * np.sum(np.mean(np.abs(Y), axis=0)) + self.l2 * np.sum(np.mean(Y ** 2, axis=0))

    def gradient(self, Y):
        return ((self.l1 * np.sign(Y) + 2 * self.l2 * Y) / len(Y)).astype(Y.dtype, copy=False)


def l1(l=0.01):
    return WeightRegularizer(l1=l)


def l2(l=0.01):
    return WeightRegularizer(l2=l)


def l1l2(l1=0.01, l2=0.01):
    return WeightRegularizer(l1=l1, l2=l2)


def activity_l1(l=0.01):
    return ActivityRegularizer(l1=l)


def activity_l2(l=0.01):
    return ActivityRegularizer(l2=l)


def activity_l1l2(l1=0.01, l2=0.01):
    return ActivityRegularizer(l1=l1, l2=l2)


identity = Regularizer

#: every name 0.2.0's `regularizers.get` / its loader resolved, -> factory
NAMES = {"WeightRegularizer": WeightRegularizer, "ActivityRegularizer": ActivityRegularizer,
         "Regularizer": Regularizer, "identity": identity, "l1": l1, "l2": l2, "l1l2": l1l2,
         "activity_l1": activity_l1, "activity_l2": activity_l2, "activity_l1l2": activity_l1l2}


def get(identifier, kind, where):
    """The regularizer `identifier` names, which must be of `kind` ("weight" for
    W_/b_regularizer, "activity" for activity_regularizer); None stays None."""
    reg = identifier if isinstance(identifier, Regularizer) else from_table(NAMES, "regularizer", identifier, where)
    if reg is not None and reg.kind not in (kind, "identity"):
        accepted = [n for n, factory in NAMES.items() if factory().kind in (kind, "identity")]
        what = {"weight": "a weight", "activity": "a layer's output"}[reg.kind]
        raise ConfigError(f"{where}: {type(reg).__name__} regularizes {what}, this argument takes a "
                          f"{kind} regularizer; accepted: {', '.join(accepted)}")
    return reg


# ---------------------------------------------------------------------------------------
# layers that take them
# ---------------------------------------------------------------------------------------
REGULARIZER_ARGS = {"W_regularizer": "weight", "b_regularizer": "weight", "activity_regularizer": "activity"}
CONSTRAINT_ARGS = ("W_constraint", "b_constraint")


class Regularized:
    """Mixin: 0.2.0's regularizer and constraint arguments. `regularized_weights` maps
    "W"/"b" to the layer's weight names; a layer lists the arguments it took in 0.2.0
    in `regularizer_args` (config order)."""

    regularized_weights = {"W": "W", "b": "b"}
    regularizer_args = ("W_regularizer", "b_regularizer", "activity_regularizer", "W_constraint", "b_constraint")

    def init_regularizers(self, **given):
        where = f"layer {type(self).__name__}"
        for key in self.regularizer_args:
            value = given.get(key)
            if key in REGULARIZER_ARGS:
                value = get(value, REGULARIZER_ARGS[key], f"{where} {key}")
            else:
                value = constraints.get(value, f"{where} {key}")
            setattr(self, key, value)

    def weight_regularizers(self):
        """[(weight name, regularizer)] of the weights with one."""
        return [(self.regularized_weights[slot], getattr(self, f"{slot}_regularizer"))
                for slot in ("W", "b") if getattr(self, f"{slot}_regularizer", None) is not None]

    def weight_constraints(self):
        return {self.regularized_weights[slot]: getattr(self, f"{slot}_constraint")
                for slot in ("W", "b") if getattr(self, f"{slot}_constraint", None) is not None}


def leaf_layers(layers):
    """Every layer of a model in get_weights order, inside Merge branches too."""
    for layer in layers:
        branches = getattr(layer, "_branch_layers", None)
        if branches is not None:
            yield from leaf_layers(branches())
        else:
            yield layer


def penalty(model):
    """The regularization terms 0.2.0 added to the training loss, for the weights as
    they are and the activities of the last training-mode forward."""
    total = 0.0
    for layer in leaf_layers(model.layers):
        for name, reg in (layer.weight_regularizers() if isinstance(layer, Regularized) else ()):
            total += reg.penalty(layer.params[name])
        reg, Y = getattr(layer, "activity_regularizer", None), getattr(layer, "activity_output", None)
        if reg is not None and Y is not None:
            total += reg.penalty(Y)
    return float(total)


def add_weight_gradients(model, grads):
    """grads (get_weights order) plus the weight regularizers' gradients."""
    grads, i = list(grads), 0
    for layer in leaf_layers(model.layers):
        names = layer.weight_names
        if isinstance(layer, Regularized):
            for name, reg in layer.weight_regularizers():
                j = i + names.index(name)
                grads[j] = grads[j] + reg.gradient(layer.params[name])
        i += len(names)
    return grads


def weight_roles(model):
    """[(layer, weight name, trainable)] in get_weights order: running statistics
    (a layer's `state_weights`) are updated by the layer, not by the optimizer."""
    return [(layer, name, name not in getattr(layer, "state_weights", ()))
            for layer in leaf_layers(model.layers) for name in layer.weight_names]
