"""GRU(reset_after), return_state, the carry_zero rule and Bidirectional: closed forms,
cross-checks against the unidirectional layers run by hand, and central differences."""
import numpy as np
import pytest

from reference import GRU, LSTM, Bidirectional, Sequential, SimpleDeepRNN, SimpleRNN
from reference.errors import ConfigError

N, T, D, K = 3, 6, 4, 3
# row 0 left padding and a hole, row 1 right padding, row 2 all masked
MASK = np.array([[0, 0, 1, 0, 1, 1], [1, 1, 1, 0, 0, 0], [0, 0, 0, 0, 0, 0]], float)
CELLS = {"LSTM": LSTM, "GRU": GRU, "SimpleRNN": SimpleRNN}


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def hard_sigmoid(x):
    return np.clip(0.2 * x + 0.5, 0, 1)


def built(layer, seed=0, scale=0.7):
    rng = np.random.default_rng(seed)
    layer.build((None, D), "float64", rng)
    layer.set_weights([rng.normal(0, scale, w.shape) for w in layer.get_weights()])
    return layer


def inputs(seed=1):
    return np.random.default_rng(seed).normal(size=(N, T, D))


def as_list(y):
    return y if isinstance(y, list) else [y]


def check_gradients(layer, X, mask, eps=1e-6, tol=1e-7, unused=()):
    """layer.backward (list of output gradients, None for the outputs in `unused`) against
    central differences of sum_i sum(Y_i * G_i) in every input and weight entry."""
    rng = np.random.default_rng(2)
    G = [None if i in unused else rng.normal(size=y.shape) for i, y in enumerate(as_list(layer.forward(X, mask)))]

    def loss():
        return sum(float(np.sum(y * g)) for y, g in zip(as_list(layer.forward(X, mask)), G) if g is not None)

    layer.forward(X, mask)
    dX, dW = layer.backward(G if layer.nb_outputs > 1 else G[0])
    worst = 0.0
    for target, grad in [(X, dX)] + list(zip(layer.get_weights(), dW)):
        fd = np.zeros_like(target)
        for i in np.ndindex(target.shape):
            keep = target[i]
            target[i] = keep + eps
            up = loss()
            target[i] = keep - eps
            down = loss()
            target[i] = keep
            fd[i] = (up - down) / (2 * eps)
        worst = max(worst, float(np.max(np.abs(grad - fd)) / max(1.0, float(np.max(np.abs(fd))))))
    assert worst <= tol, worst
    return worst


# -- GRU(reset_after) --------------------------------------------------------------------

def reset_after_closed_form(ws, X, g, f=np.tanh):
    W_z, U_z, b_z, W_r, U_r, b_r, W_h, U_h, b_h, bU_z, bU_r, bU_h = ws
    h, out = np.zeros((X.shape[0], U_z.shape[0])), []
    for t in range(X.shape[1]):
        x = X[:, t]
        z = g(x @ W_z + b_z + h @ U_z + bU_z)
        r = g(x @ W_r + b_r + h @ U_r + bU_r)
        hh = f(x @ W_h + b_h + r * (h @ U_h + bU_h))
        h = z * h + (1 - z) * hh
        out.append(h)
    return np.stack(out, axis=1)


@pytest.mark.parametrize("inner", ["sigmoid", "hard_sigmoid"])
def test_gru_reset_after_is_the_closed_form(inner):
    layer = built(GRU(K, activation="tanh", inner_activation=inner, reset_after=True, return_sequences=True))
    assert layer.weight_names == ["W_z", "U_z", "b_z", "W_r", "U_r", "b_r", "W_h", "U_h", "b_h",
                                  "bU_z", "bU_r", "bU_h"]
    X = inputs()
    gate = {"sigmoid": sigmoid, "hard_sigmoid": hard_sigmoid}[inner]
    expected = reset_after_closed_form(layer.get_weights(), X, gate)
    assert np.max(np.abs(layer.forward(X) - expected)) < 1e-14


def test_gru_reset_after_with_zero_recurrent_biases_differs_from_reset_before():
    """The reset gate's place matters: same nine weights, different numbers."""
    after = built(GRU(K, activation="tanh", reset_after=True, return_sequences=True))
    before = GRU(K, activation="tanh", return_sequences=True)
    before.build((None, D), "float64", np.random.default_rng(0))
    before.set_weights(after.get_weights()[:9])
    after.set_weights(after.get_weights()[:9] + [np.zeros(K)] * 3)
    assert np.max(np.abs(after.forward(inputs()) - before.forward(inputs()))) > 1e-3


@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("masked", [False, True])
def test_gru_reset_after_gradients(masked, go_backwards):
    layer = built(GRU(K, activation="tanh", inner_activation="sigmoid", reset_after=True, return_sequences=True,
                      mask_rule="carry", go_backwards=go_backwards))
    check_gradients(layer, inputs(), MASK if masked else None)


def test_gru_reset_after_config():
    assert GRU(K, reset_after=True).get_config()["reset_after"] is True
    assert "reset_after" not in GRU(K).get_config()  # 0.2.0's config stays 0.2.0's
    with pytest.raises(ConfigError, match="reset_after"):
        GRU(K, reset_after="yes")


# -- return_state -----------------------------------------------------------------------

def carried_by_hand(cell, kwargs, weights, X, mask, go_backwards):
    """The final carried states: the unmasked steps of each row run alone (carry rule)."""
    states = []
    for i in range(X.shape[0]):
        steps = np.flatnonzero(mask[i]) if mask is not None else np.arange(X.shape[1])
        if go_backwards:
            steps = steps[::-1]
        if len(steps) == 0:
            states.append(None)
            continue
        layer = CELLS[cell](K, return_sequences=False, mask_rule="carry", **kwargs)
        layer.build((None, D), "float64", np.random.default_rng(0))
        layer.set_weights(weights)
        layer.forward(X[i:i + 1, steps])
        states.append(layer)
    return states


@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("cell", sorted(CELLS))
def test_return_state_gives_the_final_carried_states(cell, return_sequences, go_backwards):
    kwargs = {"activation": "tanh"}
    layer = built(CELLS[cell](K, return_sequences=return_sequences, return_state=True, mask_rule="carry",
                              go_backwards=go_backwards, **kwargs))
    X = inputs()
    outputs = layer.forward(X, MASK)
    assert layer.nb_outputs == len(outputs) == (3 if cell == "LSTM" else 2)
    plain = built(CELLS[cell](K, return_sequences=return_sequences, mask_rule="carry", go_backwards=go_backwards,
                              **kwargs))
    assert np.array_equal(outputs[0], plain.forward(X, MASK))
    # each row's states after its last unmasked step, computed on those steps alone; zeros
    # for the all-masked row
    for i, state_layer in enumerate(carried_by_hand(cell, kwargs, layer.get_weights(), X, MASK, go_backwards)):
        if state_layer is None:
            assert all(np.all(s[i] == 0) for s in outputs[1:])
            continue
        h = state_layer.forward(X[i:i + 1, (np.flatnonzero(MASK[i])[::-1] if go_backwards
                                            else np.flatnonzero(MASK[i]))])
        assert np.max(np.abs(outputs[1][i] - h[0])) < 1e-14
        if cell == "LSTM":  # c: the cell state of that run
            assert np.max(np.abs(outputs[2][i] - state_layer._cache[5][-1]["c"][0])) < 1e-14
    shapes = layer.output_shape((T, D))
    assert shapes == [(T, K) if return_sequences else (K,)] + [(K,)] * (layer.nb_outputs - 1)
    assert layer.output_mask(MASK)[0] is (MASK if return_sequences else None)
    assert layer.output_mask(MASK)[1:] == [None] * (layer.nb_outputs - 1)


@pytest.mark.parametrize("cell", sorted(CELLS))
def test_return_state_gradients(cell):
    layer = built(CELLS[cell](K, activation="tanh", return_sequences=True, return_state=True, mask_rule="carry"))
    check_gradients(layer, inputs(), MASK)
    check_gradients(layer, inputs(), MASK, unused=(0,))  # only the states are used


def test_return_state_needs_a_carry_rule():
    with pytest.raises(ConfigError, match="return_state=True needs a mask_rule"):
        LSTM(K, return_state=True)  # the default rule is 0.2.0's reset rule
    with pytest.raises(ConfigError, match="return_state"):
        SimpleDeepRNN(K, return_state=True)
    assert LSTM(K, return_state=True, mask_rule="carry").get_config()["return_state"] is True


# -- the carry_zero rule (tf.keras's zero_output_for_mask) -------------------------------

@pytest.mark.parametrize("cell", sorted(CELLS))
def test_carry_zero_outputs_zero_at_masked_steps_and_carries_the_states(cell):
    carry = built(CELLS[cell](K, activation="tanh", return_sequences=True, return_state=True, mask_rule="carry"))
    zero = built(CELLS[cell](K, activation="tanh", return_sequences=True, return_state=True,
                             mask_rule="carry_zero"))
    X = inputs()
    y_carry, y_zero = carry.forward(X, MASK), zero.forward(X, MASK)
    assert np.array_equal(y_zero[0], y_carry[0] * MASK[:, :, None])
    for a, b in zip(y_carry[1:], y_zero[1:]):
        assert np.array_equal(a, b)
    check_gradients(zero, X, MASK)


# -- Bidirectional ------------------------------------------------------------------------

MERGES = {"concat": lambda a, b: np.concatenate([a, b], axis=-1), "sum": lambda a, b: a + b,
          "mul": lambda a, b: a * b, "ave": lambda a, b: (a + b) / 2}


def by_hand(cell, kwargs, weights, X, mask, go_backwards=False):
    """The forward layer, the go_backwards layer, the backward outputs re-reversed."""
    half = len(weights) // 2
    halves = []
    for backwards, ws in ((go_backwards, weights[:half]), (not go_backwards, weights[half:])):
        layer = CELLS[cell](K, go_backwards=backwards, **kwargs)
        layer.build((None, D), "float64", np.random.default_rng(0))
        layer.set_weights(ws)
        halves.append(as_list(layer.forward(X, mask)))
    (y, *states), (y_rev, *states_rev) = halves
    if kwargs.get("return_sequences"):
        y_rev = y_rev[:, ::-1]
    return y, y_rev, states + states_rev


@pytest.mark.parametrize("return_state", [False, True])
@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave", None])
@pytest.mark.parametrize("cell", sorted(CELLS))
def test_bidirectional_is_the_two_layers_run_by_hand(cell, merge_mode, return_sequences, return_state):
    kwargs = dict(activation="tanh", return_sequences=return_sequences, return_state=return_state,
                  mask_rule="carry")
    layer = built(Bidirectional(CELLS[cell](K, **kwargs), merge_mode=merge_mode))
    X = inputs()
    for mask in (None, MASK):
        y, y_rev, states = by_hand(cell, kwargs, layer.get_weights(), X, mask)
        expected = ([y, y_rev] if merge_mode is None else [MERGES[merge_mode](y, y_rev)]) + states
        got = as_list(layer.forward(X, mask))
        assert len(got) == len(expected) == layer.nb_outputs
        for a, b in zip(got, expected):
            assert np.array_equal(a, b)
        shapes = as_list(layer.output_shape((T, D)))
        assert [s.shape[1:] for s in got] == [tuple(shape) for shape in shapes]


def test_bidirectional_of_a_go_backwards_layer_flips_each_copy():
    """Keras copies the layer as configured and flips go_backwards for the second copy."""
    kwargs = dict(activation="tanh", return_sequences=True, mask_rule="carry")
    layer = built(Bidirectional(GRU(K, go_backwards=True, **kwargs), merge_mode=None))
    assert layer.forward_layer.go_backwards and not layer.backward_layer.go_backwards
    y, y_rev, _ = by_hand("GRU", kwargs, layer.get_weights(), inputs(), MASK, go_backwards=True)
    got = layer.forward(inputs(), MASK)
    assert np.array_equal(got[0], y) and np.array_equal(got[1], y_rev)


@pytest.mark.parametrize("return_sequences", [False, True])
def test_bidirectional_zero_masked_output(return_sequences):
    """masked_output='zero' (tf.keras): with return_sequences both halves are 0 at masked
    steps and the states are still carried; without it nothing changes."""
    kwargs = dict(activation="tanh", return_sequences=return_sequences, return_state=True, mask_rule="carry")
    repeat = built(Bidirectional(LSTM(K, **kwargs), merge_mode=None))
    zero = built(Bidirectional(LSTM(K, **kwargs), merge_mode=None, masked_output="zero"))
    X = inputs()
    a, b = repeat.forward(X, MASK), zero.forward(X, MASK)
    keep = MASK[:, :, None] if return_sequences else 1.0
    for i in range(2):
        assert np.array_equal(b[i], a[i] * keep)
    for s, t in zip(a[2:], b[2:]):
        assert np.array_equal(s, t)
    if return_sequences:
        assert np.max(np.abs(a[0] - b[0])) > 1e-3


@pytest.mark.parametrize("merge_mode", ["concat", "mul", "ave", None])
def test_bidirectional_gradients(merge_mode):
    layer = built(Bidirectional(LSTM(K, activation="tanh", inner_activation="sigmoid", return_sequences=True,
                                     return_state=merge_mode in ("mul", None), mask_rule="carry"),
                                merge_mode=merge_mode))
    check_gradients(layer, inputs(), MASK)
    if merge_mode is None:
        check_gradients(layer, inputs(), MASK, unused=(1, 3))


def test_bidirectional_gradients_zero_masked_output():
    layer = built(Bidirectional(GRU(K, activation="tanh", inner_activation="sigmoid", reset_after=True,
                                    return_sequences=True, mask_rule="carry"), merge_mode="sum",
                                masked_output="zero"))
    check_gradients(layer, inputs(), MASK)


def test_bidirectional_weights_forward_then_backward():
    layer = built(Bidirectional(GRU(K, reset_after=True)))
    weights = layer.get_weights()
    assert len(weights) == 24 and layer.weight_names == layer.forward_layer.weight_names * 2
    assert all(a is b for a, b in zip(weights, layer.forward_layer.get_weights() + layer.backward_layer.get_weights()))
    with pytest.raises(ConfigError, match="expected 24 weight arrays"):
        layer.set_weights(weights[:12])
    assert layer.count_params() == 2 * layer.forward_layer.count_params()


def test_bidirectional_masks_and_names():
    layer = Bidirectional(LSTM(K, return_sequences=True, return_state=True, mask_rule="carry"), merge_mode=None)
    assert layer.output_mask(MASK)[:2] == [MASK, MASK] and layer.output_mask(MASK)[2:] == [None] * 4
    assert Bidirectional(LSTM(K, mask_rule="carry")).output_mask(MASK) is None
    assert Bidirectional(LSTM(K, return_sequences=True)).output_mask(MASK) is MASK
    layer.name = "bidirectional_1"
    assert (layer.forward_layer.name, layer.backward_layer.name) == ("bidirectional_1/forward",
                                                                    "bidirectional_1/backward")


def test_bidirectional_with_a_backward_layer_of_its_own():
    """tf.keras's backward_layer: a different cell (and width) for the backward half."""
    kwargs = dict(activation="tanh", return_sequences=True, return_state=True, mask_rule="carry")
    layer = built(Bidirectional(LSTM(K, **kwargs), backward_layer=GRU(2, go_backwards=True, **kwargs)))
    assert layer.nb_outputs == 1 + 2 + 1 and len(layer.get_weights()) == 12 + 9
    forward = built(LSTM(K, **kwargs))
    forward.set_weights(layer.get_weights()[:12])
    backward = GRU(2, go_backwards=True, **kwargs)
    backward.build((None, D), "float64", np.random.default_rng(0))
    backward.set_weights(layer.get_weights()[12:])
    X = inputs()
    (y, h, c), (y_rev, h_rev) = forward.forward(X, MASK), backward.forward(X, MASK)
    expected = [np.concatenate([y, y_rev[:, ::-1]], axis=-1), h, c, h_rev]
    got = layer.forward(X, MASK)
    assert all(np.array_equal(a, b) for a, b in zip(got, expected))
    assert layer.output_shape((T, D)) == [(T, K + 2), (K,), (K,), (2,)]
    check_gradients(layer, X, MASK)
    with pytest.raises(ConfigError, match="other go_backwards"):
        Bidirectional(LSTM(K), backward_layer=LSTM(K))
    with pytest.raises(ConfigError, match="return_sequences"):
        Bidirectional(LSTM(K), backward_layer=LSTM(K, go_backwards=True, return_sequences=True))


def test_bidirectional_refusals():
    with pytest.raises(ConfigError, match="accepted: concat, sum, mul, ave, None"):
        Bidirectional(LSTM(K), merge_mode="max")
    with pytest.raises(ConfigError, match="accepted: repeat, zero"):
        Bidirectional(LSTM(K), masked_output="nan")
    with pytest.raises(ConfigError, match="wraps a recurrent layer"):
        Bidirectional(Sequential())
    with pytest.raises(ConfigError, match="carry rule"):
        Bidirectional(LSTM(K, return_sequences=True), masked_output="zero")


def test_bidirectional_in_a_sequential_model_gradients():
    """Sequential.gradients through a Bidirectional (single output) against central differences."""
    from .finite_differences import check_model_gradients

    model = Sequential(dtype="float64", seed=0)
    model.add(Bidirectional(GRU(K, activation="tanh", return_sequences=True, mask_rule="carry"),
                            input_shape=(None, D), merge_mode="ave"))
    model.add(LSTM(2, mask_rule="carry", activation="tanh", inner_activation="sigmoid"))
    rng = np.random.default_rng(3)
    model.set_weights([rng.normal(0, 0.6, w.shape) for w in model.get_weights()])
    check_model_gradients(model, inputs(), nonzero=True)


def test_no_keras02_config_for_the_later_options():
    """A Keras 0.2.0 config cannot record them: writing one is refused, not done lossily."""
    for layer in (GRU(K, reset_after=True), Bidirectional(LSTM(K))):
        model = Sequential()
        model.add(layer)
        with pytest.raises(ConfigError, match="is a later Keras release|Bidirectional has no Keras 0.2.0 config"):
            model.get_config()


def test_a_sequential_refuses_a_layer_with_several_outputs():
    for layer in (LSTM(K, return_state=True, mask_rule="carry"), Bidirectional(GRU(K), merge_mode=None)):
        with pytest.raises(ConfigError, match="one output each"):
            Sequential().add(layer)
