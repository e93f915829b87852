"""Export of recurrent layers given initial states (Keras 2.x's `initial_state`: an
encoder's return_state outputs start a decoder): in onnxruntime against the reference's
predict, masked (the carry rule; left, right and middle padding) and unmasked, forwards
and go_backwards, strategies auto and loop, both dtypes; and the refusals."""
import numpy as np
import pytest

import reference as r
import rnn2onnx
from reference.errors import ConfigError
from reference.functional import FunctionalModel
from rnn2onnx import runtimes, structure
from rnn2onnx.validation import compare, generate_inputs

CELLS = {"LSTM": r.LSTM, "GRU": r.GRU, "SimpleRNN": r.SimpleRNN}


def encoder_decoder(kind, dtype, masked_decoder, go_backwards=False, last=False, initial_output="zero", seed=0):
    """last: the decoder returns its last output and its final states (return_state);
    initial_output: what its masked prefix outputs (reference/recurrent/base.py)."""
    m = FunctionalModel(dtype=dtype, seed=seed)
    m.add_input("ids", (None,), "int32")
    m.add_input("floats", (None, 3))
    m.add_node(r.Embedding(9, 3, mask_zero=True), ["ids"], name="emb")
    cell = CELLS[kind]
    m.add_node(cell(4, mask_rule="carry", return_state=True), ["emb"], name="encoder")
    states = [("encoder", 0, i) for i in range(1, 1 + m._layers["encoder"].state_count)]
    source = "floats"
    if masked_decoder:
        m.add_node(r.Masking(0.0), ["floats"], name="masking")
        source = "masking"
    decoder = cell(4, mask_rule="carry", return_sequences=not last, go_backwards=go_backwards, return_state=last,
                   initial_output=initial_output)
    m.add_node(decoder, [source] + states, name="decoder")
    m.set_outputs([("decoder", 0, i) for i in range(decoder.nb_outputs)])
    return m


def check(model, strategy):
    proto = rnn2onnx.export(model, strategy=strategy)
    run = runtimes.load("onnxruntime", proto)
    for T in (7, 2):
        X = generate_inputs(model, n=8, T=T, seed=T)
        actual = run(structure.feeds(model, X))
        expected = structure.predict_outputs(model, X)
        for port, e, a in zip(structure.model_outputs(model), expected, actual):
            report = compare(e, a, port.name, str(model.dtype))
            assert report.passed, (port.name, report.max_rel_error)
    return proto


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("strategy", ["auto", "loop"])
@pytest.mark.parametrize("kind", list(CELLS))
@pytest.mark.parametrize("masked_decoder,go_backwards,last", [(True, False, False), (True, True, False),
                                                               (True, False, True), (False, False, False),
                                                               (False, True, True)])
def test_encoder_decoder_matches_the_reference(kind, strategy, dtype, masked_decoder, go_backwards, last):
    check(encoder_decoder(kind, dtype, masked_decoder, go_backwards, last), strategy)


def all_nodes(graph):
    """The graph's nodes and those of its subgraphs (the empty-input guard's If branches)."""
    for node in graph.node:
        yield node
        for attr in node.attribute:
            for sub in ([attr.g] if attr.HasField("g") else []) + list(attr.graphs):
                yield from all_nodes(sub)


def test_unmasked_float32_lstm_takes_the_native_op_with_initial_states():
    proto = check(encoder_decoder("LSTM", "float32", masked_decoder=False), "auto")
    (lstm,) = [n for n in all_nodes(proto.graph) if n.op_type == "LSTM" and "decoder" in n.name]
    assert len(lstm.input) == 7 and all(lstm.input[5:])  # initial_h and initial_c given


@pytest.mark.parametrize("kind", list(CELLS))
@pytest.mark.parametrize("strategy", ["auto", "loop"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("last", [False, True])
def test_a_masked_prefix_outputting_the_given_h(kind, strategy, dtype, last):
    check(encoder_decoder(kind, dtype, True, last=last, initial_output="state"), strategy)


@pytest.mark.parametrize("kind", list(CELLS))
@pytest.mark.parametrize("last", [False, True])
@pytest.mark.parametrize("initial_output", ["zero", "state"])
def test_the_masked_native_form_starts_from_the_given_states(kind, last, initial_output):
    # float32 (onnxruntime's native kernels); an all-masked row keeps the given states
    model = encoder_decoder(kind, "float32", masked_decoder=True, last=last, initial_output=initial_output)
    proto = check(model, "native")
    ops = {n.op_type for n in all_nodes(proto.graph)}
    assert {"LSTM": "LSTM", "GRU": "GRU", "SimpleRNN": "RNN"}[kind] in ops and "Scan" not in ops


def test_the_number_of_initial_states_must_match_the_cell():
    m = FunctionalModel(dtype="float64")
    m.add_input("floats", (None, 3))
    m.add_node(r.LSTM(4, mask_rule="carry", return_state=True), ["floats"], name="encoder")
    with pytest.raises(ConfigError, match="takes 2 initial state"):
        m.add_node(r.LSTM(4, mask_rule="carry"), ["floats", ("encoder", 0, 1)], name="decoder")
    with pytest.raises(ConfigError, match="takes 1 initial state"):
        m.add_node(r.GRU(4, mask_rule="carry"), ["floats", ("encoder", 0, 1), ("encoder", 0, 2)], name="gru")
    with pytest.raises(ConfigError, match="must have shape"):
        m.add_node(r.GRU(3, mask_rule="carry"), ["floats", ("encoder", 0, 1)], name="narrow")


def test_a_bidirectional_layer_given_initial_states_is_refused():
    m = FunctionalModel(dtype="float64")
    m.add_input("floats", (None, 3))
    m.add_node(r.LSTM(4, mask_rule="carry", return_state=True), ["floats"], name="encoder")
    layer = r.Bidirectional(r.LSTM(4, mask_rule="carry"))
    with pytest.raises(ConfigError, match="Bidirectional layer called with initial states"):
        m.add_node(layer, ["floats", ("encoder", 0, 1), ("encoder", 0, 2)], name="bidir")
