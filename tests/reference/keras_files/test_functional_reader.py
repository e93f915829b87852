"""The Keras 1.x/2.x functional config reader (reference/keras_files/functional.py):
configs in the shapes Keras 1.2.2 and 2.1.6 write (`Container.get_config` at the tags),
read with a stub translate() for the few layer classes used here, built by build.py and
checked against the same model built by hand; every refusal is one sentence."""
import copy

import numpy as np
import pytest

import reference as r
from reference.build import build_model
from reference.functional import FunctionalModel
from reference.keras_files.functional import MERGE_CLASSES, read, translate_merge
from reference.keras_files.spec import InputSpec, KerasFileError, LayerSpec, ModelSpec, NodeSpec
from reference.merging import MergeLayer


def stub_translate(entry, label):
    """The layer classes of these tests, in 2.x terms, into existing reference classes (the
    real translations are keras12's)."""
    kind, config = entry["class_name"], entry["config"]
    if kind == "Embedding":
        return LayerSpec("Embedding", {"input_dim": config["input_dim"], "output_dim": config["output_dim"],
                                       "mask_zero": config.get("mask_zero", False)}, label=label)
    if kind in ("LSTM", "GRU", "SimpleRNN"):
        units = config.get("units", config.get("output_dim"))
        return LayerSpec(kind, {"output_dim": units, "return_sequences": config.get("return_sequences", False),
                                "mask_rule": "carry"}, label=label)
    if kind == "Dense":
        return LayerSpec("Dense", {"output_dim": config.get("units", config.get("output_dim"))}, label=label)
    raise KerasFileError(f"{label}: the stub does not translate {kind}")


def _input(name, shape, dtype="float32", release="2"):
    key = "dtype" if release == "2" else "input_dtype"
    return {"name": name, "class_name": "InputLayer", "inbound_nodes": [],
            "config": {"batch_input_shape": [None] + list(shape), key: dtype, "sparse": False, "name": name}}


def _layer(kind, name, calls, release="2", **config):
    """A layer entry; calls: [[(layer, node, tensor), ...], ...], written as the release writes them."""
    tail = [{}] if release == "2" else []
    return {"name": name, "class_name": kind, "config": dict(config, name=name, trainable=True),
            "inbound_nodes": [[[n, k, t] + tail for n, k, t in call] for call in calls]}


def _config_2x():
    """ids -> Embedding(mask) -> shared GRU; floats -> the same GRU; Concatenate -> LSTM;
    outputs: the LSTM and the second call of the GRU."""
    return {"name": "model_1",
            "layers": [_input("ids", [6], "int32"), _input("floats", [6, 3]),
                       _layer("Embedding", "emb", [[("ids", 0, 0)]], input_dim=9, output_dim=3, mask_zero=True),
                       _layer("GRU", "shared", [[("emb", 0, 0)], [("floats", 0, 0)]], units=4,
                              return_sequences=True),
                       _layer("Concatenate", "cat", [[("shared", 0, 0), ("shared", 1, 0)]], axis=-1),
                       _layer("LSTM", "top", [[("cat", 0, 0)]], units=2)],
            "input_layers": [["ids", 0, 0], ["floats", 0, 0]],
            "output_layers": [["top", 0, 0], ["shared", 1, 0]]}


def test_a_2x_config_becomes_its_spec():
    spec = read(_config_2x(), stub_translate, "2.1.6", "theano")
    assert spec.inputs == [InputSpec("ids", (6,), "int32"), InputSpec("floats", (6, 3), "float32")]
    assert list(spec.layers) == ["emb", "shared", "cat", "top"]
    assert spec.layers["cat"] == LayerSpec("MergeLayer", {"mode": "concat", "concat_axis": -1})
    assert spec.layers["shared"].name == "shared"
    assert spec.nodes == [NodeSpec("emb", [("ids", 0, 0)], 0), NodeSpec("shared", [("emb", 0, 0)], 0),
                          NodeSpec("shared", [("floats", 0, 0)], 1),
                          NodeSpec("cat", [("shared", 0, 0), ("shared", 1, 0)], 0), NodeSpec("top", [("cat", 0, 0)], 0)]
    assert spec.outputs == [("top", 0, 0), ("shared", 1, 0)]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_built_model_is_the_model_built_by_hand(dtype):
    model = build_model(ModelSpec(read(_config_2x(), stub_translate, "2.1.6", "theano"), "2.1.6", "test"),
                        dtype=dtype, seed=0)
    assert isinstance(model, FunctionalModel) and model.keras_version == "2.1.6"
    assert model.input_names == ["ids", "floats"] and model.output_names == ["top", "shared"]
    hand = FunctionalModel(dtype=dtype)
    hand.add_input("ids", (6,), "int32")
    hand.add_input("floats", (6, 3))
    hand.add_node(r.Embedding(9, 3, mask_zero=True), ["ids"], name="emb")
    shared = r.GRU(4, return_sequences=True, mask_rule="carry")
    hand.add_node(shared, ["emb"], name="shared")
    hand.add_node(shared, ["floats"])
    hand.add_node(MergeLayer("concat"), [("shared", 0), ("shared", 1)], name="cat")
    hand.add_node(r.LSTM(2, mask_rule="carry"), ["cat"], name="top")
    hand.set_outputs(["top", ("shared", 1)])
    hand.set_weights(model.get_weights())
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 9, size=(5, 6))
    X = [ids, rng.normal(size=(5, 6, 3))]
    for a, b in zip(model.predict(X), hand.predict(X)):
        assert np.array_equal(a, b)


def test_a_1x_config_reads_3_item_tensors_and_the_merge_layer():
    config = {"name": "model_1",
              "layers": [_input("ids", [7], "int32", release="1"),
                         _layer("Embedding", "emb", [[("ids", 0, 0)]], release="1", input_dim=7, output_dim=4,
                                mask_zero=True),
                         _input("floats", [7, 4], "float64", release="1"),
                         _layer("Merge", "merge_1", [[("emb", 0, 0), ("floats", 0, 0)]], release="1", mode="sum",
                                mode_type="raw", concat_axis=-1, dot_axes=-1, output_shape=None,
                                output_shape_type="raw", output_mask=None, output_mask_type="raw", arguments={}),
                         _layer("GRU", "gru_1", [[("merge_1", 0, 0)]], release="1", output_dim=5)],
              "input_layers": [["ids", 0, 0], ["floats", 0, 0]], "output_layers": [["gru_1", 0, 0]]}
    spec = read(config, stub_translate, "1.2.2", "theano")
    assert spec.inputs[1] == InputSpec("floats", (7, 4), "float64")
    assert spec.layers["merge_1"].arguments == {"mode": "sum", "concat_axis": -1, "dot_axes": -1,
                                                "refuse_masks": False}
    assert [n.layer for n in spec.nodes] == ["emb", "merge_1", "gru_1"]
    model = build_model(ModelSpec(spec, "1.2.2", "test"), dtype="float64", seed=1)
    assert [y.shape for y in [model.predict([np.ones((2, 7), int), np.ones((2, 7, 4))])]] == [(2, 5)]


def test_calls_are_ordered_by_what_they_read_whatever_the_config_order():
    """A(B(A(B(x)))): the shared layers' calls alternate (Keras's own example of calls at
    different depths); a layer listed before the layer it reads."""
    config = {"name": "m", "layers": [
        _layer("SimpleRNN", "A", [[("B", 0, 0)], [("B", 1, 0)]], units=2, return_sequences=True),
        _layer("SimpleRNN", "B", [[("x", 0, 0)], [("A", 0, 0)]], units=2, return_sequences=True),
        _input("x", [None, 2])],
        "input_layers": [["x", 0, 0]], "output_layers": [["A", 1, 0]]}
    spec = read(config, stub_translate, "2.1.6")
    assert [(n.layer, n.index) for n in spec.nodes] == [("B", 0), ("A", 0), ("B", 1), ("A", 1)]
    model = build_model(ModelSpec(spec, "2.1.6", "test"), dtype="float64", seed=2)
    A, B = model.layers
    X = np.random.default_rng(1).normal(size=(3, 4, 2))
    expected = A.forward(B.forward(A.forward(B.forward(X))))
    assert np.array_equal(model.predict(X), expected)


@pytest.mark.parametrize("kind, config, arguments", [
    ("Add", {}, {"mode": "sum"}), ("Subtract", {}, {"mode": "sub"}), ("Multiply", {}, {"mode": "mul"}),
    ("Average", {}, {"mode": "ave"}), ("Maximum", {}, {"mode": "max"}), ("Minimum", {}, {"mode": "min"}),
    ("Concatenate", {"axis": 1}, {"mode": "concat", "concat_axis": 1}),
    ("Dot", {"axes": [2, 2], "normalize": False}, {"mode": "dot", "dot_axes": [2, 2]}),
    ("Dot", {"axes": -1, "normalize": True}, {"mode": "dot", "dot_axes": -1, "normalize": True,
                                             "normalize_epsilon": 1e-12}),
    ("Merge", {"mode": "max", "mode_type": "raw"}, {"mode": "max", "concat_axis": -1, "dot_axes": -1,
                                                    "refuse_masks": True}),
    ("Merge", {"mode": "dot", "dot_axes": [1, 1], "mode_type": "raw"},
     {"mode": "dot", "concat_axis": -1, "dot_axes": [1, 1], "refuse_masks": False}),
    ("Merge", {"mode": "cos", "dot_axes": [1, 1], "mode_type": "raw"},
     {"mode": "cos", "concat_axis": -1, "dot_axes": [1, 1], "refuse_masks": False, "normalize_epsilon": 1e-7}),
])
def test_each_merge_class_translates_into_the_one_merge_layer(kind, config, arguments):
    spec = translate_merge(kind, dict(config, name="m", trainable=True), "2.1.6", "tensorflow", "layer 'm'", "m")
    assert spec.kind == "MergeLayer" and spec.arguments == arguments and spec.name == "m"
    MergeLayer(**spec.arguments)  # the class takes them
    assert kind in MERGE_CLASSES


@pytest.mark.parametrize("kind, config, backend, pattern", [
    ("Merge", {"mode": "gASV", "mode_type": "lambda"}, "theano", "Python function stored in the file"),
    ("Merge", {"mode": "geometric"}, "theano", "unknown merge mode 'geometric'; accepted: sum, mul"),
    ("Merge", {"mode": "sum", "arguments": {"a": 1}}, "theano", "for a function mode"),
    ("Dot", {"axes": 1, "normalize": True}, None, "names no backend"),
    ("Dot", {}, "theano", "gives no axes"),
    ("Add", {"activity_regularizer": "l2"}, "theano", "config key 'activity_regularizer' is not read"),
])
def test_merge_settings_not_read_are_refused(kind, config, backend, pattern):
    with pytest.raises(KerasFileError, match=pattern):
        translate_merge(kind, config, "2.1.6", backend, "layer 'm'", "m")


def _bad(change):
    config = copy.deepcopy(_config_2x())
    change(config)
    return config


def _layers(config):
    return {entry["name"]: entry for entry in config["layers"]}


@pytest.mark.parametrize("change, pattern", [
    (lambda c: _layers(c)["top"]["inbound_nodes"][0][0].__setitem__(0, "nope"), "reads unknown layer 'nope'"),
    (lambda c: _layers(c)["top"]["inbound_nodes"][0][0].__setitem__(1, 3), "reads call 3 of layer 'cat'"),
    (lambda c: _layers(c)["emb"]["inbound_nodes"][0][0].__setitem__(1, 1), "tensor \\[1, 0\\] of input 'ids'"),
    (lambda c: _layers(c)["top"]["inbound_nodes"][0][0].__setitem__(3, {"training": True}),
     "passes training=True, which changes what it computes"),
    (lambda c: _layers(c)["top"]["inbound_nodes"][0][0].__setitem__(3, {"initial_state": "x"}),
     "passes initial_state="),
    (lambda c: _layers(c)["cat"]["inbound_nodes"][0].extend([["emb", 0, 0, {}]] * 300),
     "call 0: the number of tensors it reads is 302, more than the 256 accepted"),
    (lambda c: _layers(c)["emb"]["inbound_nodes"][0].append(["ids", 0, 0, {}]),
     "is called on 2 tensors; only merge layers and recurrent layers \\(initial_state\\) take several"),
    (lambda c: _layers(c)["emb"]["inbound_nodes"][0][0].__setitem__(0, "top"), "form a cycle"),
    (lambda c: c["layers"].append(_layer("Model", "inner", [[("ids", 0, 0)]])),
     "'inner' is a whole model .Model. used as a layer"),
    (lambda c: _layers(c)["ids"]["inbound_nodes"].append([["floats", 0, 0]]), "InputLayer is not called"),
    (lambda c: _layers(c)["ids"]["config"].__setitem__("sparse", True), "sparse inputs are not read"),
    (lambda c: _layers(c)["ids"]["config"].__setitem__("ragged", True), "ragged inputs are not read"),
    (lambda c: _layers(c)["ids"]["config"].__setitem__("batch_input_shape", [None, 0]), "batch_input_shape must"),
    (lambda c: c["layers"].append(_layer("Dense", "idle", [], units=2)), "'idle' is never called"),
    (lambda c: c["layers"].append(copy.deepcopy(c["layers"][-1])), "two layers of the functional model are named"),
    (lambda c: c["input_layers"].pop(), "InputLayer 'floats' is not among the model's input_layers"),
    (lambda c: c["input_layers"].append(["top", 0, 0]), "input_layers entry 2 must name an InputLayer"),
    (lambda c: c["output_layers"].append(["top", 1, 0]), "names a call layer 'top' does not have"),
    (lambda c: c["output_layers"].append(["top", 0]), "a tensor is .layer name, node index, tensor index."),
    (lambda c: c.__setitem__("output_layers", []), "non-empty list 'output_layers'"),
    (lambda c: c.__setitem__("layers", "lots"), "non-empty list 'layers'"),
    (lambda c: c["layers"].append(_layer("Conv2D", "conv", [[("floats", 0, 0)]])), "the stub does not translate"),
])
def test_bad_configs_get_one_sentence(change, pattern):
    with pytest.raises(KerasFileError, match=pattern):
        read(_bad(change), stub_translate, "2.1.6", "theano")


def test_no_effect_call_kwargs_are_read():
    config = _bad(lambda c: _layers(c)["top"]["inbound_nodes"][0][0].__setitem__(3, {"training": False,
                                                                                      "mask": None}))
    assert read(config, stub_translate, "2.1.6")


def test_layer_and_call_counts_are_bounded(monkeypatch):
    from reference.untrusted import LIMITS

    monkeypatch.setattr(LIMITS["layers"], "value", 5)
    with pytest.raises(KerasFileError, match="holds 6 layers, more than the 5 accepted"):
        read(_config_2x(), stub_translate, "2.1.6")
    monkeypatch.setattr(LIMITS["layers"], "value", 6)
    config = _bad(lambda c: _layers(c)["shared"]["inbound_nodes"].extend([[["floats", 0, 0, {}]]] * 3))
    with pytest.raises(KerasFileError, match="more than 6 layer calls"):
        read(config, stub_translate, "2.1.6")
