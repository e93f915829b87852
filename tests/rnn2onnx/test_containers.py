"""Export of containers (rnn2onnx/structure.py): Merge-first Sequentials and Graphs,
against the predictions the original Keras 0.2.0 stored with its own files
(tests/fixtures/keras02)."""
import json
import os

import numpy as np
import onnx
import onnxruntime
import pytest

import reference as r
from reference.registry import LAYERS
import rnn2onnx
from rnn2onnx import runtimes
from rnn2onnx.structure import describe, model_inputs
from rnn2onnx.validation import InterfaceError, check_interface, generate_inputs

FX = os.path.join(os.path.dirname(__file__), "..", "fixtures", "keras02")
MANIFEST = json.load(open(os.path.join(FX, "MANIFEST.json")))["fixtures"]
MERGE_FIXTURES = sorted(n for n in MANIFEST if n.startswith(("merge_", "babi_rnn_")))
GRAPH_FIXTURES = sorted(n for n in MANIFEST if n.startswith("graph_"))
TOLERANCE = {"float32": 1e-5, "float64": 1e-10}  # max |onnx - Keras| / max |Keras|


def load(name, dtype=None):
    """As a user loads a Keras 0.2.0 file: config, then weights; no dtype: the file's."""
    with open(os.path.join(FX, MANIFEST[name]["files"]["config_json"])) as f:
        config = json.load(f)
    if config["name"] == "Graph":  # graph_bn: BatchNormalization comes with another branch (layers2)
        missing = sorted({node["name"] for node in config["nodes"].values()} - set(LAYERS))
        if missing:
            pytest.skip(f"{name} needs {', '.join(missing)}, not in this reference yet")
    model = r.model_from_json(json.dumps(config), dtype=dtype)
    model.load_weights(os.path.join(FX, MANIFEST[name]["files"]["weights_h5"]))
    data = np.load(os.path.join(FX, MANIFEST[name]["files"]["data_npz"]))
    if "bn_running_mean" in data:  # graph_bn: Keras's Graph.save_weights left the trained
        bn = model.nodes["bn"]["layer"]  # statistics out; Keras predicted with them
        weights = dict(zip(bn.weight_names, bn.get_weights()),
                       running_mean=data["bn_running_mean"], running_std=data["bn_running_std"])
        bn.set_weights([weights[n] for n in bn.weight_names])
    return model


def keras_data(name):
    """(what Keras's predict got, {graph input name: X}, {graph output name: Y}), the
    names as SPEC gives them: input_1, input_2, ... and `output` for a Merge-first
    Sequential; a Graph's own."""
    data = np.load(os.path.join(FX, MANIFEST[name]["files"]["data_npz"]))
    ins, outs = MANIFEST[name]["input_keys"], MANIFEST[name]["output_keys"]
    if name.startswith("graph_"):
        X = {k[2:]: data[k] for k in ins}
        return X, X, {k[2:]: data[k] for k in outs}
    X = [data[k] for k in ins]
    return X, merge_feeds(X), {"output": data["Y"]}


def merge_feeds(arrays):
    return {f"input_{i + 1}": x for i, x in enumerate(arrays)}


def run_onnx(proto, feeds):
    """{output name: array} of onnxruntime on {input name: array} (cast to the file's types)."""
    session = onnxruntime.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    types = {"tensor(int64)": np.int64, "tensor(double)": np.float64, "tensor(float)": np.float32}
    feeds = {i.name: np.asarray(feeds[i.name]).astype(types[i.type]) for i in session.get_inputs()}
    return dict(zip([o.name for o in session.get_outputs()], session.run(None, feeds)))


def relative_error(got, want):
    return float(np.max(np.abs(np.asarray(got, np.float64) - want)) / np.max(np.abs(want)))


@pytest.mark.parametrize("target", ["onnxruntime", "portable"])
@pytest.mark.parametrize("name", MERGE_FIXTURES + GRAPH_FIXTURES)
def test_exports_of_keras_container_files_reproduce_keras(name, target):
    model = load(name)
    floatx = MANIFEST[name]["floatX"]
    assert str(model.dtype) == floatx
    _, feeds, Y = keras_data(name)
    errors = {}
    for strategy in ("auto", "loop"):
        got = run_onnx(rnn2onnx.export(model, strategy=strategy, target=target), feeds)  # validated inside
        assert list(got) == list(Y)  # every output, named and ordered as SPEC says
        for out in Y:
            errors[f"{strategy}/{out}"] = relative_error(got[out], Y[out])
    assert max(errors.values()) <= TOLERANCE[floatx], errors
    print(f"{name} {floatx} {target}: " + ", ".join(f"{k} {v:.1e}" for k, v in errors.items()))


@pytest.mark.parametrize("name", [n for n in MERGE_FIXTURES + GRAPH_FIXTURES if MANIFEST[n]["floatX"] == "float64"])
def test_float32_exports_of_float64_files_are_within_the_float32_tolerance(name):
    model = load(name, dtype="float32")  # an explicit dtype wins over the file's
    _, feeds, Y = keras_data(name)
    got = run_onnx(rnn2onnx.export(model), feeds)
    assert all(got[out].dtype == np.float32 for out in Y)
    assert max(relative_error(got[out], Y[out]) for out in Y) <= TOLERANCE["float32"]


def test_one_graph_input_per_branch_named_and_typed_as_spec_says():
    model = load("merge_nested")  # Merge([Merge([LSTM, GRU]), Embedding -> SimpleRNN]): three inputs
    proto = rnn2onnx.export(model)
    inputs = [(v.name, v.type.tensor_type.elem_type, [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim])
              for v in proto.graph.input]
    assert inputs == [("input_1", onnx.TensorProto.DOUBLE, ["batch", "time_1", 3]),
                      ("input_2", onnx.TensorProto.DOUBLE, ["batch", "time_2", 4]),
                      ("input_3", onnx.TensorProto.INT64, ["batch", "time_3"])]
    assert [v.name for v in proto.graph.output] == ["output"]
    # batch and time are dynamic: other sizes than Keras's, each input its own length
    X = generate_inputs(model, n=3, T=9, seed=4)
    X[2] = X[2][:, :4]
    got = run_onnx(proto, merge_feeds(X))["output"]
    np.testing.assert_allclose(got, model.predict(X), rtol=0, atol=1e-12)


def test_concat_on_the_time_axis_takes_inputs_of_different_lengths():
    model = load("merge_concat_time_f64")  # Merge([Embedding -> LSTM(seq), GRU(seq)], concat_axis=1) -> JZS3
    for target in ("onnxruntime", "portable"):
        proto = rnn2onnx.export(model, target=target)
        for T0, T1 in ((6, 2), (1, 8)):
            X = [generate_inputs(model, n=4, T=T0, seed=T0)[0], generate_inputs(model, n=4, T=T1, seed=T1)[1]]
            got = run_onnx(proto, merge_feeds(X))["output"]
            assert relative_error(got, model.predict(X)) <= 1e-12


def test_the_merge_drops_the_masks():
    """Masked branches, a merge, then a recurrent layer: it gets no mask (its plain native
    form), and the export agrees with the reference, which drops it as Keras 0.2.0 does."""
    def branch(vocab):
        b = r.Sequential(dtype="float32", seed=vocab)
        b.add(r.Embedding(vocab, 3, mask_zero=True))
        b.add(r.LSTM(4, return_sequences=True, inner_activation="sigmoid"))
        return b

    model = r.Sequential(dtype="float32", seed=0)
    model.add(r.Merge([branch(7), branch(9)], mode="concat"))
    model.add(r.GRU(3, inner_activation="sigmoid"))
    forms = {key: form for key, form, _ in rnn2onnx.plan(model, strategy="native")}
    assert forms["merge_1/branch_1/lstm_1"].startswith("native-") and forms["merge_1/branch_2/lstm_1"].startswith("native-")
    assert forms["gru_1"] == "native"
    report = rnn2onnx.validate(model, rnn2onnx.export(model, strategy="native"))
    assert report.passed


def test_plan_keys_are_paths_in_walk_order_and_describe_shows_the_tree():
    model = load("merge_nested_seq")
    plan = rnn2onnx.plan(model)
    assert [key for key, _, _ in plan] == [
        "merge_1/branch_1/merge_1/branch_1/jzs1_1", "merge_1/branch_1/merge_1/branch_2/embedding_1",
        "merge_1/branch_1/merge_1/branch_2/jzs3_1", "merge_1/branch_1/merge_1", "merge_1/branch_1/dense_1",
        "merge_1/branch_2/lstm_1", "merge_1", "dense_1"]
    assert dict((k, f) for k, f, _ in plan)["merge_1"] == "Add+Div of 2"
    lines = describe(model, plan)
    assert lines[:3] == ["input input_1: float64 (batch, time_1, 4)", "input input_2: int64 token ids (batch, time_2)",
                         "input input_3: float64 (batch, time_3, 3)"]
    assert "merge_1: Merge mode=ave (Add+Div of 2), 2 branches, masks dropped:" in lines
    assert "        input_2 -> embedding_1 (Embedding: Cast+Equal+Gather+Not) -> jzs3_1 (JZS3: loop)" in lines
    assert lines[-2:] == ["merge_1 -> dense_1 (Dense: Add+MatMul) -> output", "output output: float64 (batch, 2)"]
    # the file records each layer's form under its path
    props = {p.key: p.value for p in rnn2onnx.export(model, validate=False).metadata_props}
    assert json.loads(props["rnn2onnx.layer.merge_1/branch_2/lstm_1"])["onnx_form"] == "loop"
    assert json.loads(props["rnn2onnx.layer.merge_1"]) == {"name": "Merge", "mode": "ave", "concat_axis": -1,
                                                           "branches": 2, "onnx_form": "Add+Div of 2"}


@pytest.mark.parametrize("opset", ["min", "max"])
def test_merge_exports_at_the_opset_bounds(opset):
    opsets = rnn2onnx.supported_opsets()
    model = load("merge_ave")  # GRU, Embedding -> JZS2, Dense (a 2-D input) averaged
    proto = rnn2onnx.export(model, opset=opsets[0] if opset == "min" else opsets[-1], target="portable")
    _, feeds, Y = keras_data("merge_ave")
    assert relative_error(run_onnx(proto, feeds)["output"], Y["output"]) <= 1e-10


def test_validation_checks_the_interface_and_the_number_of_arrays():
    model = load("merge_sum")
    proto = rnn2onnx.export(model)
    with pytest.raises(InterfaceError, match=r"inputs \['input_1', 'input_2'\], but .* has inputs \['input'\]"):
        check_interface(r.Sequential([r.LSTM(3, input_dim=2)]), proto)
    with pytest.raises(rnn2onnx.ExportError, match="takes 2 input arrays"):
        rnn2onnx.validate(model, proto, inputs=[keras_data("merge_sum")[0][0]])
    report = rnn2onnx.validate(model, proto, inputs=keras_data("merge_sum")[0])
    assert report.passed and [o.name for o in report.outputs] == ["output"] and report.samples == 4


def test_the_empty_input_guard_answers_empty_merge_inputs(tmp_path):
    """onnxruntime target: every recurrent node in every branch is guarded (batch 0)."""
    from .test_passes import run_isolated

    model = load("merge_sum")  # Embedding -> GRU, LSTM: summed
    proto = rnn2onnx.export(model)
    assert sum(n.op_type == "If" for n in proto.graph.node) == 2
    path = str(tmp_path / "merge.onnx")
    onnx.save_model(proto, path)
    out = run_isolated(tmp_path, [{"path": path, "feeds": {"input_1": [[0, 5], "int64"],
                                                           "input_2": [[0, 5, 3], "float64"]}}])
    (result,) = out.values()
    assert result.shape == (0, 3)


@pytest.mark.parametrize("runtime", [n for n in runtimes.RUNTIMES if n != "onnxruntime"])
def test_portable_merge_files_run_on_the_other_runtimes(runtime):
    if not runtimes.get(runtime).available():
        pytest.skip(runtimes.get(runtime).install_hint())
    for name in ("babi_rnn_f32", "merge_concat_time_f32"):
        model = load(name)
        proto = rnn2onnx.export(model, target="portable")
        report = rnn2onnx.validate(model, proto, runtime=runtime)
        assert report.passed, report.format_table()
        assert len(model_inputs(model)) == 2


# ---------------------------------------------------------------------------------------
# Graph


def test_graph_inputs_and_outputs_are_named_and_ordered_as_spec_says():
    model = load("graph_two_io")  # add_input x1, x2; add_output o1, o2, o3
    proto = rnn2onnx.export(model)
    shapes = lambda values: [(v.name, v.type.tensor_type.elem_type,  # noqa: E731
                              [d.dim_param or d.dim_value or None for d in v.type.tensor_type.shape.dim])
                             for v in values]
    assert shapes(proto.graph.input) == [("x1", onnx.TensorProto.DOUBLE, ["batch", "time_1", 3]),
                                         ("x2", onnx.TensorProto.DOUBLE, ["batch", "time_2", 4])]
    assert shapes(proto.graph.output) == [("o1", onnx.TensorProto.DOUBLE, ["batch", 2]),
                                          ("o2", onnx.TensorProto.DOUBLE, ["batch", 3]),
                                          ("o3", onnx.TensorProto.DOUBLE, ["batch", None, 3])]
    model = load("graph_embed_f32")  # one int input; outputs td, cls (create_output nodes), h
    proto = rnn2onnx.export(model)
    assert shapes(proto.graph.input) == [("tok", onnx.TensorProto.INT64, ["batch", "time"])]
    assert [v.name for v in proto.graph.output] == ["td", "cls", "h"]


def _masked_graph(**node_options):
    g = r.Graph(dtype="float32")
    g.add_input("a", (None,), dtype="int")
    g.add_input("b", (None,), dtype="int")
    g.add_node(r.Embedding(7, 3, mask_zero=True), "ea", input="a")
    g.add_node(r.Embedding(9, 3, mask_zero=True), "eb", input="b")
    g.add_node(r.LSTM(4, return_sequences=True, inner_activation="sigmoid"), "la", input="ea")
    g.add_node(r.LSTM(4, return_sequences=True, inner_activation="sigmoid"), "lb", input="eb")
    g.add_node(r.GRU(3, inner_activation="sigmoid"), "merged", inputs=["la", "lb"], **node_options)
    g.add_node(r.GRU(3, inner_activation="sigmoid"), "single", input="la")
    g.add_output("merged", input="merged")
    g.add_output("single", input="single")
    g.add_output("same", input="single")  # one tensor, two outputs
    g.add_output("ids", input="a")        # an input as an output
    return g


@pytest.mark.parametrize("options", [{}, {"merge_mode": "sum"}, {"merge_mode": "concat", "concat_axis": 1}])
def test_a_single_input_node_keeps_the_mask_and_a_merge_drops_it(options):
    model = _masked_graph(**options)
    forms = {key: form for key, form, _ in rnn2onnx.plan(model, strategy="native")}
    assert forms["la"].startswith("native-") and forms["single"].startswith("native-")  # masked forms
    assert forms["merged"] == "native"  # no mask after the merge
    proto = rnn2onnx.export(model, strategy="native")
    assert [v.name for v in proto.graph.output] == ["merged", "single", "same", "ids"]
    report = rnn2onnx.validate(model, proto)
    assert report.passed and [o.name for o in report.outputs] == ["merged", "single", "same", "ids"]
    X = generate_inputs(model, n=5, T=6, seed=2)
    assert sorted(X) == ["a", "b"] and X["a"].max() < 7 and X["b"].max() < 9  # each Embedding's vocabulary
    assert (X["a"] == 0).any() and (X["b"] == 0).any()


def test_graph_validation_refuses_wrong_dicts_and_files():
    model = load("graph_two_io")
    proto = rnn2onnx.export(model)
    X, _, _ = keras_data("graph_two_io")
    with pytest.raises(rnn2onnx.ExportError, match=r"takes a dict of its inputs \['x1', 'x2'\], got \['x1'\]"):
        rnn2onnx.validate(model, proto, inputs={"x1": X["x1"]})
    other = load("graph_embed_f64")
    swapped = rnn2onnx.export(other, validate=False)  # graph_embed's input, graph_two_io's outputs
    del swapped.graph.output[:]
    swapped.graph.output.extend(proto.graph.output)
    with pytest.raises(InterfaceError, match=r"outputs \['o1', 'o2', 'o3'\], but .* has outputs \['td', 'cls', 'h'\]"):
        check_interface(other, swapped)
    assert rnn2onnx.validate(model, proto, inputs=X).passed


def test_portable_merge_files_answer_empty_batches_and_empty_inputs(tmp_path):
    """target="portable" (no If): each input is padded on its own. An empty batch gives
    no rows; an input with zero timesteps is answered (Keras itself refuses empty
    sequences), never a dead process."""
    from .test_passes import run_isolated

    model = load("babi_rnn_f64")  # two int inputs of their own lengths, concatenated features
    path = str(tmp_path / "babi.onnx")
    rnn2onnx.export(model, path, target="portable")
    shapes = [(0, 5, 3), (2, 0, 3), (2, 5, 0), (0, 0, 0)]
    cases = [{"path": path, "feeds": {"input_1": [[B, T1], "int64"], "input_2": [[B, T2], "int64"]}}
             for B, T1, T2 in shapes]
    out = run_isolated(tmp_path, cases)
    assert [y.shape for y in out.values()] == [(B, model.output_shape[-1]) for B, _, _ in shapes]
