"""keras_files/layers12.py: Keras 1.x/2.x layer configs (as the releases write them) into the
reference's classes, and the stored weights into their get_weights order. Expected numbers
are closed forms of the stored arrays; files written by the releases are checked through
the public loaders (tests/rnn2onnx/test_keras12_layer_files.py)."""
import numpy as np
import pytest

from reference.build import _layer
from reference.keras_files.layers12 import LAYERS12, accepted_classes, translate
from reference.keras_files.spec import KerasFileError

RNG = np.random.default_rng(0)


def _build(spec, input_shape, pairs):
    """The reference layer of a spec, built for `input_shape` and loaded through its weight map."""
    layer = _layer(spec)
    layer.build(input_shape, "float64", np.random.default_rng(0), initialise=False)
    if spec.weight_map is not None:
        layer.set_weights(spec.weight_map(pairs))
    return layer


def test_dense_1x_and_2x_weights_and_use_bias():
    W, b = RNG.normal(size=(3, 2)), RNG.normal(size=2)
    X = RNG.normal(size=(2, 5, 3))
    one = translate("Dense", {"name": "dense_1", "output_dim": 2, "activation": "tanh", "bias": True,
                              "init": "glorot_uniform", "input_dim": None}, "1.2.2", None, "layer 1")
    assert one.kind == "Dense" and one.name == "dense_1" and one.arguments["last_axis"]
    layer = _build(one, (None, 3), [("dense_1_W", W), ("dense_1_b", b)])
    np.testing.assert_allclose(layer.forward(X), np.tanh(X @ W + b), rtol=1e-15)
    two = translate("Dense", {"name": "d", "units": 2, "activation": "linear", "use_bias": False,
                              "kernel_initializer": {"class_name": "VarianceScaling", "config": {}}},
                    "2.3.1", "theano", "layer 1")
    layer = _build(two, (None, 3), [("d/kernel:0", W)])
    np.testing.assert_allclose(layer.forward(X), X @ W, rtol=1e-15)
    with pytest.raises(KerasFileError, match="describes kernel$"):
        two.weight_map([("d/kernel:0", W), ("d/bias:0", b)])


def test_time_distributed_dense_both_spellings():
    W, b = RNG.normal(size=(3, 4)), RNG.normal(size=4)
    inner = {"class_name": "Dense", "config": {"name": "dense_1", "units": 4, "activation": "softmax",
                                                "use_bias": True}}
    spec = translate("TimeDistributed", {"name": "td", "layer": inner, "batch_input_shape": [None, 7, 3]},
                     "2.1.6", "theano", "layer 0")
    assert (spec.kind, spec.name, spec.arguments["input_shape"]) == ("TimeDistributedDense", "td", (7, 3))
    layer = _build(spec, (7, 3), [("td/kernel:0", W), ("td/bias:0", b)])
    X = RNG.normal(size=(2, 7, 3))
    e = np.exp(X @ W + b)
    np.testing.assert_allclose(layer.forward(X), e / e.sum(-1, keepdims=True), rtol=1e-14)
    assert layer.output_mask("m") == "m"
    old = translate("TimeDistributedDense", {"name": "t", "output_dim": 4, "input_dim": 3, "input_length": 7,
                                             "activation": "linear", "bias": False}, "1.0.4", None, "layer 0")
    assert old.arguments["input_shape"] == (7, 3)
    assert [w.shape for w in old.weight_map([("t_W", W)])] == [(3, 4), (4,)]
    with pytest.raises(KerasFileError, match="only a wrapped Dense"):
        translate("TimeDistributed", {"name": "td", "layer": {"class_name": "LSTM", "config": {}}}, "2.1.6",
                  "theano", "layer 0")


def test_embedding_masking_and_the_identity_layers():
    E = RNG.normal(size=(5, 3))
    spec = translate("Embedding", {"name": "e", "input_dim": 5, "output_dim": 3, "mask_zero": True,
                                   "batch_input_shape": [None, 4], "dropout": 0.5}, "1.2.2", None, "layer 0",
                     notes := [])
    assert spec.arguments == {"input_dim": 5, "output_dim": 3, "mask_zero": True, "input_length": 4}
    assert "training only" in notes[0]
    np.testing.assert_array_equal(spec.weight_map([("e_W", E)])[0], E)
    assert translate("Embedding", {"name": "e", "input_dim": 5, "output_dim": 3}, "2.3.1", "theano",
                     "l").weight_map([("e/embeddings:0", E)])[0] is not None
    assert translate("Masking", {"name": "m", "mask_value": 0.5}, "2.1.6", "theano", "l").arguments == \
        {"mask_value": 0.5}
    for kind, config in [("Dropout", {"p": 0.3}), ("Dropout", {"rate": 0.3, "noise_shape": None, "seed": None}),
                         ("SpatialDropout1D", {"rate": 0.2}), ("AlphaDropout", {"rate": 0.1})]:
        spec = translate(kind, dict(config, name="x"), "2.3.1", "theano", "l")
        assert (spec.kind, spec.arguments) == ("Dropout", {"p": 0.0})  # inverted dropout: the identity
    assert translate("GaussianNoise", {"name": "g", "stddev": 0.1}, "2.3.1", "theano", "l").arguments == \
        {"sigma": 0.1}
    assert translate("GaussianNoise", {"name": "g", "sigma": 0.2}, "1.2.2", None, "l").arguments == {"sigma": 0.2}
    assert translate("GaussianDropout", {"name": "g", "rate": 0.2}, "2.3.1", "theano", "l").kind == "GaussianDropout"


def test_activations_and_advanced_activations():
    assert translate("Activation", {"name": "a", "activation": "selu"}, "2.3.1", "theano", "l").arguments == \
        {"activation": "selu"}
    with pytest.raises(KerasFileError, match="unknown activation 'gelu'"):
        translate("Activation", {"name": "a", "activation": "gelu"}, "2.15.0", "tensorflow", "l")
    assert translate("Softmax", {"name": "s", "axis": -1}, "2.3.1", "theano", "l").arguments == \
        {"activation": "softmax"}
    assert translate("Softmax", {"name": "s", "axis": 1}, "2.3.1", "theano", "l").arguments == {"axis": 1}
    assert translate("ReLU", {"name": "r", "max_value": None, "negative_slope": 0.0, "threshold": 0.0}, "2.3.1",
                     "theano", "l").arguments == {"activation": "relu"}
    relu = _build(translate("ReLU", {"name": "r", "max_value": 0.6, "negative_slope": 0.1, "threshold": 0.05},
                            "2.3.1", "theano", "l"), (4,), [])
    X = np.array([[-1.0, 0.02, 0.3, 2.0]])
    # K.relu: x*(x > t), clipped to [0, max], minus slope*relu(t - x)
    np.testing.assert_allclose(relu.forward(X), [[-0.105, -0.003, 0.3, 0.6]], rtol=1e-14)
    for kind, key, value in [("LeakyReLU", "alpha", 0.2), ("ELU", "alpha", 0.7), ("ThresholdedReLU", "theta", 0.05)]:
        spec = translate(kind, {"name": "x", key: value}, "1.2.2", None, "l")
        assert (spec.kind, spec.arguments) == (kind, {key: value})
    alpha = RNG.normal(size=(1, 3))
    prelu = translate("PReLU", {"name": "p", "shared_axes": [1], "alpha_initializer": {"class_name": "Zeros"}},
                      "2.3.1", "theano", "l")
    layer = _build(prelu, (None, 3), [("p/alpha:0", alpha)])
    X = RNG.normal(size=(2, 4, 3))
    np.testing.assert_allclose(layer.forward(X), np.where(X > 0, X, alpha * X), rtol=1e-15)
    # Keras 1.2 does not write shared_axes: the stored alphas' shape says it
    old = translate("PReLU", {"name": "p", "init": "zero"}, "1.2.2", None, "l")
    layer = _build(old, (4, 3), [("p_alphas", alpha)])
    assert layer.shared_axes == (1,)
    np.testing.assert_allclose(layer.forward(X), np.where(X > 0, X, alpha * X), rtol=1e-15)


def test_shape_layers():
    assert translate("RepeatVector", {"name": "r", "n": 3}, "2.1.6", "theano", "l").arguments == {"n": 3}
    assert translate("Reshape", {"name": "r", "target_shape": [2, 6]}, "1.2.2", None, "l").arguments == \
        {"dims": [2, 6]}
    spec = translate("Reshape", {"name": "r", "target_shape": [-1, 6]}, "2.3.1", "theano", "l")
    assert spec.arguments == {"dims": [-1, 6], "infer_axis": True}
    layer = _build(spec, (4, 3), [])
    assert layer.output_shape((4, 3)) == (2, 6) and layer.output_shape((None, 3)) == (None, 6)
    X = RNG.normal(size=(2, 4, 3))
    np.testing.assert_array_equal(layer.forward(X), X.reshape(2, 2, 6))
    with pytest.raises(KerasFileError, match="positive integer"):
        translate("Reshape", {"name": "r", "target_shape": [-1, -1]}, "2.3.1", "theano", "l")
    assert translate("Permute", {"name": "p", "dims": [2, 1]}, "2.3.1", "theano", "l").arguments == {"dims": [2, 1]}
    assert translate("Flatten", {"name": "f", "data_format": "channels_last"}, "2.3.1", "theano", "l").kind == \
        "Flatten"
    with pytest.raises(KerasFileError, match="channels_first"):
        translate("Flatten", {"name": "f", "data_format": "channels_first"}, "2.3.1", "theano", "l")


@pytest.mark.parametrize("release, backend, config, stored, flip", [
    # 1.0.x: W (nb_filter, input_dim, K, 1); 1.1.0+: (K, 1, input_dim, nb_filter); 2.x kernel (K, input_dim, filters)
    ("1.0.8", "theano", {"nb_filter": 2, "filter_length": 3}, lambda W: W, True),
    ("1.2.2", "theano", {"nb_filter": 2, "filter_length": 3}, lambda W: W.transpose(2, 3, 1, 0), True),
    ("2.1.6", "theano", {"filters": 2, "kernel_size": [3]}, lambda W: W[..., 0].transpose(2, 1, 0), True),
    ("2.3.1", "tensorflow", {"filters": 2, "kernel_size": [3]}, lambda W: W[..., 0].transpose(2, 1, 0), False),
])
def test_convolution_layouts_and_kernel_order(release, backend, config, stored, flip):
    W, b = RNG.normal(size=(2, 4, 3, 1)), RNG.normal(size=2)
    kind = "Convolution1D" if release < "2" else "Conv1D"
    names = ("W", "b") if release < "2" else ("kernel", "bias")
    spec = translate(kind, dict(config, name="c", activation="linear"), release, backend, "l")
    assert spec.arguments["flip"] is flip and spec.arguments["same_rule"] == backend
    layer = _build(spec, (None, 4), [(f"c_{names[0]}", stored(W)), (f"c_{names[1]}", b)])
    X = RNG.normal(size=(1, 6, 4))
    taps = W[:, :, ::-1, 0] if flip else W[:, :, :, 0]  # (filters, inputs, K) tap order
    expected = np.stack([np.einsum("dk,fdk->f", X[0, t:t + 3].T, taps) for t in range(4)])[None] + b
    np.testing.assert_allclose(layer.forward(X), expected, rtol=1e-13)


def test_convolution_options_and_refusals():
    spec = translate("Conv1D", {"name": "c", "filters": 2, "kernel_size": [2], "strides": [1], "padding": "causal",
                                "dilation_rate": [2], "use_bias": False, "data_format": "channels_last"},
                     "2.3.1", "theano", "l")
    assert spec.arguments["dilation_rate"] == 2 and spec.arguments["border_mode"] == "causal"
    assert spec.weight_map([("kernel:0", np.ones((2, 3, 2)))])[1].tolist() == [0.0, 0.0]
    atrous = translate("AtrousConvolution1D", {"name": "a", "nb_filter": 2, "filter_length": 3, "atrous_rate": 2,
                                               "border_mode": "same"}, "1.2.2", "theano", "l")
    assert atrous.arguments["dilation_rate"] == 2
    with pytest.raises(KerasFileError, match="does not state which backend"):
        translate("Convolution1D", {"name": "c", "nb_filter": 2, "filter_length": 3}, "1.2.2", None, "l")
    with pytest.raises(KerasFileError, match="Theano's only"):
        translate("Convolution1D", {"name": "c", "nb_filter": 2, "filter_length": 3, "border_mode": "full"},
                  "1.2.2", "tensorflow", "l")
    with pytest.raises(KerasFileError, match="changed in Keras 1.1.0"):
        translate("Convolution1D", {"name": "c", "nb_filter": 2, "filter_length": 3}, "1.0.0–1.2.2", "theano", "l")


def test_pooling():
    spec = translate("MaxPooling1D", {"name": "p", "pool_length": 3, "stride": None, "border_mode": "valid"},
                     "1.2.2", None, "l")
    assert spec.arguments == {"pool_length": 3, "stride": 3, "border_mode": "valid"}
    spec = translate("AveragePooling1D", {"name": "p", "pool_size": [2], "strides": [1], "padding": "same"},
                     "2.3.1", "tensorflow", "l")
    assert spec.arguments == {"pool_length": 2, "stride": 1, "border_mode": "same", "same_rule": "tensorflow"}
    with pytest.raises(KerasFileError, match="does not state which backend"):
        translate("MaxPooling1D", {"name": "p", "pool_length": 2, "border_mode": "same"}, "1.2.2", None, "l")
    assert translate("GlobalMaxPooling1D", {"name": "g"}, "1.2.2", None, "l").arguments == \
        {"mode": "max", "global_pooling": True}
    assert translate("GlobalAveragePooling1D", {"name": "g"}, "2.1.6", "theano", "l").arguments == \
        {"mode": "ave", "global_pooling": True}
    assert translate("GlobalAveragePooling1D", {"name": "g", "data_format": "channels_last"}, "2.3.1", "theano",
                     "l").arguments["masked_mean"]


@pytest.mark.parametrize("release, config, names", [
    ("1.2.2", {"epsilon": 0.01, "mode": 0, "axis": -1, "momentum": 0.99},
     ["bn_gamma", "bn_beta", "bn_running_mean", "bn_running_std"]),
    ("2.3.1", {"epsilon": 0.01, "axis": -1, "center": True, "scale": True},
     ["gamma:0", "beta:0", "moving_mean:0", "moving_variance:0"]),
    ("2.1.6", {"epsilon": 0.01, "axis": -1, "center": False, "scale": False}, ["moving_mean:0", "moving_variance:0"]),
    ("2.1.6", {"epsilon": 0.01, "axis": -1, "center": True, "scale": False},
     ["beta:0", "moving_mean:0", "moving_variance:0"]),
])
def test_batch_normalization_weights_and_formula(release, config, names):
    stored = {n: RNG.uniform(0.5, 1.5, 3) for n in names}
    spec = translate("BatchNormalization", dict(config, name="bn"), release, "theano", "l")
    layer = _build(spec, (None, 3), list(stored.items()))
    pick = {n.split(":")[0].rsplit("_", 1)[-1] if release < "2" else n.split(":")[0]: v for n, v in stored.items()}
    gamma = pick.get("gamma", np.ones(3))
    beta = pick.get("beta", np.zeros(3))
    mean = pick.get("mean", pick.get("moving_mean"))
    var = pick.get("std", pick.get("moving_variance"))
    X = RNG.normal(size=(2, 4, 3))
    np.testing.assert_allclose(layer.forward(X), gamma * (X - mean) / np.sqrt(var + 0.01) + beta, rtol=1e-14,
                               atol=1e-15)


def test_batch_normalization_refusals():
    with pytest.raises(KerasFileError, match="statistics of the batch"):
        translate("BatchNormalization", {"name": "bn", "mode": 2}, "1.2.2", None, "l")
    with pytest.raises(KerasFileError, match="1.0.0–1.0.7"):
        translate("BatchNormalization", {"name": "bn", "mode": 0}, "1.0.6", None, "l")
    assert translate("BatchNormalization", {"name": "bn", "mode": 1}, "1.2.2", None, "l").arguments["mode"] == 1


def test_refusals_name_the_layer_and_the_reason():
    with pytest.raises(KerasFileError, match=r"layer 3 \(Lambda 'lam'\): a Lambda layer holds Python code"):
        translate("Lambda", {"name": "lam", "function": "..."}, "2.3.1", "theano", "layer 3")
    with pytest.raises(KerasFileError, match="Conv2D.* is not read.*accepted: .*Dense") as info:
        translate("Conv2D", {"name": "c"}, "2.3.1", "theano", "layer 0")
    assert "Lambda" not in str(info.value).split("accepted:")[1]
    with pytest.raises(KerasFileError, match="unknown config key 'fancy'"):
        translate("Dense", {"name": "d", "units": 2, "fancy": 1}, "2.3.1", "theano", "layer 0")
    assert set(accepted_classes()) | {"Lambda"} == set(LAYERS12)


def test_tf_keras_drops_a_mask_where_keras_refused_it():
    conv = {"name": "c", "filters": 2, "kernel_size": [3], "padding": "same"}
    assert translate("Conv1D", conv, "2.15.0", "tensorflow", "l").arguments["drop_mask"]
    assert translate("Flatten", {"name": "f"}, "2.3.0-tf", "tensorflow", "l").arguments["drop_mask"]
    assert "drop_mask" not in translate("Conv1D", conv, "2.3.1", "tensorflow", "l").arguments
    assert "drop_mask" not in translate("GlobalAveragePooling1D", {"name": "g"}, "2.15.0", "tensorflow",
                                        "l").arguments
    layer = _build(translate("Conv1D", conv, "2.15.0", "tensorflow", "l"), (None, 2),
                   [("kernel:0", RNG.normal(size=(3, 2, 2))), ("bias:0", np.zeros(2))])
    X, mask = RNG.normal(size=(1, 4, 2)), np.array([[0.0, 1, 1, 1]])
    np.testing.assert_array_equal(layer.forward(X, mask), layer.forward(X))
    assert layer.output_mask(mask) is None


def test_maxout_dense_and_activity_regularization():
    W, b = RNG.normal(size=(3, 4, 2)), RNG.normal(size=(3, 2))
    spec = translate("MaxoutDense", {"name": "m", "output_dim": 2, "nb_feature": 3, "bias": True, "input_dim": 4},
                     "1.2.2", None, "l")
    layer = _build(spec, (4,), [("m_W", W), ("m_b", b)])
    X = RNG.normal(size=(5, 4))
    np.testing.assert_allclose(layer.forward(X), np.max(np.einsum("nd,fdk->nfk", X, W) + b, axis=1), rtol=1e-14)
    spec = translate("ActivityRegularization", {"name": "a", "l1": 0.1, "l2": 0.0}, "2.3.1", "theano", "l")
    assert (spec.kind, spec.arguments) == ("Activation", {"activation": "linear"})


def test_temporal_padding_cropping_upsampling_spellings():
    for config, expected in [({"padding": 2}, [2, 2]), ({"padding": [1, 3]}, [1, 3]), ({"padding": [[0, 2]]}, [0, 2]),
                             ({"padding": {"left_pad": 1, "right_pad": 0}}, [1, 0])]:
        args = translate("ZeroPadding1D", dict(config, name="z"), "2.3.1", "theano", "l").arguments
        assert [args["left_pad"], args["right_pad"]] == expected
    args = translate("Cropping1D", {"name": "c", "cropping": [[2, 0]]}, "2.3.1", "theano", "l").arguments
    assert (args["left_crop"], args["right_crop"]) == (2, 0)
    assert translate("UpSampling1D", {"name": "u", "length": 3}, "1.2.2", None, "l").arguments == {"size": 3}
    assert translate("UpSampling1D", {"name": "u", "size": 2}, "2.3.1", "theano", "l").arguments == {"size": 2}
    with pytest.raises(KerasFileError, match="padding must be"):
        translate("ZeroPadding1D", {"name": "z", "padding": [-1, 2]}, "2.3.1", "theano", "l")


@pytest.mark.parametrize("release, backend, count_pad", [("2.0.8", "theano", True), ("2.0.4", "theano", True),
                                                         ("2.1.5", "theano", False), ("2.0.3", "theano", False),
                                                         ("2.0.8", "tensorflow", False)])
def test_theano_same_average_counted_the_padding_in_2_0_4_to_2_1_4(release, backend, count_pad):
    spec = translate("AveragePooling1D", {"name": "a", "pool_size": [3], "strides": [1], "padding": "same"},
                     release, backend, "l")
    assert spec.arguments.get("count_pad", False) is count_pad
    layer = _build(spec, (None, 1), [])
    X = np.arange(1.0, 5.0).reshape(1, 4, 1)
    # Theano pads p-2 = 1 step first: windows (0, x0, x1), (x0, x1, x2), ...; the last (x2, x3, 0)
    expected = [1.0, 2.0, 3.0, 7.0 / 3] if count_pad else [1.5, 2.0, 3.0, 3.5]
    np.testing.assert_allclose(layer.forward(X)[0, :, 0], expected, rtol=1e-15)
