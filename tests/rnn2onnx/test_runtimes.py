"""The same exported files on other runtimes: OpenVINO and tract (optional extras), and
the runtime plug-ins themselves. Every layer x mask source x return_sequences on the
portable target; skipped cleanly where a runtime is not installed."""
import numpy as np
import pytest

import rnn2onnx
from rnn2onnx import cli, runtimes, tract_worker
from rnn2onnx.validation import TOLERANCE, compare, generate_inputs

from .models import CELLS, MASK_SOURCES, build

needs_openvino = pytest.mark.skipif("openvino" not in runtimes.available(),
                                    reason="openvino is not installed (pip install -e '.[openvino]')")
needs_tract = pytest.mark.skipif("tract" not in runtimes.available(),
                                 reason="tract is not installed (pip install -e '.[tract]')")


# -- OpenVINO ------------------------------------------------------------------------------
@needs_openvino
@pytest.mark.parametrize("loop_op", ["scan", "loop"])
@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("mask_source", MASK_SOURCES)
@pytest.mark.parametrize("cell", sorted(CELLS))
def test_portable_files_agree_on_openvino(cell, mask_source, return_sequences, loop_op):
    model = build(cell, mask_source, return_sequences)
    proto = rnn2onnx.export(model, target="portable", loop_op=loop_op)
    assert rnn2onnx.validate(model, proto, runtime="openvino").passed


@needs_openvino
@pytest.mark.parametrize("cell", ["JZS1", "JZS3", "GRU", "SimpleDeepRNN3"])
def test_softmax_gates_in_a_portable_loop_run_on_openvino(cell):
    # OpenVINO 2026.4 failed on a Softmax inside the loop body ("not enough registers")
    model = build(cell, "embedding", True, activation="sigmoid", inner_activation="softmax")
    proto = rnn2onnx.export(model, target="portable")
    assert rnn2onnx.validate(model, proto).passed
    assert rnn2onnx.validate(model, proto, runtime="openvino").passed


@needs_openvino
@pytest.mark.parametrize("cell", ["GRU", "LSTM", "SimpleRNN"])
def test_onnxruntime_target_files_with_common_activations_agree_on_openvino(cell):
    model = build(cell, activation="tanh", inner_activation="sigmoid")
    proto = rnn2onnx.export(model, strategy="native")
    assert rnn2onnx.validate(model, proto, runtime="openvino").passed


@needs_openvino
def test_float64_file_runs_on_openvino_within_float32_tolerance():
    # OpenVINO's CPU plugin has no float64 kernels: it computes such files in float32,
    # so the comparison uses the float32 tolerance
    model = build("LSTM", "embedding", dtype="float64")
    run = runtimes.load("openvino", rnn2onnx.export(model, target="portable"))
    X = generate_inputs(model)
    result = compare(model.predict(X), run({"input": X})[0], "output", "float32")
    assert result.max_rel_error <= TOLERANCE["float32"], result


# -- tract ---------------------------------------------------------------------------------
@needs_tract
@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("mask_source", MASK_SOURCES)
@pytest.mark.parametrize("cell", sorted(CELLS))
def test_portable_files_agree_on_tract_with_concrete_and_symbolic_dims(cell, mask_source, return_sequences):
    model = build(cell, mask_source, return_sequences)
    proto = rnn2onnx.export(model, target="portable")
    assert rnn2onnx.validate(model, proto, runtime="tract").passed  # concrete shapes, per batch
    run = runtimes.load("tract", proto, dims="symbolic")  # one typing with symbols B, T
    for X in (generate_inputs(model, n=5, T=6), generate_inputs(model, n=2, T=1, seed=1)):
        result = compare(model.predict(X), run({"input": X})[0], "output", "float32")
        assert result.max_rel_error <= TOLERANCE["float32"], result


@needs_tract
@pytest.mark.parametrize("cell", sorted(CELLS))
def test_portable_float64_files_agree_on_tract(cell):
    # tract has no float64 Sigmoid: the portable target writes it with Tanh in float64
    model = build(cell, "embedding", True, dtype="float64", activation="tanh", inner_activation="sigmoid")
    proto = rnn2onnx.export(model, target="portable")
    assert rnn2onnx.validate(model, proto, runtime="tract").passed  # float64 tolerance, 1e-10


@needs_tract
@pytest.mark.parametrize("cell", ["LSTM", "GRU", "JZS1", "JZS2"])
def test_native_ops_in_portable_files_run_on_tract(cell):
    # ONNX's default activations keep the native op; zero initial states avoid tract's
    # panic on a symbolic batch
    model = build(cell, activation="tanh", inner_activation="sigmoid")
    proto = rnn2onnx.export(model, target="portable")
    assert {"LSTM", "GRU"} & {n.op_type for n in proto.graph.node}
    X = generate_inputs(model)
    for dims in ("concrete", "symbolic"):
        result = compare(model.predict(X), runtimes.load("tract", proto, dims=dims)({"input": X})[0], "output",
                         "float32")
        assert result.max_rel_error <= TOLERANCE["float32"], (dims, result)


@needs_tract
def test_softplus_beyond_float32_exp_range_is_exact_on_tract():
    # tract computes a Softplus node as log(1 + exp(x)): inf above 88.7; the portable
    # target writes softplus as relu(x) + log(1 + exp(-|x|))
    from reference import Sequential, SimpleRNN

    model = Sequential(seed=0)
    model.add(SimpleRNN(5, activation="softplus", return_sequences=True, input_shape=(None, 4)))
    X = generate_inputs(model) * 300
    expected = model.predict(X)
    assert expected.max() > 100  # inputs of softplus beyond exp's float32 range
    got = runtimes.load("tract", rnn2onnx.export(model, target="portable"))({"input": X})[0]
    assert compare(expected, got, "output", "float32").passed


@needs_tract
def test_what_tract_gets_wrong_in_onnxruntime_target_files():
    """The findings the portable target is built on; should tract change, these fail and
    the policy (the portable record in rnn2onnx/targets.py) can be relaxed."""
    # the `activations` attribute is ignored: hard_sigmoid gates computed as sigmoid
    model = build("LSTM")
    proto = rnn2onnx.export(model, strategy="native")
    report = rnn2onnx.validate(model, proto, runtime="tract", raise_on_failure=False)
    assert report.outputs[0].max_rel_error > 1e-2
    # a Scan body with a named batch dim does not unify with a concrete batch
    model = build("GRU", "embedding")
    with pytest.raises(runtimes.TractError, match="unify"):
        rnn2onnx.validate(model, rnn2onnx.export(model), runtime="tract")
    # ONNX Loop is not implemented
    with pytest.raises(runtimes.TractError, match="Loop"):
        rnn2onnx.validate(model, rnn2onnx.export(model, target="portable", loop_op="loop"), runtime="tract")


@needs_tract
def test_a_tract_panic_is_a_clear_error_and_the_next_model_still_runs():
    model = build("GRU", activation="tanh", inner_activation="sigmoid")
    proto = rnn2onnx.export(model, strategy="native")  # no initial states: tract panics on symbolic batch
    X = generate_inputs(model)
    with pytest.raises(runtimes.RuntimeCrashed, match="panicked"):
        runtimes.load("tract", proto, dims="symbolic")({"input": X})
    portable = rnn2onnx.export(model, target="portable")
    np.testing.assert_allclose(runtimes.load("tract", portable, dims="symbolic")({"input": X})[0],
                               model.predict(X), rtol=0, atol=1e-5)


# -- the plug-ins ---------------------------------------------------------------------------
def test_every_runtime_is_a_registered_class_that_answers_for_itself():
    assert runtimes.RUNTIMES == ("onnxruntime", "openvino", "tract", "onnxruntime-node", "onnxruntime-web")
    for name in runtimes.RUNTIMES:
        cls = runtimes.get(name)
        assert cls.name == name and isinstance(cls.computes_float64, bool) and cls.known_issues
        assert (name in runtimes.available()) == cls.available()
        assert cls.version() is None or cls.version()[0].isdigit()
    assert runtimes.get("onnxruntime").known_limit("onnxruntime", "float64") is None
    assert runtimes.get("openvino").known_limit("onnxruntime", "float32")
    assert runtimes.get("openvino").known_limit("portable", "float32") is None
    assert runtimes.get("tract").known_limit("portable", "float32", loop_op="loop")
    with pytest.raises(runtimes.RuntimeNotAvailable, match="accepted: onnxruntime, openvino, tract, onnxruntime-node, onnxruntime-web"):
        runtimes.load("tensorrt", None)


@pytest.mark.parametrize("name", ["openvino", "tract"])
def test_a_runtime_that_is_not_installed_says_how_to_install_it(name, monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(runtimes.get(name), "available", classmethod(lambda cls: False))
    model = build("GRU")
    proto = rnn2onnx.export(model)
    hint = f'{name} is not installed; install it with: pip install "rnn2onnx[{name}]"'
    with pytest.raises(runtimes.RuntimeNotAvailable) as exc:
        rnn2onnx.validate(model, proto, runtime=name)
    assert str(exc.value) == hint
    assert name not in runtimes.available()
    # the command: one sentence, exit 1
    config, weights = tmp_path / "m.json", tmp_path / "m.h5"
    config.write_text(model.to_json())
    model.save_weights(str(weights))
    rnn2onnx.export(model, str(tmp_path / "m.onnx"))
    code = cli.main(["validate", str(tmp_path / "m.onnx"), str(config), str(weights), "--runtime", name])
    err = capsys.readouterr().err
    assert code == 1 and err.strip() == f"rnn2onnx: error: {hint}"


@needs_tract
def test_the_tract_worker_runs_this_package_whatever_the_current_directory_holds(tmp_path, monkeypatch):
    (tmp_path / "rnn2onnx").mkdir()
    (tmp_path / "rnn2onnx" / "__init__.py").write_text("")  # another rnn2onnx, without the worker
    monkeypatch.chdir(tmp_path)
    model = build("GRU", "embedding")
    worker = tract_worker.TractWorker()
    try:
        X = generate_inputs(model)
        got = worker.load(rnn2onnx.export(model, target="portable"))({"input": X})[0]
    finally:
        worker.proc.kill()
    assert compare(model.predict(X), got, "output", "float32").passed


def test_docs_have_a_section_per_runtime():
    import os

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    with open(os.path.join(root, "docs", "runtimes.md"), encoding="utf-8") as f:
        headings = [line[3:].split(" (")[0].strip().lower() for line in f if line.startswith("## ")]
    # one section per runtime, in the registry's order, before the cross-runtime sections
    assert headings[:len(runtimes.RUNTIMES)] == [name.lower() for name in runtimes.RUNTIMES]
