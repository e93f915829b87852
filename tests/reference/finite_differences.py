"""Central finite differences of a single layer: the independent check of its backward."""
import numpy as np

from .helpers import central_differences, entry_difference


def check_layer_gradients(layer, X, mask=None, train=False, seed=0, eps=1e-6, rtol=1e-6, kinks=()):
    """Compare `layer.backward` (built, float64) with central differences of
    sum(forward(X) * G) in every input entry and every weight entry. In training mode the
    layer draws from a fresh rng of the same seed at every call, so each difference sees
    the same noise. `kinks`: input values where the layer is not differentiable; the
    check asserts no input lies within eps of one (a difference would straddle it)."""
    X = np.array(X, dtype=np.float64)
    for kink in kinks:
        assert np.min(np.abs(X - kink)) > 10 * eps, f"an input lies within {10 * eps} of the kink at {kink}"

    def run(x):
        return layer.forward(x, mask, train=train, rng=np.random.default_rng(seed))

    G = np.random.default_rng(seed + 1).normal(size=run(X).shape)
    dX, dW = layer.backward(G)

    def loss(x):
        return float(np.sum(run(x) * G))

    if dX is not None:
        fd = central_differences(loss, X, eps)
        assert dX.shape == X.shape
        assert np.max(np.abs(dX - fd)) <= rtol * max(1.0, np.max(np.abs(fd))), "input gradient"
    weights = [np.array(w) for w in layer.get_weights()]
    assert len(dW) == len(weights)
    for k, (w, g) in enumerate(zip(weights, dW)):
        def loss_at(v, k=k):
            layer.set_weights(weights[:k] + [v] + weights[k + 1:])
            return loss(X)

        fd = central_differences(loss_at, w, eps)
        layer.set_weights(weights)
        assert g.shape == w.shape
        assert np.max(np.abs(g - fd)) <= rtol * max(1.0, np.max(np.abs(fd))), f"weight {k} gradient"
    return dX, dW


def check_model_gradients(model, X, arrays=None, eps=1e-6, rtol=1e-6, atol=0.0, nonzero=False, seed=0):
    """`model.gradients` against central differences of sum(predict(X) * G) (a Graph: summed
    over its outputs) at the largest gradient entry of each weight array (`arrays`: their
    indices; default all). rtol is relative to max(1, |fd|) when atol is 0, else to |fd|;
    `nonzero`: the difference must not vanish (the weight reaches the output). Returns the
    worst relative gap."""
    Y = model.predict(X)
    rng = np.random.default_rng(seed)
    if isinstance(Y, dict):  # a Graph: one G per output, the objective summed over them
        G = {k: rng.normal(size=v.shape) for k, v in Y.items()}
        def objective():
            return sum(np.sum(model.predict(X)[k] * G[k]) for k in G)
    else:
        G = rng.normal(size=Y.shape)
        def objective():
            return np.sum(model.predict(X) * G)
    grads = model.gradients(X, G)
    weights = model.get_weights()
    assert [g.shape for g in grads] == [w.shape for w in weights]
    worst = 0.0
    for k in range(len(weights)) if arrays is None else arrays:
        idx = np.unravel_index(np.argmax(np.abs(grads[k])), grads[k].shape)
        fd = entry_difference(model, weights, k, idx, objective, eps)
        bound = rtol * abs(fd) + atol if atol else rtol * max(1.0, abs(fd))
        worst = max(worst, abs(fd - grads[k][idx]) / max(abs(fd), 1e-300))
        assert abs(fd - grads[k][idx]) <= bound and (abs(fd) > 1e-6 or not nonzero), (k, fd, grads[k][idx])
    return worst
