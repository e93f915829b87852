"""MergeLayer (reference/merging.py): each mode against closed forms written out here,
its gradients against central differences, and each release's mask rule as
compute_mask reads at the tags 1.2.2 / 2.1.6 / 2.3.1."""
import numpy as np
import pytest

import reference as r
from reference.errors import ConfigError, InputError
from reference.merging import MergeLayer

from .helpers import central_differences

DTYPES = ("float32", "float64")
TOL = {"float32": 1e-6, "float64": 1e-14}


def _layer(shapes, dtype="float64", **kwargs):
    layer = MergeLayer(**kwargs)
    layer.build([s[1:] for s in shapes], dtype, None)
    return layer


def _inputs(rng, shapes, dtype):
    return [rng.normal(size=s).astype(dtype) for s in shapes]


def _batch_dot(a, b, axes):
    """K.batch_dot written out per sample: numpy's tensordot over the two axes."""
    out = np.stack([np.tensordot(a[i], b[i], axes=(axes[0] - 1, axes[1] - 1)) for i in range(len(a))])
    return out.reshape(len(a), 1) if out.ndim == 1 else out


CLOSED = {
    "sum": lambda xs: xs[0] + xs[1] + xs[2],
    "mul": lambda xs: xs[0] * xs[1] * xs[2],
    "ave": lambda xs: (xs[0] + xs[1] + xs[2]) / 3,
    "max": lambda xs: np.max(np.stack(xs), axis=0),
    "min": lambda xs: np.min(np.stack(xs), axis=0),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", sorted(CLOSED))
def test_elementwise_modes_are_their_closed_forms(mode, dtype, rng):
    shapes = [(3, 4, 5)] * 3
    xs = _inputs(rng, shapes, dtype)
    Y = _layer(shapes, dtype, mode=mode).forward(xs)
    assert Y.dtype == np.dtype(dtype)
    np.testing.assert_allclose(Y, CLOSED[mode]([x.astype(np.float64) for x in xs]), rtol=TOL[dtype], atol=TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_sub_concat_and_dot_are_their_closed_forms(dtype, rng):
    a, b = _inputs(rng, [(3, 4, 5), (3, 4, 5)], dtype)
    assert np.array_equal(_layer([a.shape, b.shape], dtype, mode="sub").forward([a, b]), a - b)
    c = rng.normal(size=(3, 2, 5)).astype(dtype)
    Y = _layer([a.shape, c.shape], dtype, mode="concat", concat_axis=1).forward([a, c])
    assert Y.shape == (3, 6, 5) and np.array_equal(Y[:, :4], a) and np.array_equal(Y[:, 4:], c)
    d = rng.normal(size=(3, 4, 2)).astype(dtype)
    Y = _layer([a.shape, d.shape], dtype, mode="concat").forward([a, d])
    assert Y.shape == (3, 4, 7) and np.array_equal(Y[..., :5], a) and np.array_equal(Y[..., 5:], d)
    for axes, sa, sb in (([2, 2], (3, 4, 5), (3, 6, 5)), ([2, 1], (3, 4, 6), (3, 6, 5)), (-1, (3, 5), (3, 5)),
                         ([1, 2], (3, 4, 5), (3, 2, 4))):
        x, y = _inputs(rng, [sa, sb], dtype)
        layer = _layer([sa, sb], dtype, mode="dot", dot_axes=axes)
        axes2 = [a % len(sa) for a in axes] if isinstance(axes, list) else [axes % len(sa)] * 2
        Y = layer.forward([x, y])
        assert Y.shape == (len(x),) + layer.output_shape([sa[1:], sb[1:]])
        np.testing.assert_allclose(Y, _batch_dot(x.astype(np.float64), y.astype(np.float64), axes2),
                                   rtol=10 * TOL[dtype], atol=10 * TOL[dtype])


@pytest.mark.parametrize("epsilon", [1e-7, 1e-12])
def test_dot_normalize_divides_by_the_norm_with_the_backends_epsilon(epsilon, rng):
    x, y = rng.normal(size=(4, 6)), rng.normal(size=(4, 6))
    x[0] = 1e-5  # sum of squares 6e-10: below Theano's epsilon, above TensorFlow's
    layer = _layer([x.shape, y.shape], mode="dot", dot_axes=1, normalize=True, normalize_epsilon=epsilon)
    norm = lambda v: v / np.sqrt(np.maximum(np.sum(v * v, axis=1, keepdims=True), epsilon))  # noqa: E731
    expected = np.sum(norm(x) * norm(y), axis=1, keepdims=True)
    np.testing.assert_allclose(layer.forward([x, y]), expected, rtol=1e-14)


def test_keras_1_cos_is_the_cosine_with_an_axis_inserted_as_its_predict_returns(rng):
    x, y = rng.normal(size=(4, 6)), rng.normal(size=(4, 6))
    x[0] = 1e-5  # |x| |y| below the epsilon: the floor decides
    layer = _layer([x.shape, y.shape], mode="cos", dot_axes=[1, 1], normalize_epsilon=1e-7)
    assert layer.output_shape([(6,), (6,)]) == (1, 1)
    denominator = np.maximum(np.sqrt(np.sum(x * x, axis=1) * np.sum(y * y, axis=1)), 1e-7)
    np.testing.assert_allclose(layer.forward([x, y]), (np.sum(x * y, axis=1) / denominator).reshape(4, 1, 1),
                               rtol=1e-14)


def test_elementwise_modes_broadcast_axes_of_size_one_as_keras_2(rng):
    a, b = rng.normal(size=(2, 4, 5)), rng.normal(size=(2, 1, 5))
    layer = _layer([a.shape, b.shape], mode="mul")
    assert layer.output_shape([(4, 5), (1, 5)]) == (4, 5)
    np.testing.assert_allclose(layer.forward([a, b]), a * b, rtol=1e-15)
    with pytest.raises(ConfigError, match="different ranks"):
        _layer([(2, 4, 5), (2, 5)], mode="sum")


CASES = [
    ("sum", [(2, 3, 4)] * 3, {}), ("mul", [(2, 3, 4)] * 3, {}), ("ave", [(2, 3, 4)] * 2, {}),
    ("max", [(2, 3, 4)] * 3, {}), ("min", [(2, 3, 4)] * 2, {}), ("sub", [(2, 3, 4)] * 2, {}),
    ("mul", [(2, 3, 4), (2, 1, 4)], {}), ("concat", [(2, 3, 4), (2, 3, 2)], {}),
    ("concat", [(2, 3, 4), (2, 2, 4)], {"concat_axis": 1}), ("dot", [(2, 3, 4), (2, 5, 4)], {"dot_axes": [2, 2]}),
    ("dot", [(2, 3, 4), (2, 4, 5)], {"dot_axes": [2, 1]}), ("dot", [(2, 4), (2, 4)], {"dot_axes": 1}),
    ("dot", [(2, 3, 4), (2, 5, 4)], {"dot_axes": -1, "normalize": True}),
    ("cos", [(3, 4), (3, 4)], {"dot_axes": 1}),
]


@pytest.mark.parametrize("mode, shapes, kwargs", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_gradients_match_central_differences(mode, shapes, kwargs, rng):
    layer = _layer(shapes, mode=mode, **kwargs)
    xs = _inputs(rng, shapes, "float64")
    G = rng.normal(size=layer.forward(xs).shape)
    grads, weights = layer.backward(G)
    assert weights == [] and len(grads) == len(xs)
    for i, x in enumerate(xs):
        def loss(v, i=i):
            return float(np.sum(layer.forward(xs[:i] + [v] + xs[i + 1:]) * G))
        fd = central_differences(loss, x.copy())
        assert grads[i].shape == x.shape
        np.testing.assert_allclose(grads[i], fd, atol=1e-7)


def _masks(rng, n=3, T=4):
    return [(rng.random((n, T)) < 0.6).astype(np.float64) for _ in range(3)]


@pytest.mark.parametrize("mode", ["sum", "mul", "ave", "max", "min"])
def test_an_elementwise_merge_hands_on_the_and_of_the_masks_it_gets(mode, rng):
    layer = _layer([(3, 4, 2)] * 3, mode=mode)
    m = _masks(rng)
    layer.forward(_inputs(rng, [(3, 4, 2)] * 3, "float64"))
    assert np.array_equal(layer.output_mask(m), m[0] * m[1] * m[2])
    assert np.array_equal(layer.output_mask([m[0], None, m[2]]), m[0] * m[2])  # unmasked inputs are left out
    assert layer.output_mask([None, None, None]) is None
    assert layer.output_mask(None) is None


def test_concat_masks_and_on_the_feature_axis_and_join_in_time(rng):
    m = _masks(rng)
    xs = _inputs(rng, [(3, 4, 2), (3, 4, 5)], "float64")
    layer = _layer([x.shape for x in xs], mode="concat")
    layer.forward(xs)
    assert np.array_equal(layer.output_mask([m[0], m[1]]), m[0] * m[1])
    assert np.array_equal(layer.output_mask([None, m[1]]), m[1])  # an unmasked input counts as ones
    xs = _inputs(rng, [(3, 4, 1), (3, 4, 1)], "float64")
    layer = _layer([x.shape for x in xs], mode="concat", concat_axis=1)
    layer.forward(xs)
    assert np.array_equal(layer.output_mask([m[0], m[1]]), np.concatenate([m[0], m[1]], axis=1))
    assert np.array_equal(layer.output_mask([None, m[1]]), np.concatenate([np.ones((3, 4)), m[1]], axis=1))
    xs = _inputs(rng, [(3, 4, 2), (3, 4, 2)], "float64")
    layer = _layer([x.shape for x in xs], mode="concat", concat_axis=-2)
    layer.forward(xs)
    with pytest.raises(InputError, match="width 1"):  # Keras's backends fail on it: ones (3, 4, 2) vs (3, 4, 1)
        layer.output_mask([None, m[1]])


def test_dot_hands_on_no_mask_and_keras_1_max_refuses_masks(rng):
    m = _masks(rng)
    layer = _layer([(3, 4, 2), (3, 4, 2)], mode="dot", dot_axes=2)
    assert layer.output_mask([m[0], m[1]]) is None
    layer = _layer([(3, 4, 2), (3, 4, 2)], mode="max", refuse_masks=True)
    assert layer.output_mask([None, None]) is None
    with pytest.raises(InputError, match="cannot take masked inputs"):
        layer.output_mask([m[0], None])


@pytest.mark.parametrize("kwargs, shapes, pattern", [
    ({"mode": "geometric"}, [(2, 3)] * 2, "unknown merge mode 'geometric'; accepted: concat, sum"),
    ({"mode": "cos", "dot_axes": 2}, [(2, 3, 4)] * 2, "takes .batch, n. inputs"),
    ({"mode": "sum"}, [(2, 3), (2, 4)], "one shape"),
    ({"mode": "sub"}, [(2, 3)] * 3, "exactly 2 inputs"),
    ({"mode": "dot", "dot_axes": 1}, [(2, 3), (2, 4)], "equal sizes"),
    ({"mode": "dot", "dot_axes": 3}, [(2, 3), (2, 3)], "does not fit"),
    ({"mode": "dot", "dot_axes": 0}, [(2, 3), (2, 3)], "batch axis"),
    ({"mode": "concat", "concat_axis": 0}, [(2, 3), (2, 3)], "batch axis"),
    ({"mode": "concat", "concat_axis": 1}, [(2, 3, 4), (2, 3, 5)], "equal on every other axis"),
    ({"mode": "sum"}, [(2, 3)], "two or more"),
])
def test_what_cannot_be_merged_is_refused_with_one_sentence(kwargs, shapes, pattern):
    with pytest.raises(ConfigError, match=pattern):
        _layer(shapes, **kwargs)


def test_a_merge_layer_is_not_a_layer_of_a_sequential():
    model = r.Sequential()
    model.add(r.Dense(3, input_dim=4))
    with pytest.raises(ConfigError, match="merges the outputs of several layers of a functional model"):
        model.add(MergeLayer("sum"))
