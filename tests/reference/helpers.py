"""An independent re-implementation of SPEC.md, for checking the reference.

Nothing here imports `reference`: every formula is written out again from SPEC's
per-step equations, plainly, one timestep at a time. The oracle works on a leading
"copy" axis P so that one call evaluates a model under many weight perturbations at
once (finite differences of every weight in a single vectorised pass):

    weights  name -> array of shape (P, *shape)
    data     (P, n, T, d) (P may be 1 and broadcast)

Truncated BPTT has its own oracle: `surrogate=True` freezes every recurrent layer's
history before step T-K at the values of an unperturbed run, so finite differences of
the loss give exactly the gradient Theano's truncated scan computes (weights and inputs
collect nothing from steps < T-K, no gradient flows into the state carried into T-K).
"""
import numpy as np

# ----------------------------------------------------------------------------------
# activations (SPEC: "Activations by name") and their kinks
# ----------------------------------------------------------------------------------


def _softmax(x):
    e = np.exp(x - np.max(x, axis=-1, keepdims=True))
    return e / np.sum(e, axis=-1, keepdims=True)


ACT = {
    "linear": lambda x: x,
    "sigmoid": lambda x: 1.0 / (1.0 + np.exp(-x)),
    "hard_sigmoid": lambda x: np.minimum(np.maximum(0.2 * x + 0.5, 0.0), 1.0),
    "tanh": np.tanh,
    "relu": lambda x: np.maximum(x, 0.0),
    "softplus": lambda x: np.log1p(np.exp(x)),
    "softmax": _softmax,
}
KINKS = {"hard_sigmoid": (-2.5, 2.5), "relu": (0.0,)}


class Probe:
    """Records how close any input of a kinked activation came to its kink, so a
    finite-difference check can prove its central differences never straddled one."""

    def __init__(self):
        self.margin = np.inf
        self.flat_side = 0  # inputs seen on a flat piece (hard_sigmoid saturated, relu < 0)

    def act(self, name, x):
        for kink in KINKS.get(name, ()):
            self.margin = min(self.margin, float(np.min(np.abs(x - kink))))
        if name == "hard_sigmoid":
            self.flat_side += int(np.sum(np.abs(x) > 2.5))
        elif name == "relu":
            self.flat_side += int(np.sum(x < 0))
        return ACT[name](x)


# ----------------------------------------------------------------------------------
# weight tables, in Keras order, from SPEC ("The cells")
# ----------------------------------------------------------------------------------

CELLS = ("SimpleRNN", "SimpleDeepRNN", "GRU", "LSTM", "JZS1", "JZS2", "JZS3")

DEFAULT_ACTIVATIONS = {  # (activation, inner_activation)
    "SimpleRNN": ("sigmoid", None),
    "SimpleDeepRNN": ("sigmoid", "hard_sigmoid"),
    "GRU": ("sigmoid", "hard_sigmoid"),
    "LSTM": ("tanh", "hard_sigmoid"),
    "JZS1": ("tanh", "sigmoid"),
    "JZS2": ("tanh", "sigmoid"),
    "JZS3": ("tanh", "sigmoid"),
}


def cell_specs(cell, d, k, depth=3):
    """[(name, shape)] of a cell's weights in Keras get_weights order."""
    W, U, b = (d, k), (k, k), (k,)
    if cell == "SimpleRNN":
        return [("W", W), ("U", U), ("b", b)]
    if cell == "SimpleDeepRNN":
        return [("W", W)] + [(f"U_{j}", U) for j in range(1, depth + 1)] + [("b", b)]
    if cell in ("GRU", "JZS3"):
        return [(f"{kind}_{g}", s) for g in "zrh" for kind, s in (("W", W), ("U", U), ("b", b))]
    if cell == "LSTM":
        return [(f"{kind}_{g}", s) for g in "icfo" for kind, s in (("W", W), ("U", U), ("b", b))]
    if cell == "JZS1":
        return [("W_z", W), ("b_z", b), ("W_r", W), ("U_r", U), ("b_r", b), ("U_h", U), ("b_h", b), ("P", W)]
    if cell == "JZS2":
        return [("W_z", W), ("U_z", U), ("b_z", b), ("U_r", U), ("b_r", b), ("W_h", W), ("U_h", U),
                ("b_h", b), ("P", W)]
    raise KeyError(cell)


def random_weights(shapes, rng, scale=0.5):
    return [rng.uniform(-scale, scale, size=shape) for shape in shapes]


# ----------------------------------------------------------------------------------
# the cells, one timestep at a time
# ----------------------------------------------------------------------------------


def _mm(a, W):
    """(P, n, i) x (P, i, j) -> (P, n, j)."""
    return np.matmul(a, W)


def _b(w):
    """(P, k) bias -> (P, 1, k) for broadcasting over samples."""
    return w[:, None, :]


class Cell:
    """One recurrent layer of the oracle (SPEC formulas)."""

    recurrent = True

    def __init__(self, cell, output_dim, activation=None, inner_activation=None, depth=3,
                 return_sequences=False, truncate_gradient=-1):
        default_f, default_g = DEFAULT_ACTIVATIONS[cell]
        self.cell, self.k, self.depth = cell, output_dim, depth
        self.f = activation or default_f
        self.g = inner_activation or default_g
        self.return_sequences, self.truncate_gradient = return_sequences, truncate_gradient

    def specs(self, d):
        return cell_specs(self.cell, d, self.k, self.depth)

    def output_mask(self, mask):
        return mask if self.return_sequences else None

    def run(self, w, X, mask, probe, frozen=None):
        """X (P, n, T, d), mask (n, T) or None -> (output, history).

        history = {"h": [h_t (P, n, k)], "c": [...]}. With `frozen` (the history of an
        unperturbed run), the steps t < T-K are not recomputed: their h (and c) are
        taken from `frozen`, so nothing before T-K depends on the perturbed weights.
        """
        P = max(X.shape[0], max(v.shape[0] for v in w.values()))
        n, T = X.shape[1:3]
        m = np.ones((n, T)) if mask is None else np.asarray(mask, float)
        K = self.truncate_gradient
        start = max(0, T - K) if (frozen is not None and K > 0) else 0
        f = lambda x: probe.act(self.f, x)  # noqa: E731
        g = lambda x: probe.act(self.g, x)  # noqa: E731
        zero = np.zeros((P, n, self.k))
        hs, cs = [], []
        for t in range(T):
            if t < start:
                hs.append(np.broadcast_to(frozen["h"][t], (P, n, self.k)))
                if self.cell == "LSTM":
                    cs.append(np.broadcast_to(frozen["c"][t], (P, n, self.k)))
                continue
            x = X[:, :, t, :]
            mp = (m[:, t - 1] if t >= 1 else np.zeros(n))[None, :, None]
            h_prev = hs[t - 1] if t >= 1 else zero
            hm = mp * h_prev
            if self.cell == "SimpleRNN":
                h = f(_mm(x, w["W"]) + _b(w["b"]) + _mm(hm, w["U"]))
            elif self.cell == "SimpleDeepRNN":
                a = _mm(x, w["W"]) + _b(w["b"])
                for j in range(1, self.depth + 1):
                    if t - j >= 0:
                        a = a + m[:, t - j][None, :, None] * g(_mm(hs[t - j], w[f"U_{j}"]))
                h = f(a)
            elif self.cell == "GRU":
                z = g(_mm(x, w["W_z"]) + _b(w["b_z"]) + _mm(hm, w["U_z"]))
                r = g(_mm(x, w["W_r"]) + _b(w["b_r"]) + _mm(hm, w["U_r"]))
                hh = f(_mm(x, w["W_h"]) + _b(w["b_h"]) + _mm(r * hm, w["U_h"]))
                h = z * hm + (1 - z) * hh
            elif self.cell == "LSTM":
                cm = mp * (cs[t - 1] if t >= 1 else zero)
                i = g(_mm(x, w["W_i"]) + _b(w["b_i"]) + _mm(hm, w["U_i"]))
                fg = g(_mm(x, w["W_f"]) + _b(w["b_f"]) + _mm(hm, w["U_f"]))
                o = g(_mm(x, w["W_o"]) + _b(w["b_o"]) + _mm(hm, w["U_o"]))
                c = fg * cm + i * f(_mm(x, w["W_c"]) + _b(w["b_c"]) + _mm(hm, w["U_c"]))
                h = o * f(c)
                cs.append(c)
            elif self.cell == "JZS1":
                z = g(_mm(x, w["W_z"]) + _b(w["b_z"]))
                r = g(_mm(x, w["W_r"]) + _b(w["b_r"]) + _mm(hm, w["U_r"]))
                xh = np.tanh(_mm(x, w["P"])) + _b(w["b_h"])
                hh = f(xh + _mm(r * hm, w["U_h"]))
                h = hh * z + hm * (1 - z)
            elif self.cell == "JZS2":
                z = g(_mm(x, w["W_z"]) + _b(w["b_z"]) + _mm(hm, w["U_z"]))
                r = g(_mm(x, w["P"]) + _b(w["b_r"]) + _mm(hm, w["U_r"]))
                hh = f(_mm(x, w["W_h"]) + _b(w["b_h"]) + _mm(r * hm, w["U_h"]))
                h = hh * z + hm * (1 - z)
            elif self.cell == "JZS3":
                z = g(_mm(x, w["W_z"]) + _b(w["b_z"]) + _mm(np.tanh(hm), w["U_z"]))
                r = g(_mm(x, w["W_r"]) + _b(w["b_r"]) + _mm(hm, w["U_r"]))
                hh = f(_mm(x, w["W_h"]) + _b(w["b_h"]) + _mm(r * hm, w["U_h"]))
                h = hh * z + hm * (1 - z)
            else:
                raise KeyError(self.cell)
            hs.append(h)
        H = np.stack(hs, axis=2)  # (P, n, T, k)
        out = H if self.return_sequences else H[:, :, -1]
        return out, {"h": [h[:1] for h in hs], "c": [c[:1] for c in cs]}


class Embedding:
    recurrent = False

    def __init__(self, vocab, dim, mask_zero=False):
        self.vocab, self.dim, self.mask_zero = vocab, dim, mask_zero

    def specs(self, d):
        return [("E", (self.vocab, self.dim))]

    def mask_of(self, ids):
        return (ids != 0).astype(float) if self.mask_zero else None

    def run(self, w, ids, mask, probe, frozen=None):
        return w["E"][:, ids], None


class Masking:
    recurrent = False

    def __init__(self, mask_value=0.0):
        self.mask_value = mask_value

    def specs(self, d):
        return []

    def run(self, w, X, mask, probe, frozen=None):
        self.mask = np.any(X[0] != self.mask_value, axis=-1).astype(float)
        return X * self.mask[None, :, :, None], None


class Dense:
    recurrent = False

    def __init__(self, output_dim, activation="linear"):
        self.k, self.activation = output_dim, activation

    def specs(self, d):
        return [("W", (d, self.k)), ("b", (self.k,))]

    def run(self, w, X, mask, probe, frozen=None):
        A = np.matmul(X.reshape(X.shape[0], -1, X.shape[-1]), w["W"]).reshape(X.shape[:-1] + (self.k,))
        A = A + w["b"].reshape((w["b"].shape[0],) + (1,) * (X.ndim - 2) + (self.k,))
        return probe.act(self.activation, A), None


class Act:
    recurrent = False

    def __init__(self, name):
        self.name = name

    def specs(self, d):
        return []

    def run(self, w, X, mask, probe, frozen=None):
        return probe.act(self.name, X), None


class Oracle:
    """A Sequential model of the oracle layers above.

    `weights` is the flat Keras-order list a reference model's get_weights() gives.
    """

    def __init__(self, layers, input_dim):
        self.layers = layers
        self.shapes = []  # per layer: [(name, shape)]
        d = input_dim
        for layer in layers:
            specs = layer.specs(d)
            self.shapes.append(specs)
            if isinstance(layer, Embedding):
                d = layer.dim
            elif isinstance(layer, Cell):
                d = layer.k
            elif isinstance(layer, Dense):
                d = layer.k

    @property
    def flat_shapes(self):
        return [shape for specs in self.shapes for _, shape in specs]

    def _unflatten(self, batched):
        """batched: list of (P, *shape) arrays -> per-layer dicts."""
        it = iter(batched)
        return [{name: next(it) for name, _ in specs} for specs in self.shapes]

    def run(self, batched, X, probe=None, frozen=None):
        """batched weights (list of (P, *shape)) -> (outputs (P, ...), histories)."""
        probe = probe or Probe()
        ws = self._unflatten(batched)
        X = np.asarray(X)
        if not isinstance(self.layers[0], Embedding):
            X = X[None].astype(float)
        mask, histories = None, []
        for i, (layer, w) in enumerate(zip(self.layers, ws)):
            if isinstance(layer, Embedding):
                mask = layer.mask_of(X)
            X, hist = layer.run(w, X, mask, probe, None if frozen is None else frozen[i])
            histories.append(hist)
            if isinstance(layer, Masking):
                mask = layer.mask
            elif isinstance(layer, Cell):
                mask = layer.output_mask(mask)
            elif isinstance(layer, Dense) and X.ndim == 3:  # Dense on (P, n, k) drops the mask
                mask = None
        return X, histories

    def predict(self, weights, X, probe=None):
        out, _ = self.run([np.asarray(w, float)[None] for w in weights], X, probe)
        return out[0]

    def fd_gradients(self, weights, X, G, eps=1e-4, truncated=True, probe=None):
        """Finite differences of sum(Y * G) w.r.t. every weight, all in one batched run:
        the fourth-order central stencil (8(L(+e) - L(-e)) - (L(+2e) - L(-2e))) / 12e.

        With truncated=True, every recurrent layer with truncate_gradient=K > 0 is run
        as the truncated-BPTT surrogate (history before T-K frozen at the base run)."""
        weights = [np.asarray(w, float) for w in weights]
        sizes = [w.size for w in weights]
        N = sum(sizes)
        theta = np.concatenate([w.ravel() for w in weights])
        frozen = None
        if truncated:
            _, frozen = self.run([w[None] for w in weights], X, probe)
        steps = (eps, -eps, 2 * eps, -2 * eps)
        batched_theta = np.repeat(theta[None], len(steps) * N, axis=0)
        idx = np.arange(N)
        for j, step in enumerate(steps):
            batched_theta[j * N + idx, idx] += step
        batched, start = [], 0
        for w, size in zip(weights, sizes):
            batched.append(batched_theta[:, start:start + size].reshape((len(steps) * N,) + w.shape))
            start += size
        Y, _ = self.run(batched, X, probe, frozen)
        L = np.sum((Y * np.asarray(G, float)[None]).reshape(len(steps) * N, -1), axis=1).reshape(len(steps), N)
        flat = (8.0 * (L[0] - L[1]) - (L[2] - L[3])) / (12.0 * eps)
        out, start = [], 0
        for w, size in zip(weights, sizes):
            out.append(flat[start:start + size].reshape(w.shape))
            start += size
        return out


def draw_weights(oracle, X, rng, scale=0.8, margin=2e-3, tries=200):
    """Random weights whose unperturbed run keeps every kinked activation input at least
    `margin` away from its kink (redrawn otherwise), so finite differences are valid."""
    for _ in range(tries):
        weights = random_weights(oracle.flat_shapes, rng, scale)
        probe = Probe()
        oracle.predict(weights, X, probe)
        if probe.margin > margin:
            return weights
    raise AssertionError("could not draw weights away from the activation kinks")


# ----------------------------------------------------------------------------------
# comparisons
# ----------------------------------------------------------------------------------


WORST = {}  # label -> worst error seen in this session (printed by conftest)


def central_differences(f, p, h=1e-6):
    """d f(p) / dp, entry by entry: (f(p + h e) - f(p - h e)) / 2h."""
    numeric = np.zeros_like(p)
    for idx in np.ndindex(p.shape):
        up, down = p.copy(), p.copy()
        up[idx] += h
        down[idx] -= h
        numeric[idx] = (f(up) - f(down)) / (2 * h)
    return numeric


def record(label, value):
    WORST[label] = max(WORST.get(label, 0.0), value)
    return value


def rel_error(a, b):
    """max |a - b| / max(|a|, |b|) over all entries of all arrays, with the denominator
    floored at 1e-3 x the largest gradient entry (entries that small are compared
    absolutely at that scale)."""
    a = [np.asarray(x, float) for x in a]
    b = [np.asarray(x, float) for x in b]
    assert [x.shape for x in a] == [x.shape for x in b]
    scale = max(max((np.max(np.abs(x)) for x in a + b if x.size), default=0.0), 1e-12)
    worst = 0.0
    for x, y in zip(a, b):
        if x.size:
            denom = np.maximum(np.maximum(np.abs(x), np.abs(y)), 1e-3 * scale)
            worst = max(worst, float(np.max(np.abs(x - y) / denom)))
    return worst


def max_rel_diff(a, b):
    """max |a-b| / max|b| (for forward outputs)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


# ----------------------------------------------------------------------------------
# sequences with each kind of mask
# ----------------------------------------------------------------------------------

MASK_KINDS = ("none", "left", "right", "holes")


def mask_pattern(kind, n, T):
    """(n, T) 0/1 mask: left/right padding of different lengths, or holes in the middle
    (always one full-length row, and for holes a row whose last step is masked too)."""
    m = np.ones((n, T))
    if kind == "none":
        return m
    for i in range(1, n):
        pad = min(i + (i > 1), T - 1)
        if kind == "left":
            m[i, :pad] = 0
        elif kind == "right":
            m[i, T - pad:] = 0
        elif kind == "holes":
            m[i, 1 + (i % 2)] = 0
            if i > 1:
                m[i, T // 2 + 1] = 0
                m[i, T - 1] = 0
    return m


def token_ids(rng, mask, vocab):
    return np.where(mask > 0, rng.integers(1, vocab, size=mask.shape), 0)


# ----------------------------------------------------------------------------------
# the same model built with the reference (the code under test)
# ----------------------------------------------------------------------------------


def reference_layer(layer, input_dim=None, first=False):
    """A reference layer for an oracle layer description (weights set later)."""
    import reference as R

    shape = {"input_shape": (None, input_dim)} if first and input_dim is not None else {}
    if isinstance(layer, Cell):
        kw = dict(return_sequences=layer.return_sequences, truncate_gradient=layer.truncate_gradient,
                  activation=layer.f, **shape)
        if layer.cell != "SimpleRNN":
            kw["inner_activation"] = layer.g
        if layer.cell == "SimpleDeepRNN":
            kw["depth"] = layer.depth
        return getattr(R, layer.cell)(layer.k, **kw)
    if isinstance(layer, Embedding):
        return R.Embedding(layer.vocab, layer.dim, mask_zero=layer.mask_zero)
    if isinstance(layer, Masking):
        return R.Masking(mask_value=layer.mask_value, **shape)
    if isinstance(layer, Dense):
        return R.Dense(layer.k, activation=layer.activation)
    if isinstance(layer, Act):
        return R.Activation(layer.name)
    raise TypeError(layer)


def reference_model(oracle, weights, input_dim=None, dtype="float64"):
    import reference as R

    model = R.Sequential(dtype=dtype)
    for i, layer in enumerate(oracle.layers):
        model.add(reference_layer(layer, input_dim, first=(i == 0)))
    model.set_weights(weights)
    return model


def cce_entries(y, p, eps=1e-9):
    """Categorical crossentropy per entry (SPEC "Training"): predictions clipped to
    [eps, 1-eps] and renormalised."""
    p = np.clip(p, eps, 1 - eps)
    p = p / p.sum(axis=-1, keepdims=True)
    return -np.sum(y * np.log(p), axis=-1)


def entry_difference(model, weights, k, idx, loss, eps=1e-6):
    """The central difference of loss() in entry `idx` of weight array k, the model's
    weights being `weights` otherwise (and again afterwards)."""
    shifted = []
    for sign in (1, -1):
        ws = [w.copy() for w in weights]
        ws[k][idx] += sign * eps
        model.set_weights(ws)
        shifted.append(loss())
    model.set_weights(weights)
    return (shifted[0] - shifted[1]) / (2 * eps)


def sgd_step_error(model, before, after, loss, lr, eps=1e-6):
    """The worst relative gap between an SGD step (weights `before` -> `after`) and
    -lr times the central difference of loss() at each weight array's most-moved entry;
    asserts each such gradient is far from zero. Leaves `before` set on the model."""
    worst = 0.0
    for k in range(len(before)):
        idx = np.unravel_index(np.argmax(np.abs(after[k] - before[k])), before[k].shape)
        g = entry_difference(model, before, k, idx, loss, eps)
        assert abs(g) > 1e-5, (k, g)
        worst = max(worst, abs(after[k][idx] - before[k][idx] + lr * g) / abs(lr * g))
    model.set_weights(before)
    return worst
