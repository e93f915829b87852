"""The Graph container (reference/containers.py) against files and predictions written by
the original Keras 0.2.0 (tests/fixtures/keras02), finite differences and closed forms."""
import json
import os

import h5py
import numpy as np
import pytest

import reference as r
from reference.keras_files import KerasFileError
from reference.errors import ConfigError, InputError

from .finite_differences import check_model_gradients
from .helpers import cce_entries, record, sgd_step_error

FX = os.path.join(os.path.dirname(__file__), "..", "fixtures", "keras02")
MANIFEST = json.load(open(os.path.join(FX, "MANIFEST.json")))["fixtures"]
GRAPH_FIXTURES = ["graph_two_io", "graph_embed_f32", "graph_embed_f64"]
TOLERANCE = {"float64": 1e-12, "float32": 1e-5}  # relative to max |Y|


def _path(name, kind="json"):
    return os.path.join(FX, MANIFEST[name]["files"][f"config_{kind}"])


def _load(name, kind="json", **kwargs):
    return r.load_model(_path(name, kind), os.path.join(FX, f"{name}.h5"), **kwargs)


def _data(name):
    """({input name: X}, {output name: Y}) as Keras's predict call got and returned them."""
    data = np.load(os.path.join(FX, f"{name}.npz"))
    return ({k[2:]: data[k] for k in MANIFEST[name]["input_keys"]},
            {k[2:]: data[k] for k in MANIFEST[name]["output_keys"]})


def _rel(a, b):
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


# -- Keras 0.2.0's files and predictions ---------------------------------------------------

@pytest.mark.parametrize("name", GRAPH_FIXTURES)
def test_graph_models_reproduce_keras(name):
    """No dtype given: the model computes in the weights file's dtype (Keras's floatX);
    every output, in add_output order, from JSON and YAML configs alike."""
    floatx = MANIFEST[name]["floatX"]
    X, Y = _data(name)
    kinds = [k[len("config_"):] for k in MANIFEST[name]["files"] if k.startswith("config_")]
    for kind in kinds:
        model = _load(name, kind)
        assert isinstance(model, r.Graph) and model.dtype == np.dtype(floatx)
        assert model.dtype_from == "from the weights file"
        out = model.predict(X)
        assert list(out) == list(Y)  # output_order
        for key, expected in Y.items():
            assert out[key].dtype == np.dtype(floatx) and out[key].shape == expected.shape
            error = _rel(out[key], expected)
            record(f"keras02 {name} {key} ({kind})", error)
            assert error <= TOLERANCE[floatx], (kind, key, error)


def test_an_explicit_dtype_wins_over_the_weights_file():
    X, Y = _data("graph_embed_f64")
    model = _load("graph_embed_f64", dtype="float32")
    assert model.dtype == np.float32 and model.dtype_from == "dtype argument"
    out = model.predict(X)
    assert all(out[k].dtype == np.float32 and _rel(out[k], Y[k]) <= 1e-5 for k in Y)


def test_graph_bn_is_read_as_keras_wrote_it():
    """0.2.0's Graph.save_weights kept gamma and beta only: read as Keras's own reload
    (running mean 0, std 1) it is off from Keras's prediction by exactly what Keras's
    reload was off (MANIFEST keras_reload_json.max_abs_diff); with the trained statistics
    (graph_bn.npz) it is Keras's prediction."""
    if not hasattr(r, "BatchNormalization"):
        pytest.skip("reference.BatchNormalization is not there yet")
    X, Y = _data("graph_bn")
    stats = np.load(os.path.join(FX, "graph_bn.npz"))
    model = _load("graph_bn")
    assert model.dtype == np.float64
    off = float(np.max(np.abs(model.predict(X)["y"] - Y["y"])))
    assert off == pytest.approx(MANIFEST["graph_bn"]["keras_reload_json"]["max_abs_diff"], rel=1e-9)
    bn = model.nodes["bn"]["layer"]
    weights = dict(zip(bn.weight_names, bn.get_weights()))
    weights.update(running_mean=stats["bn_running_mean"], running_std=stats["bn_running_std"])
    bn.set_weights([weights[n] for n in bn.weight_names])
    error = _rel(model.predict(X)["y"], Y["y"])
    record("keras02 graph_bn y (trained statistics)", error)
    assert error <= 1e-12


def test_graph_weights_are_the_nodes_in_add_node_order_as_keras_stored_them(tmp_path):
    model = _load("graph_two_io")
    with h5py.File(os.path.join(FX, "graph_two_io.h5"), "r") as f:
        stored = [f["graph"][f"param_{n}"][()] for n in range(int(f["graph"].attrs["nb_params"]))]
    assert len(stored) == 37 and all(np.array_equal(a, b) for a, b in zip(model.get_weights(), stored))
    path = str(tmp_path / "copy.h5")
    model.save_weights(path)
    with h5py.File(path, "r") as f:
        assert list(f) == ["graph"] and dict(f.attrs) == {} and int(f["graph"].attrs["nb_params"]) == 37
        assert all(np.array_equal(f["graph"][f"param_{n}"][()], w) for n, w in enumerate(stored))
    other = r.model_from_json(open(_path("graph_two_io")).read(), dtype="float64")
    other.load_weights(path)
    X, _ = _data("graph_two_io")
    a, b = other.predict(X), model.predict(X)
    assert all(np.array_equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("name", GRAPH_FIXTURES)
def test_graph_configs_are_written_as_keras_wrote_them(name):
    """to_json equals Keras's (as data); to_yaml is Keras's text byte for byte (its shared
    `inputs=[]` default written once with an anchor)."""
    model = _load(name)
    with open(_path(name)) as f:
        assert json.loads(model.to_json()) == json.load(f)
    if "config_yaml_block" in MANIFEST[name]["files"]:
        with open(_path(name, "yaml_block")) as f:
            assert model.to_yaml(default_flow_style=False) == f.read()
    again = r.model_from_yaml(model.to_yaml())
    assert again.output_order == model.output_order and again.input_order == model.input_order


def test_create_output_outputs_are_added_once():
    """Keras 0.2.0's own loader failed here ("Duplicate output identifier: td")."""
    assert MANIFEST["graph_embed_f64"]["keras_reload_json"]["error"] == "Exception: Duplicate output identifier: td"
    model = _load("graph_embed_f64")
    assert model.output_order == ["td", "cls", "h"]
    assert [c["create_output"] for c in model.node_config] == [False, False, False, True, True]


# -- gradients: finite differences --------------------------------------------------------

@pytest.mark.parametrize("name", ["graph_two_io", "graph_embed_f64"])
def test_graph_gradients_match_finite_differences(name):
    model = _load(name)
    X, _ = _data(name)
    # every weight array of every node, at its largest entry
    worst = check_model_gradients(model, X, rtol=1e-5, atol=1e-9, nonzero=True, seed=1)
    record(f"FD gradient Graph {name}", worst)


def test_a_merged_node_gets_no_mask_and_a_single_input_node_gets_its_input_mask():
    """emb (mask_zero) feeds `single` directly and `merged` through a concat: `single`
    equals a masked run of the same LSTM, `merged` an unmasked run over the concatenation."""
    rng = np.random.default_rng(3)
    E = rng.normal(size=(6, 2))
    lstm = lambda: r.LSTM(3, weights=[rng.normal(size=s) * 0.5 for s in [(2, 3), (3, 3), (3,)] * 4])  # noqa: E731
    graph = r.Graph(dtype="float64")
    graph.add_input("tok", (5,), dtype="int")
    graph.add_node(r.Embedding(6, 2, mask_zero=True, weights=[E]), "emb", input="tok")
    graph.add_node(lstm(), "single", input="emb", create_output=True)
    graph.add_node(r.LSTM(3, weights=None), "merged", inputs=["emb", "emb"], merge_mode="sum", create_output=True)
    graph.nodes["merged"]["layer"].set_weights(graph.nodes["single"]["layer"].get_weights())
    tok = np.array([[0, 0, 1, 2, 3], [4, 5, 1, 2, 3]])
    out = graph.predict({"tok": tok})
    masked = r.Sequential(dtype="float64")
    masked.add(r.Embedding(6, 2, mask_zero=True, weights=[E]))
    masked.add(r.LSTM(3, weights=graph.nodes["single"]["layer"].get_weights()))
    unmasked = r.Sequential(dtype="float64")
    unmasked.add(r.LSTM(3, input_dim=2, weights=graph.nodes["single"]["layer"].get_weights()))
    assert np.array_equal(out["single"], masked.predict(tok))
    assert np.array_equal(out["merged"], unmasked.predict(2 * E[tok]))
    assert not np.allclose(out["single"][0], out["merged"][0] / 1)  # the mask mattered


# -- construction, summary, bad input -------------------------------------------------------

def _small():
    graph = r.Graph(dtype="float64", seed=0)
    graph.add_input("a", (4, 3))
    graph.add_input("b", (4, 2))
    graph.add_node(r.GRU(2, return_sequences=True), "g", input="a")
    graph.add_node(r.TimeDistributedDense(2), "t", input="b")
    graph.add_node(r.SimpleRNN(3), "s", inputs=["g", "t"], merge_mode="sum")
    graph.add_output("y", input="s")
    return graph


def test_summary_lists_inputs_nodes_merges_and_outputs():
    lines = []
    text = _small().summary(print_fn=lines.append)
    assert lines == [text]
    for fragment in ("a     input (float)", "g     GRU", "sum(g, t)", "(batch, 3)", "y     output",
                     "Total params: 60  (dtype float64)"):
        assert fragment in text, fragment


@pytest.mark.parametrize("build, pattern", [
    (lambda g: g.add_node(r.Dense(2), "d", input="nowhere"), r"Graph node 'd': unknown input or node 'nowhere'; known so far: a, b, g, t, s"),
    (lambda g: g.add_node(r.Dense(2), "d", inputs=["s", "zz"]), r"Graph node 'd': unknown input or node 'zz'"),
    (lambda g: g.add_output("o", inputs=["s", "a"]), r"Graph output 'o': unknown node 'a'; known so far: g, t, s"),
    (lambda g: g.add_node(r.Dense(2), "g", input="s"), r"duplicate name 'g'"),
    (lambda g: g.add_input("s", (3,)), r"duplicate name 's'"),
    (lambda g: g.add_output("y", input="s"), r"duplicate output name 'y'"),
    (lambda g: g.add_node(r.Dense(2), "d", inputs=["a", "g"], concat_axis=1),
     r"Graph node 'd': cannot merge a, g: concat on axis 1 needs outputs equal on every other axis, got \(4, 3\), \(4, 2\)"),
    (lambda g: g.add_node(r.Dense(2), "d", inputs=["a", "s"]),
     r"Graph node 'd': cannot merge a, s: concat_axis -1 does not fit the merged outputs \(4, 3\), \(3,\)"),
    (lambda g: g.add_node(r.Dense(2), "d", inputs=["g", "s"], merge_mode="sum"),
     r"Graph node 'd': cannot merge g, s: merge mode 'sum' needs inputs of one output shape, got \(4, 2\), \(3,\)"),
    (lambda g: g.add_node(r.Dense(2), "d", inputs=["g", "t"], merge_mode="max"),
     r"unknown merge mode 'max'; accepted: sum, mul, ave, concat"),
    (lambda g: g.add_node(r.Dense(2), "d", input="s", inputs=["g", "t"]), r"give input or inputs, not both"),
    (lambda g: g.add_node(r.Dense(2), "d", inputs=["s"]), r"merges two or more names"),
    (lambda g: g.add_node(g.nodes["s"]["layer"], "d", input="s"), r"already node 's'"),
    (lambda g: g.add_input("i", (3,), dtype="int64"), r"unknown dtype 'int64'; accepted: float, int"),
])
def test_bad_graphs_get_one_sentence_and_change_nothing(build, pattern):
    graph = _small()
    before = (list(graph.nodes), list(graph.output_order), list(graph.input_order), len(graph.get_weights()))
    with pytest.raises(ConfigError, match=pattern):
        build(graph)
    assert (list(graph.nodes), list(graph.output_order), list(graph.input_order), len(graph.get_weights())) == before


def test_bad_predict_data_gets_one_sentence():
    graph = _small()
    a, b = np.ones((2, 4, 3)), np.ones((2, 4, 2))
    assert graph.predict({"a": a, "b": b})["y"].shape == (2, 3)
    with pytest.raises(InputError, match=r"input 'b' is missing from the data \(the Graph takes a, b\)"):
        graph.predict({"a": a})
    with pytest.raises(InputError, match=r"unknown name 'c' in the data; inputs: a, b; outputs: y"):
        graph.predict({"a": a, "b": b, "c": b})
    with pytest.raises(InputError, match=r"takes a dict \{input name: array\}, got list"):
        graph.predict([a, b])
    with pytest.raises(InputError, match=r"input 'b' must have width 2"):
        graph.predict({"a": a, "b": np.ones((2, 4, 3))})
    with pytest.raises(InputError, match=r"one batch size, got a: 2, b: 3"):
        graph.predict({"a": a, "b": np.ones((3, 4, 2))})


def _config(name):
    with open(_path(name)) as f:
        return json.load(f)


def _edit(name, change):
    config = _config(name)
    change(config)
    return json.dumps(config)


@pytest.mark.parametrize("change, pattern", [
    (lambda c: c["node_config"][0].update(input="x9"), r"Graph node 'r1': unknown input or node 'x9'"),
    (lambda c: c["node_config"][0].update(input="d1"),
     r"the Graph config has a cycle: r1 -> (sum|catT) -> d1 -> r1 \(each node must be fed by inputs or nodes added before it\)"),
    (lambda c: c["node_config"][0].update(input="r2"),
     r"Graph node 'r1' is fed by node 'r2', which node_config adds after it"),
    (lambda c: c["node_config"][1].update(name="r1"), r"the Graph config has a duplicate name 'r1'"),
    (lambda c: c["input_config"][1].update(name="r2"), r"the Graph config has a duplicate name 'r2'"),
    (lambda c: c["node_config"][3].update(concat_axis=1, merge_mode="mul"), None),  # mul ignores the axis
    (lambda c: c["node_config"][2].update(concat_axis=3), r"Graph node 'cat': cannot merge r1, r2: concat_axis 3 does not fit"),
    (lambda c: c["nodes"]["r1"].update(name="BiLSTM"), r"Graph node 'r1' \(BiLSTM\): unknown layer type 'BiLSTM'"),
    (lambda c: c.update(loss={"o1": "mse"}), r"Graph.compile: output 'o2' has no loss"),
    (lambda c: c["output_config"][0].update(input="nowhere"), r"Graph output 'o1': unknown input or node 'nowhere'"),
])
def test_bad_graph_configs_get_one_sentence(change, pattern):
    text = _edit("graph_two_io", change)
    if pattern is None:
        assert isinstance(r.model_from_json(text), r.Graph)
        return
    with pytest.raises(KerasFileError, match=pattern):
        r.model_from_json(text)


def test_wrong_weight_files_are_refused_and_the_model_is_unchanged(tmp_path):
    model = _load("graph_two_io")
    before = [w.copy() for w in model.get_weights()]
    cases = []
    seq = os.path.join(FX, "merge_sum.h5")
    cases.append((seq, r"holds a Sequential model's weights \(attribute nb_layers, groups layer_k\), but the model is a Graph"))
    extra = str(tmp_path / "extra.h5")
    with h5py.File(os.path.join(FX, "graph_two_io.h5"), "r") as src, h5py.File(extra, "w") as f:
        src.copy("graph", f)
        f.create_group("graph2")
    cases.append((extra, r"holds 2 groups \('graph', 'graph2'\); a Keras Graph weights file holds exactly one group 'graph'"))
    short = str(tmp_path / "short.h5")
    with h5py.File(os.path.join(FX, "graph_two_io.h5"), "r") as src, h5py.File(short, "w") as f:
        src.copy("graph", f)
        f["graph"].attrs["nb_params"] = 36
    cases.append((short, r"group 'graph' has nb_params=36, but the Graph's nodes have 37 weight arrays in add_node "
                         r"order \(r1: 12, r2: 9, cat: 2, sum: 3, catT: 9, d1: 2\)"))
    other = os.path.join(FX, "graph_embed_f64.h5")
    cases.append((other, r"nb_params=26, but the Graph's nodes have 37"))
    for path, pattern in cases:
        with pytest.raises(KerasFileError, match=pattern):
            model.load_weights(path)
        assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), before))
    sequential = r.load_model(os.path.join(FX, "merge_sum.json"))
    with pytest.raises(KerasFileError, match=r"holds a Graph model's weights \(group 'graph'\), but the model is a Sequential"):
        sequential.load_weights(os.path.join(FX, "graph_two_io.h5"))
    target = str(tmp_path / "exists.h5")
    open(target, "w").close()
    with pytest.raises(KerasFileError, match="already exists; pass overwrite=True"):
        model.save_weights(target)
    assert os.path.getsize(target) == 0 and sorted(os.listdir(tmp_path)) == ["exists.h5", "extra.h5", "short.h5"]


# -- training: closed forms and finite differences ------------------------------------------

def _mse_entries(y, p):
    return np.mean((y - p) ** 2, axis=-1)


def _two_io_data(seed=5):
    X, _ = _data("graph_two_io")
    rng = np.random.default_rng(seed)
    return dict(X, o1=np.eye(2)[[0, 1, 1, 0]], o2=rng.normal(size=(4, 3)), o3=rng.normal(size=(4, 5, 3)))


def _two_io_loss(model, data, rows=slice(None)):
    """0.2.0's Graph loss: the sum over outputs of each output's mean loss."""
    out = model.predict({k: data[k][rows] for k in ("x1", "x2")})
    return (np.mean(cce_entries(data["o1"][rows], out["o1"])) + np.mean(_mse_entries(data["o2"][rows], out["o2"]))
            + np.mean(_mse_entries(data["o3"][rows], out["o3"])))


def _compiled_two_io(lr=0.1):
    model = _load("graph_two_io")
    model.compile(r.SGD(lr=lr), {"o1": "categorical_crossentropy", "o2": "mse", "o3": "mse"})
    return model


def test_graph_train_on_batch_is_one_step_down_the_summed_losses():
    """The loss before the step is the closed form summed over outputs; each weight moves
    by -lr times that loss's finite-difference gradient."""
    data, lr = _two_io_data(), 0.1
    model = _compiled_two_io(lr)
    weights = model.get_weights()
    loss0 = _two_io_loss(model, data)
    assert model.evaluate(data) == pytest.approx(loss0, rel=1e-12)
    assert model.test_on_batch(data) == pytest.approx(loss0, rel=1e-12)
    assert model.train_on_batch(data) == pytest.approx(loss0, rel=1e-12)
    after = model.get_weights()
    error = sgd_step_error(model, weights, after, lambda: _two_io_loss(model, data), lr)
    assert record("FD training step Graph graph_two_io", error) <= 1e-6


def test_graph_fit_takes_one_dict_with_inputs_and_outputs():
    data = _two_io_data()
    stepped = _compiled_two_io()
    loss0 = _two_io_loss(stepped, data)
    stepped.train_on_batch(data)
    model = _compiled_two_io()
    history = model.fit(data, batch_size=4, nb_epoch=1, shuffle=False, verbose=0)
    assert history.history["loss"] == [pytest.approx(loss0, rel=1e-12)]
    assert all(np.allclose(a, b, rtol=0, atol=1e-15) for a, b in zip(model.get_weights(), stepped.get_weights()))
    model = _compiled_two_io()
    history = model.fit(data, batch_size=4, nb_epoch=1, shuffle=False, verbose=0, validation_split=0.5)
    assert history.history["val_loss"] == [pytest.approx(_two_io_loss(model, data, slice(2, None)), rel=1e-12)]
    held_out = {k: v[2:] for k, v in data.items()}
    history = model.fit(data, batch_size=4, nb_epoch=1, verbose=0, validation_data=held_out)
    assert history.history["val_loss"] == [pytest.approx(_two_io_loss(model, data, slice(2, None)), rel=1e-12)]


def test_graph_fit_ignores_class_weight_as_0_2_0_and_says_so():
    """Keras 0.2.0's Graph.fit never applies class_weight (its default sample weights win
    in standardize_weights; run on Keras 0.2.0: the same weights after fitting with and
    without it), while its train_on_batch does."""
    data = _two_io_data()
    class_weight = {"o1": {0: 5.0, 1: 0.1, 2: 1.0}}
    plain = _compiled_two_io()
    plain.fit(data, batch_size=4, nb_epoch=2, shuffle=False, verbose=0, validation_split=0.5)
    model = _compiled_two_io()
    with pytest.warns(UserWarning, match="Graph.fit ignores class_weight, as Keras 0.2.0's does"):
        model.fit(data, batch_size=4, nb_epoch=2, shuffle=False, verbose=0, validation_split=0.5,
                  class_weight=class_weight)
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), plain.get_weights()))
    stepped, weighted = _compiled_two_io(), _compiled_two_io()
    stepped.train_on_batch(data)
    weighted.train_on_batch(data, class_weight=class_weight)
    assert not all(np.array_equal(a, b) for a, b in zip(weighted.get_weights(), stepped.get_weights()))
    with pytest.raises(InputError, match=r"fit: a Graph's class_weight is a dict"):
        model.fit(data, verbose=0, class_weight={"nope": {}})


def test_graph_loss_weights_and_masks_follow_0_2_0():
    """A sequence output that keeps a mask (td: Embedding(mask_zero) -> GRU -> TDD) divides
    by sum(mask * w) but sums every entry (SPEC "Training"); sample_weight per output."""
    X, _ = _data("graph_embed_f64")
    rng = np.random.default_rng(7)
    data = dict(X, td=np.eye(2)[rng.integers(0, 2, size=(4, 6))], cls=np.eye(3)[[0, 1, 2, 0]],
                h=rng.normal(size=(4, 5)))
    mask = (X["tok"] != 0).astype(float)
    assert 0 < mask.sum() < mask.size
    sw = np.array([1.0, 0.5, 2.0, 0.0])
    for rule in ("keras", "corrected"):
        model = _load("graph_embed_f64")
        model.compile("sgd", {"td": "categorical_crossentropy", "cls": "categorical_crossentropy", "h": "mse"},
                      masked_loss=rule)
        out = model.predict(X)
        td = cce_entries(data["td"], out["td"])
        numerator = td.sum() if rule == "keras" else (td * mask).sum()
        expected = numerator / mask.sum() + np.mean(cce_entries(data["cls"], out["cls"])) \
            + np.sum(sw * _mse_entries(data["h"], out["h"])) / sw.sum()
        assert model.evaluate(data, sample_weight={"h": sw}) == pytest.approx(expected, rel=1e-12), rule


def test_graph_training_input_errors_get_one_sentence():
    model = _compiled_two_io()
    data = _two_io_data()
    with pytest.raises(ConfigError, match=r"Graph.compile: output 'o3' has no loss; the outputs are o1, o2, o3"):
        model.compile("sgd", {"o1": "mse", "o2": "mse"})
    with pytest.raises(ConfigError, match=r"Graph.compile: 'zz' is not an output"):
        model.compile("sgd", {"o1": "mse", "o2": "mse", "o3": "mse", "zz": "mse"})
    with pytest.raises(ConfigError, match=r"one loss per output"):
        model.compile("sgd", "mse")
    with pytest.raises(InputError, match=r"fit: output 'o2' has no targets in the data"):
        model.fit({k: v for k, v in data.items() if k != "o2"}, verbose=0)
    with pytest.raises(InputError, match=r"train_on_batch: targets of output 'o3' must have shape \(n, 5, 3\), got \(4, 5, 2\)"):
        model.train_on_batch(dict(data, o3=np.ones((4, 5, 2))))
    with pytest.raises(InputError, match=r"fit: targets of output 'o3' must have shape \(n, 5, 3\), got \(4, 6, 3\)"):
        model.fit(dict(data, o3=np.ones((4, 6, 3))), verbose=0)  # the time axis too, not only the last
    with pytest.raises(InputError, match=r"evaluate: a Graph's sample_weight is a dict \{output name: weights\} over o1, o2, o3"):
        model.evaluate(data, sample_weight={"x1": np.ones(4)})
    with pytest.raises(InputError, match=r"the inputs have 4 samples but the targets of output 'o1' have 3"):
        model.train_on_batch(dict(data, o1=data["o1"][:3]))
    with pytest.raises(ConfigError, match=r"train_on_batch needs a compiled model"):
        _load("graph_two_io", compile=False).train_on_batch(data)


class _Mode0Normalization(r.Layer):
    """SPEC's BatchNormalization(mode=0) at prediction, written again as a stand-in (not
    registered): weights gamma, beta (0.2.0's params), running_mean, running_std (kept
    outside them); Y = gamma * (X - mean) / (std + epsilon) + beta."""

    epsilon = 1e-6

    def param_specs(self, input_shape):
        d = tuple(input_shape)
        return [("gamma", d, "one"), ("beta", d, "zero"), ("running_mean", d, "zero"), ("running_std", d, "one")]

    def forward(self, X, mask=None, train=False, rng=None):
        p = self.params
        return p["gamma"] * (X - p["running_mean"]) / (p["running_std"] + self.epsilon) + p["beta"]


def test_graph_bn_weights_read_as_keras_wrote_them_with_a_stand_in_normalization():
    """graph_bn.h5 (LSTM -> BatchNormalization -> Dense; gamma and beta only) read into the
    same Graph built by hand: off from Keras's prediction by what Keras's own reload was
    off; with the trained statistics of graph_bn.npz, Keras's prediction."""
    X, Y = _data("graph_bn")
    stats = np.load(os.path.join(FX, "graph_bn.npz"))
    graph = r.Graph(dtype="float64")
    graph.add_input("x", (5, 3))
    graph.add_node(r.LSTM(4), "r", input="x")
    graph.add_node(_Mode0Normalization(), "bn", input="r")
    graph.add_node(r.Dense(2), "d", input="bn")
    graph.add_output("y", input="d")
    graph.load_weights(os.path.join(FX, "graph_bn.h5"))
    off = float(np.max(np.abs(graph.predict(X)["y"] - Y["y"])))
    assert off == pytest.approx(MANIFEST["graph_bn"]["keras_reload_json"]["max_abs_diff"], rel=1e-9)
    gamma, beta, _, _ = graph.nodes["bn"]["layer"].get_weights()
    graph.nodes["bn"]["layer"].set_weights([gamma, beta, stats["bn_running_mean"], stats["bn_running_std"]])
    error = record("keras02 graph_bn y (stand-in normalization)", _rel(graph.predict(X)["y"], Y["y"]))
    assert error <= 1e-12


def _scaled_graph(weights=None):
    graph = r.Graph(dtype="float64")
    graph.add_input("x", (3,))
    graph.add_node(r.Dense(3, weights=weights), "d", input="x")
    graph.add_node(_Mode0Normalization(), "s", input="d", create_output=True)
    return graph


def test_running_statistics_stay_out_of_keras_params_and_are_kept_beside_them(tmp_path):
    """0.2.0's Graph file holds only params (here W, b, gamma, beta: nb_params = 4); the
    running statistics go to extra datasets 0.2.0 never read; a file without them (as
    Keras wrote every Graph file) leaves them at their initial values, 0 and 1."""
    rng = np.random.default_rng(11)
    graph = _scaled_graph([rng.normal(size=(3, 3)), rng.normal(size=3)])
    stats = [rng.normal(size=3), rng.normal(size=3), rng.normal(size=3), rng.uniform(1, 2, size=3)]
    graph.nodes["s"]["layer"].set_weights(stats)
    path = str(tmp_path / "g.h5")
    graph.save_weights(path)
    with h5py.File(path, "r") as f:
        g = f["graph"]
        assert int(g.attrs["nb_params"]) == 4
        assert sorted(g) == ["param_0", "param_1", "param_2", "param_3", "state_0", "state_1"]
        assert np.array_equal(g["param_3"][()], stats[1]) and np.array_equal(g["state_1"][()], stats[3])
    X = {"x": rng.normal(size=(2, 3))}
    again = _scaled_graph()
    again.load_weights(path)
    assert np.array_equal(again.predict(X)["s"], graph.predict(X)["s"])
    with h5py.File(path, "a") as f:  # as Keras 0.2.0 wrote it
        del f["graph"]["state_0"], f["graph"]["state_1"]
    again.load_weights(path)
    W, b = graph.nodes["d"]["layer"].get_weights()
    assert np.array_equal(again.predict(X)["s"], stats[0] * (X["x"] @ W + b) / (1 + 1e-6) + stats[1])


def test_graph_activity_regularizers_join_the_training_loss_as_0_2_0s_graph_did():
    """0.2.0's Graph.add_node collected every node's regularizers, activity ones included,
    into the training loss: the loss before a step is the objective plus the closed-form
    penalties (a node that feeds no output still pays its own), and each weight moves by
    -lr times that loss's finite-difference gradient."""
    lr = 0.1
    graph = r.Graph(dtype="float64", seed=3)
    graph.add_input("x", (3,))
    graph.add_node(r.Dense(4, W_regularizer=r.regularizers.l2(0.03),
                           activity_regularizer=r.regularizers.activity_l1l2(0.02, 0.05)), "h", input="x")
    graph.add_node(r.Dense(2, activity_regularizer=r.regularizers.activity_l2(0.3)), "o", input="h",
                   create_output=True)
    graph.add_node(r.Dense(2, activity_regularizer=r.regularizers.activity_l1(0.1)), "dead", input="h")
    graph.compile(r.SGD(lr=lr), {"o": "mse"})
    rng = np.random.default_rng(7)
    graph.set_weights([w + rng.normal(0, 0.3, size=w.shape) for w in graph.get_weights()])
    data = {"x": rng.normal(size=(5, 3)), "o": rng.normal(size=(5, 2))}

    def act(Y, l1, l2):
        return l1 * np.sum(np.mean(np.abs(Y), axis=0)) + l2 * np.sum(np.mean(Y ** 2, axis=0))

    def closed_form():
        Wh, bh, Wo, bo, Wd, bd = graph.get_weights()
        h = data["x"] @ Wh + bh
        o, dead = h @ Wo + bo, h @ Wd + bd
        return (np.mean((o - data["o"]) ** 2) + 0.03 * np.sum(Wh ** 2) + act(h, 0.02, 0.05) + act(o, 0, 0.3)
                + act(dead, 0.1, 0))

    weights, loss0 = graph.get_weights(), closed_form()
    assert graph.train_on_batch(data) == pytest.approx(loss0, rel=1e-13)
    error = sgd_step_error(graph, weights, graph.get_weights(), closed_form, lr)
    assert record("FD training step Graph with activity regularizers", error) <= 1e-6
