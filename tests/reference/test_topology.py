"""The walk of a model's topology (reference/topology.py): inputs, layer calls and merges in
evaluation order, outputs; each record's key, the values it reads and makes, its prefix.
The expected orders are Keras's: predict's input order, a branch before its Merge, a
Graph's add_node and add_output orders, a functional model's call order."""
import numpy as np

import reference as r
from reference.functional import FunctionalModel
from reference.topology import walk


def _branch(d=3, k=2):
    model = r.Sequential(dtype="float64")
    model.add(r.Dense(k, input_dim=d))
    return model


def _rows(w):
    return [(node.kind, node.key, node.inputs, node.outputs) for node in w]


def test_a_sequential_is_one_input_its_layers_in_order_and_one_output():
    model = r.Sequential([r.LSTM(3, input_dim=2, return_sequences=True), r.GRU(4), r.Dense(2)])
    assert _rows(walk(model)) == [
        ("input", "input", (), (("input", 0, 0),)),
        ("layer", "lstm_1", (("input", 0, 0),), (("lstm_1", 0, 0),)),
        ("layer", "gru_1", (("lstm_1", 0, 0),), (("gru_1", 0, 0),)),
        ("layer", "dense_1", (("gru_1", 0, 0),), (("dense_1", 0, 0),)),
        ("output", "output", (("dense_1", 0, 0),), ()),
    ]


def test_a_merge_first_sequential_walks_each_branch_before_its_merge():
    """Merge([Merge([a, b]) given as a branch, c]), then a Dense: inputs input_1..3 in
    predict's order, the inner merge keyed by its place (merge_1/branch_1), the branches'
    layers by their branch."""
    inner = r.Merge([_branch(), _branch()], mode="sum")
    outer = r.Merge([inner, _branch(k=2)], mode="concat")
    model = r.Sequential([outer, r.Dense(1)], dtype="float64")
    w = walk(model)
    a, b, c = "merge_1/branch_1/branch_1/dense_1", "merge_1/branch_1/branch_2/dense_1", "merge_1/branch_2/dense_1"
    assert _rows(w) == [
        ("input", "input_1", (), (("input_1", 0, 0),)),
        ("input", "input_2", (), (("input_2", 0, 0),)),
        ("input", "input_3", (), (("input_3", 0, 0),)),
        ("layer", a, (("input_1", 0, 0),), ((a, 0, 0),)),
        ("layer", b, (("input_2", 0, 0),), ((b, 0, 0),)),
        ("merge", "merge_1/branch_1", ((a, 0, 0), (b, 0, 0)), (("merge_1/branch_1", None, 0),)),
        ("layer", c, (("input_3", 0, 0),), ((c, 0, 0),)),
        ("merge", "merge_1", (("merge_1/branch_1", None, 0), (c, 0, 0)), (("merge_1", None, 0),)),
        ("layer", "dense_1", (("merge_1", None, 0),), (("dense_1", 0, 0),)),
        ("output", "output", (("dense_1", 0, 0),), ()),
    ]
    assert [node.prefix for node in w.inputs] == ["merge_1/branch_1/branch_1/", "merge_1/branch_1/branch_2/",
                                                  "merge_1/branch_2/"]
    merges = [node for node in w.nodes if node.kind == "merge"]
    assert [(m.layer, m.mode, m.concat_axis, m.prefix) for m in merges] == [(inner, "sum", -1, "merge_1/"),
                                                                           (outer, "concat", -1, "")]


def _graph():
    graph = r.Graph(dtype="float64", seed=0)
    graph.add_input("a", (4, 3))
    graph.add_input("b", (4, 3))
    graph.add_node(r.GRU(2, return_sequences=True), "g", input="a")
    graph.add_node(r.TimeDistributedDense(2), "t", inputs=["a", "b"], merge_mode="sum")
    graph.add_output("both", inputs=["g", "t"], merge_mode="concat", concat_axis=1)
    graph.add_output("g_out", input="g")
    return graph


def test_a_graph_walks_its_nodes_then_its_outputs_each_merge_just_before_its_reader():
    assert _rows(walk(_graph())) == [
        ("input", "a", (), (("a", 0, 0),)),
        ("input", "b", (), (("b", 0, 0),)),
        ("layer", "g", (("a", 0, 0),), (("g", 0, 0),)),
        ("merge", "t/merge", (("a", 0, 0), ("b", 0, 0)), (("t/merge", None, 0),)),
        ("layer", "t", (("t/merge", None, 0),), (("t", 0, 0),)),
        ("merge", "output both/merge", (("g", 0, 0), ("t", 0, 0)), (("output both/merge", None, 0),)),
        ("output", "both", (("output both/merge", None, 0),), ()),
        ("output", "g_out", (("g", 0, 0),), ()),
    ]
    merges = [node for node in walk(_graph()).nodes if node.kind == "merge"]
    assert [(m.layer, m.mode, m.concat_axis) for m in merges] == [(None, "sum", -1), (None, "concat", 1)]


def test_readers_look_through_a_graph_merge_to_the_layer():
    graph = _graph()
    w = walk(graph)
    assert w.readers(("a", 0, 0)) == [graph.nodes["g"]["layer"], graph.nodes["t"]["layer"]]
    assert w.readers(("b", 0, 0)) == [graph.nodes["t"]["layer"]]


def test_a_functional_model_walks_its_calls_in_call_order():
    """A shared LSTM called twice (keys lstm, lstm/call_1), a return_state GRU (three
    values), a GRU started from given states, a merge layer; outputs named as
    output_names says."""
    m = FunctionalModel(dtype="float64", seed=1)
    m.add_input("x", (None, 2))
    m.add_input("y", (None, 2))
    lstm = r.LSTM(3, return_sequences=True)
    m.add_node(lstm, ["x"], name="lstm")
    m.add_node(lstm, ["y"])
    m.add_node(r.MergeLayer("sum"), [("lstm", 0), ("lstm", 1)], name="add")
    m.add_node(r.GRU(3, return_state=True, mask_rule="carry"), ["add"], name="enc")
    m.add_node(r.GRU(3, mask_rule="carry"), ["y", ("enc", 0, 1)], name="dec")
    m.set_outputs(["dec", ("enc", 0, 1), "x"])
    w = walk(m)
    assert _rows(w) == [
        ("input", "x", (), (("x", 0, 0),)),
        ("input", "y", (), (("y", 0, 0),)),
        ("layer", "lstm", (("x", 0, 0),), (("lstm", 0, 0),)),
        ("layer", "lstm/call_1", (("y", 0, 0),), (("lstm", 1, 0),)),
        ("layer", "add", (("lstm", 0, 0), ("lstm", 1, 0)), (("add", 0, 0),)),
        ("layer", "enc", (("add", 0, 0),), (("enc", 0, 0), ("enc", 0, 1))),
        ("layer", "dec", (("y", 0, 0), ("enc", 0, 1)), (("dec", 0, 0),)),
        ("output", "dec", (("dec", 0, 0),), ()),
        ("output", "enc", (("enc", 0, 1),), ()),
        ("output", "x_1", (("x", 0, 0),), ()),
    ]
    assert [(n.call, n.calls, n.states) for n in w.nodes] == [(0, 2, 0), (1, 2, 0), (0, 1, 0), (0, 1, 0), (0, 1, 1)]
    assert w.readers(("y", 0, 0)) == [lstm, m.layers[-1]]


def test_arguments_and_results_follow_the_reads_of_each_kind_of_node():
    """A merge takes [tensors] and no mask; a merge layer [tensors], [masks]; a layer
    given initial states [input, states] and its input's mask; a multi-output layer
    gives one (tensor, mask) per value."""
    m = FunctionalModel(dtype="float64")
    m.add_input("x", (None, 2))
    m.add_input("h", (3,))
    m.add_node(r.GRU(3, return_sequences=True, return_state=True, mask_rule="carry"), ["x", "h"], name="gru")
    m.add_node(r.MergeLayer("sum"), [("gru", 0, 1), "h"], name="add")
    m.set_outputs(["add"])
    gru, add = walk(m).nodes
    values = {("x", 0, 0): ("X", "mX"), ("h", 0, 0): ("H", None)}
    assert gru.arguments(values) == (["X", "H"], "mX")
    values.update(gru.results(["Y", "S"], ["mY", None]))
    assert values[("gru", 0, 0)] == ("Y", "mY") and values[("gru", 0, 1)] == ("S", None)
    assert gru.results(["Y", "S"], None) == {("gru", 0, 0): ("Y", None), ("gru", 0, 1): ("S", None)}
    assert add.arguments(values) == (["S", "H"], [None, None])
    merge = walk(_graph()).nodes[1]
    assert merge.arguments({("a", 0, 0): ("A", "mA"), ("b", 0, 0): ("B", "mB")}) == (["A", "B"], None)
    layer = walk(_graph()).nodes[0]
    assert layer.arguments({("a", 0, 0): ("A", "mA")}) == ("A", "mA")


def test_the_walk_reads_the_model_as_predict_does():
    """Evaluating the walk with each layer's forward gives predict's numbers, for a
    Merge-first Sequential (whose own forward is the Merge's)."""
    rng = np.random.default_rng(0)
    model = r.Sequential([r.Merge([_branch(), _branch(d=4)], mode="mul"), r.Dense(2)], dtype="float64")
    X = [rng.normal(size=(5, 3)), rng.normal(size=(5, 4))]
    w = walk(model)
    values = {node.outputs[0]: (x, None) for node, x in zip(w.inputs, X)}
    for node in w.nodes:
        x, mask = node.arguments(values)
        y = r.containers.merge_outputs(x, node.mode, node.concat_axis) if node.kind == "merge" \
            else node.layer.forward(x, mask)
        values.update(node.results(y, None))
    assert np.array_equal(values[w.outputs[0].inputs[0]][0], model.predict(X))


def test_a_merge_is_never_taken_for_a_node_named_like_it():
    """A Graph node called "t/merge" and the merge feeding node t are two values."""
    rng = np.random.default_rng(1)
    graph = r.Graph(dtype="float64", seed=0)
    graph.add_input("a", (3,))
    graph.add_input("b", (3,))
    graph.add_node(r.Dense(3), "t/merge", input="a")
    graph.add_node(r.Dense(2), "t", inputs=["a", "b"], merge_mode="sum")
    graph.add_node(r.Dense(2), "u", input="t/merge", create_output=True)
    graph.add_output("t_out", input="t")
    made = [v for node in walk(graph) for v in node.outputs]
    assert len(made) == len(set(made))
    a, b = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    out = graph.predict({"a": a, "b": b})
    dense = {name: node["layer"] for name, node in graph.nodes.items()}
    assert np.array_equal(out["u"], dense["u"].forward(dense["t/merge"].forward(a)))
    assert np.array_equal(out["t_out"], dense["t"].forward(a + b))


def test_the_walk_kept_on_a_model_follows_its_construction():
    """Model.walked keeps the walk for the forward passes; adding a call or an output walks
    the model again."""
    rng = np.random.default_rng(2)
    m = FunctionalModel(dtype="float64", seed=3)
    m.add_input("x", (2,))
    m.add_node(r.Dense(3), ["x"], name="d1")
    m.set_outputs(["d1"])
    kept = m.walked()
    assert m.walked() is kept
    m.add_node(r.Dense(2), ["d1"], name="d2")
    m.set_outputs(["d2", "d1"])
    assert [node.key for node in m.walked()] == ["x", "d1", "d2", "d2", "d1"]
    X = rng.normal(size=(4, 2))
    d1, d2 = m.layers
    assert np.array_equal(m.predict(X)[0], d2.forward(d1.forward(X)))
    graph = _graph()
    kept = graph.walked()
    graph.add_node(r.Dense(1), "last", input="g")
    assert graph.walked() is not kept and graph.walked().nodes[-2].key == "last"
