"""Keras 0.2.0 optimizers: same constructor arguments, defaults, update rules and get_config.

Update rules (g: the gradient after clipping, all state starts at zero, `iterations`
counts the updates already applied):

- SGD:      lr_t = lr / (1 + decay*iterations);  v = momentum*m - lr_t*g;  m <- v
            p <- p + v,  or with nesterov  p <- p + momentum*v - lr_t*g
- RMSprop:  a <- rho*a + (1-rho)*g²;  p <- p - lr*g / sqrt(a + epsilon)
- Adagrad:  a <- a + g²;              p <- p - lr*g / sqrt(a + epsilon)
- Adadelta: a <- rho*a + (1-rho)*g²;  u = g*sqrt(d + epsilon)/sqrt(a + epsilon)
            p <- p - lr*u;  d <- rho*d + (1-rho)*u²      (d: the old delta accumulator)
- Adam:     t = iterations + 1;  lr_t = lr*sqrt(1-beta_2^t)/(1-beta_1^t)
            m <- beta_1*m + (1-beta_1)*g;  v <- beta_2*v + (1-beta_2)*g²
            p <- p - lr_t*m / (sqrt(v) + epsilon)

Every optimizer also takes `clipnorm` (when the global L2 norm n of all gradients
is >= clipnorm, every gradient is scaled by clipnorm/n) and `clipvalue` (each
gradient clipped to [-clipvalue, clipvalue]), as 0.2.0's Optimizer did.

`update(params, grads)` is pure: it returns the new parameters and the new state
without changing anything; the caller applies both with `commit` (so an interrupted
or rejected step leaves the optimizer untouched). The state is reset by
`Sequential.compile`.
"""
import numpy as np

from .errors import ConfigError
from .untrusted import quote


class Optimizer:
    #: constructor arguments (besides clipnorm/clipvalue) in Keras 0.2.0 order
    arg_names = ()
    #: per-parameter state arrays (all start at zero)
    slot_names = ()

    def __init__(self, **kwargs):
        for key in kwargs:
            if key not in ("clipnorm", "clipvalue"):
                raise ConfigError(
                    f"{type(self).__name__}: unexpected argument {quote(key)}; accepted: "
                    f"{', '.join(self.arg_names + ('clipnorm', 'clipvalue'))}"
                )
        for key, value in kwargs.items():
            if value is not None:
                value = float(value)
                if not value >= 0:
                    raise ConfigError(f"{type(self).__name__}: {key} must be >= 0, got {value}")
            setattr(self, key, value)
        self.reset()

    # -- state ---------------------------------------------------------------------------
    def reset(self):
        """Forget the accumulated state (iterations and slots)."""
        self.iterations = 0
        self.slots = None  # {slot name: [array per parameter]}

    def get_state(self):
        """A copy of the state: {"iterations": int, "slots": {name: [arrays]} or None}."""
        slots = None if self.slots is None else {k: [a.copy() for a in v] for k, v in self.slots.items()}
        return {"iterations": self.iterations, "slots": slots}

    def set_state(self, state):
        self.iterations = int(state["iterations"])
        slots = state.get("slots")
        self.slots = None if slots is None else {k: [np.array(a) for a in v] for k, v in slots.items()}

    # -- gradients -----------------------------------------------------------------------
    def get_gradients(self, grads):
        """The gradients after clipnorm / clipvalue, as 0.2.0's get_gradients."""
        grads = list(grads)
        clipnorm = getattr(self, "clipnorm", None)
        if clipnorm is not None and clipnorm > 0:
            norm = np.sqrt(sum(float(np.sum(np.square(g, dtype=np.float64))) for g in grads))
            if norm >= clipnorm:
                grads = [g * (clipnorm / norm) for g in grads]
        clipvalue = getattr(self, "clipvalue", None)
        if clipvalue is not None and clipvalue > 0:
            grads = [np.clip(g, -clipvalue, clipvalue) for g in grads]
        return grads

    # -- one update ----------------------------------------------------------------------
    def update(self, params, grads):
        """(new params, new state) for one step; nothing is modified."""
        if len(params) != len(grads):
            raise ConfigError(f"{len(params)} parameters but {len(grads)} gradients")
        grads = [np.asarray(g, dtype=p.dtype) for p, g in zip(params, grads)]
        grads = self.get_gradients(grads)
        slots = self.slots
        if slots is None or any(len(v) != len(params) for v in slots.values()) or any(
                a.shape != p.shape for v in slots.values() for a, p in zip(v, params)):
            slots = {name: [np.zeros_like(p) for p in params] for name in self.slot_names}
        new_params, new_slots = [], {name: [] for name in self.slot_names}
        for i, (p, g) in enumerate(zip(params, grads)):
            state = {name: slots[name][i] for name in self.slot_names}
            new_p, new_state = self._step(p, g, state, self.iterations)
            new_params.append(np.asarray(new_p, dtype=p.dtype))
            for name in self.slot_names:
                new_slots[name].append(np.asarray(new_state[name], dtype=p.dtype))
        return new_params, {"iterations": self.iterations + 1, "slots": new_slots}

    def commit(self, state):
        self.iterations, self.slots = state["iterations"], state["slots"]

    def _step(self, p, g, state, iterations):
        raise NotImplementedError

    # -- config --------------------------------------------------------------------------
    def get_config(self):
        """{"name": class name, and the constructor arguments} as Keras 0.2.0 saved it
        (plus clipnorm / clipvalue when set, which 0.2.0's constructors also accept)."""
        config = {"name": type(self).__name__}
        for key in self.arg_names:
            value = getattr(self, key)
            config[key] = value if isinstance(value, bool) else float(value)
        for key in ("clipnorm", "clipvalue"):
            if getattr(self, key, None) is not None:
                config[key] = getattr(self, key)
        return config

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "name")
        return f"{type(self).__name__}({args})"


class SGD(Optimizer):
    arg_names = ("lr", "momentum", "decay", "nesterov")
    slot_names = ("m",)

    def __init__(self, lr=0.01, momentum=0., decay=0., nesterov=False, *args, **kwargs):
        self.lr, self.momentum, self.decay = float(lr), float(momentum), float(decay)
        self.nesterov = bool(nesterov)
        super().__init__(**kwargs)

    def _step(self, p, g, state, iterations):
        lr = self.lr * (1.0 / (1.0 + self.decay * iterations))
        v = self.momentum * state["m"] - lr * g
        if self.nesterov:
            new_p = p + self.momentum * v - lr * g
        else:
            new_p = p + v
        return new_p, {"m": v}


class RMSprop(Optimizer):
    arg_names = ("lr", "rho", "epsilon")
    slot_names = ("a",)

    def __init__(self, lr=0.001, rho=0.9, epsilon=1e-6, *args, **kwargs):
        self.lr, self.rho, self.epsilon = float(lr), float(rho), float(epsilon)
        super().__init__(**kwargs)

    def _step(self, p, g, state, iterations):
        a = self.rho * state["a"] + (1 - self.rho) * g ** 2
        return p - self.lr * g / np.sqrt(a + self.epsilon), {"a": a}


class Adagrad(Optimizer):
    arg_names = ("lr", "epsilon")
    slot_names = ("a",)

    def __init__(self, lr=0.01, epsilon=1e-6, *args, **kwargs):
        self.lr, self.epsilon = float(lr), float(epsilon)
        super().__init__(**kwargs)

    def _step(self, p, g, state, iterations):
        a = state["a"] + g ** 2
        return p - self.lr * g / np.sqrt(a + self.epsilon), {"a": a}


class Adadelta(Optimizer):
    arg_names = ("lr", "rho", "epsilon")
    slot_names = ("a", "d")

    def __init__(self, lr=1.0, rho=0.95, epsilon=1e-6, *args, **kwargs):
        self.lr, self.rho, self.epsilon = float(lr), float(rho), float(epsilon)
        super().__init__(**kwargs)

    def _step(self, p, g, state, iterations):
        a = self.rho * state["a"] + (1 - self.rho) * g ** 2
        d = state["d"]
        u = g * np.sqrt(d + self.epsilon) / np.sqrt(a + self.epsilon)
        return p - self.lr * u, {"a": a, "d": self.rho * d + (1 - self.rho) * u ** 2}


class Adam(Optimizer):
    arg_names = ("lr", "beta_1", "beta_2", "epsilon")
    slot_names = ("m", "v")

    def __init__(self, lr=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-8, *args, **kwargs):
        self.lr, self.beta_1, self.beta_2, self.epsilon = float(lr), float(beta_1), float(beta_2), float(epsilon)
        super().__init__(**kwargs)

    def _step(self, p, g, state, iterations):
        t = iterations + 1
        lr_t = float(self.lr * np.sqrt(1 - self.beta_2 ** t) / (1 - self.beta_1 ** t))
        m = self.beta_1 * state["m"] + (1 - self.beta_1) * g
        v = self.beta_2 * state["v"] + (1 - self.beta_2) * g ** 2
        return p - lr_t * m / (np.sqrt(v) + self.epsilon), {"m": m, "v": v}


OPTIMIZERS = {cls.__name__: cls for cls in (SGD, RMSprop, Adagrad, Adadelta, Adam)}
#: 0.2.0's lower-case aliases
ALIASES = {name.lower(): name for name in OPTIMIZERS}
sgd, rmsprop, adagrad, adadelta, adam = SGD, RMSprop, Adagrad, Adadelta, Adam


def accepted_names():
    return sorted(OPTIMIZERS) + sorted(ALIASES)


def get(identifier, kwargs=None):
    """An optimizer from a name (instantiated with `kwargs`), a config dict
    ({"name": ..., settings}) or an Optimizer instance (returned as is)."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, dict):
        return from_config(identifier)
    if isinstance(identifier, str):
        name = ALIASES.get(identifier, identifier)
        if name not in OPTIMIZERS:
            raise ConfigError(f"unknown optimizer {quote(identifier)}; accepted: {', '.join(accepted_names())}")
        return OPTIMIZERS[name](**(kwargs or {}))
    raise ConfigError(
        f"optimizer must be a name or an Optimizer instance, got {quote(identifier)}; "
        f"accepted names: {', '.join(accepted_names())}"
    )


def from_config(config):
    """The optimizer a `get_config()` dict (as stored in a legacy model file) describes."""
    config = dict(config)
    name = config.pop("name", None)
    if name is None:
        raise ConfigError(f"optimizer config has no 'name': {quote(config)}")
    return get(name, config)
