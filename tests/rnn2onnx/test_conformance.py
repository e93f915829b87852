"""`rnn2onnx conformance`: the --quick matrix and the ONNX peer vectors pass, and the
reports are written (atomically) with what the issue asks for."""
import io
import json
import os
import re

import numpy as np
import pytest

from rnn2onnx import conformance, runtimes

HAS_OPENVINO = "openvino" in runtimes.available()
HAS_TRACT = "tract" in runtimes.available()


def assert_tables_keep_their_columns(md):
    """Every row of each Markdown table has its header's number of cells (a "|" inside a
    cell, as in a dispatch form's name, is escaped)."""
    columns = None
    for line in md.splitlines():
        if not line.startswith("|"):
            columns = None
            continue
        cells = len(re.split(r"(?<!\\)\|", line))
        columns = columns or cells
        assert cells == columns, line


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    """One --quick run through main(), shared by the tests below."""
    out = tmp_path_factory.mktemp("conformance")
    status = conformance.main(["--quick", "--out", str(out), "--no-progress"])
    with open(out / "conformance.json", encoding="utf-8") as f:
        data = json.load(f)
    return status, out, data


def test_quick_run_passes_and_writes_reports(quick):
    status, out, data = quick
    failed = [(c["id"], c["reasons"]) for c in data["cases"] if not c["passed"]]
    assert failed == []
    assert status == 0
    assert data["summary"]["failed"] == 0 and data["summary"]["cases"] == len(data["cases"])
    md = (out / "conformance.md").read_text(encoding="utf-8")
    assert md.startswith("# rnn2onnx conformance")
    assert_tables_keep_their_columns(md)
    for case in data["cases"]:
        assert f"`{case['id']}`" in md
    assert not [name for name in os.listdir(out) if name.startswith(".")]  # no temp files left


def test_quick_covers_every_layer_mask_and_dimension(quick):
    _, _, data = quick
    matrix = [c for c in data["cases"] if c["group"] != "peer"]
    layers = {label.split("(")[0] for c in matrix for label in c["layers"]}
    assert set(conformance.RECURRENT) <= layers
    for key, values in [("mask", conformance.MASKS), ("dtype", conformance.DTYPES),
                        ("strategy", conformance.STRATEGIES), ("target", conformance.TARGETS),
                        ("return_sequences", (False, True)), ("opset", conformance.opset_choices())]:
        assert {c[key] for c in matrix} >= set(values), key
    for kind in conformance.RECURRENT:  # every layer with every mask kind
        masks = {c["mask"] for c in matrix if c["group"] == "matrix" and c["layers"][0].startswith(kind + "(")}
        assert masks == set(conformance.MASKS), kind


def test_every_registered_layer_that_is_not_recurrent_has_rows(quick):
    """AROUND_LAYERS derives from the one layer registry: every layer that is not recurrent
    has rows, alone (no recurrent layer) and in a recurrent stack, and the quick run
    holds each row once."""
    from reference.registry import LAYERS
    from rnn2onnx.conformance.matrix import AROUND_LAYERS

    # a merge layer joins the calls of a functional model, never a chain: its rows are the
    # functional export tests' (tests/rnn2onnx/test_functional_export.py)
    assert set(AROUND_LAYERS) == set(LAYERS) - set(conformance.RECURRENT) - {"MergeLayer"}
    _, _, data = quick
    run = {c["id"].split("[", 1)[1].split("]")[0] for c in data["cases"] if c["group"] == "around"}
    inputs = {"Embedding": ("left", "holes"), "Masking": ("masking",)}  # the mask kinds' input layers
    for kind, rows in AROUND_LAYERS.items():
        assert run >= {name for name, _, _ in rows}, kind
        for name, mask, layers in rows:
            assert kind in [k for k, _ in layers] or mask in inputs.get(kind, ()), (kind, name)
        stacked = [any(k in conformance.RECURRENT for k, _ in layers) for _, _, layers in rows]
        assert any(stacked) and not all(stacked), kind


def test_quick_has_container_rows_on_every_runtime(quick):
    _, _, data = quick
    rows = [c for c in data["cases"] if c["group"] == "container"]
    assert {c["id"].split("-holes-")[0] for c in rows} == set(conformance.CONTAINER_MODELS)
    assert {c["dtype"] for c in rows} == set(conformance.DTYPES)
    assert {c["target"] for c in rows} == set(conformance.TARGETS)
    # every merge mode, concat on the feature and the time axis, a nested merge, masked branches
    forms = {f["form"] for c in rows for f in c["forms"].values()}
    assert {"Add of 2", "Mul of 2", "Add+Div of 3", "Concat(axis=-1)", "Concat(axis=1)"} <= forms
    assert any("/branch_1/branch_" in key for c in rows for key in c["forms"])
    assert any(key.endswith("embedding_1") for c in rows for key in c["forms"])
    graphs = [c for c in rows if c["id"].startswith("graph-")]
    assert {c["target"] for c in graphs} == {"portable"} and {c["dtype"] for c in graphs} == set(conformance.DTYPES)
    assert any(key.endswith("/merge") for c in graphs for key in c["forms"])
    for c in rows:
        assert c["passed"], (c["id"], c["reasons"])
        assert set(c["runtimes"]) == set(runtimes.available())
        if c["target"] == "portable":  # made to run everywhere
            assert {e["status"] for e in c["runtimes"].values()} <= {"pass", "f32-only"}, c["id"]


def test_rows_carry_forms_errors_and_tolerances(quick):
    _, _, data = quick
    for case in data["cases"]:
        assert case["forms"], case["id"]
        ort = case["runtimes"]["onnxruntime"]
        assert ort["status"] == "pass", case["id"]
        assert ort["max_abs_error"] is not None and ort["max_rel_error"] is not None
        assert ort["tolerance"] == {"float32": 1e-5, "float64": 1e-10}[case["dtype"]]
    native = [c for c in data["cases"] if any(f["form"] == "native" for f in c["forms"].values())]
    loop = [c for c in data["cases"] if any(f["form"] == "loop" for f in c["forms"].values())]
    assert native and loop


def test_peer_vectors_cover_the_onnx_backend_tests(quick):
    _, _, data = quick
    coverage = {c["test"]: c for c in data["peer_coverage"]}
    for op in ("lstm", "gru"):
        for name in ("defaults", "with_initial_bias", "batchwise", "reverse", "bidirectional"):
            assert coverage[f"test_{op}_{name}"]["covered"], name
    assert coverage["test_gru_seq_length"]["covered"] and coverage["test_rnn_seq_length"]["covered"]
    assert coverage["test_simple_rnn_defaults"]["covered"]
    skipped_whole = {name for name, c in coverage.items() if not c["covered"]}
    assert skipped_whole == {"test_lstm_with_peepholes"}
    assert "peephole" in coverage["test_lstm_with_peepholes"]["skipped"][0]
    peers = [c for c in data["cases"] if c["group"] == "peer"]
    assert len(peers) >= 2 * 26
    for case in peers:
        assert case["reference"]["status"] == "pass", case["id"]
        assert case["passed"], case["id"]
    # float64 rows are held to 1e-10 against the ONNX test's own helper rerun in float64
    worst64 = max(c["reference"]["max_rel_error"] for c in peers if c["dtype"] == "float64")
    assert worst64 < 1e-10


def test_peer_weight_conversion_matches_onnx_helper():
    """The Keras layer built from an ONNX test's W/R/B reproduces the test's output to
    float64 precision for each op, including summed biases and the reverse direction."""
    cases, _ = conformance.peer_cases(dtypes=("float64",), strategies=("loop",))
    picked = [c for c in cases if any(k in c.id for k in ("with_initial_bias", "seq_length", "bidirectional"))]
    assert {c.layers[0][0] for c in picked} == {"LSTM", "GRU", "SimpleRNN"}
    for case in picked:
        model = case.peer["make"](case.dtype)
        (X,), (expected,) = case.peer["feeds"](case.dtype), case.peer["expected"](case.dtype)
        np.testing.assert_allclose(case.peer["postprocess"](model.predict(X)), expected, rtol=1e-12, atol=1e-14)


@pytest.mark.skipif(not HAS_OPENVINO, reason="openvino is not installed (pip install openvino)")
def test_openvino_rows(quick):
    _, _, data = quick
    matrix = [c for c in data["cases"] if c["group"] != "peer"]
    for case in matrix:
        ov = case["runtimes"]["openvino"]
        if case["target"] == "portable" and case["dtype"] == "float32":
            assert ov["status"] == "pass", (case["id"], ov)
        # the CPU plugin computes f64 models in f32 (a guarded time-axis concat of target
        # "onnxruntime" is a known wrong result: OpenVINO.known_issues)
        if case["dtype"] == "float64" and not (case["group"] == "container" and case["target"] == "onnxruntime"):
            assert ov["status"] in ("pass", "f32-only", "rejected"), case["id"]
    # the claim: hard_sigmoid inside a native LSTM is rejected by OpenVINO, recorded
    # as a rejection of a target="onnxruntime" file, not a failure
    lstm = [c for c in matrix if c["id"] == f"lstm-none-last-f32-auto-ort-op{conformance.opset_choices()[1]}"]
    assert lstm and lstm[0]["forms"]["lstm_1"]["form"] == "native"
    ov = lstm[0]["runtimes"]["openvino"]
    assert ov["status"] == "rejected" and "Unsupported activation function" in ov["message"]
    assert lstm[0]["passed"]
    assert data["summary"]["rejections"]


@pytest.mark.skipif(not HAS_TRACT, reason="tract is not installed (pip install tract)")
def test_tract_rows_and_the_compatibility_table(quick):
    _, out, data = quick
    matrix = [c for c in data["cases"] if c["group"] != "peer"]
    for case in matrix:
        tr = case["runtimes"]["tract"]
        if case["target"] == "portable" and case["dtype"] == "float32" and case["loop_op"] == "scan":
            assert tr["status"] == "pass", (case["id"], tr)
        if case["loop_op"] == "loop":  # tract has no ONNX Loop: recorded, not a failure
            assert tr["status"] == "rejected" and "Loop" in tr["message"] and case["passed"], case["id"]
    # tract ignores the native ops' activations: a wrong result on a target="onnxruntime"
    # file is recorded, not a failure
    lstm = [c for c in matrix if c["id"] == f"lstm-none-last-f32-auto-ort-op{conformance.opset_choices()[1]}"]
    assert lstm[0]["runtimes"]["tract"]["status"] == "FAIL" and lstm[0]["passed"]
    assert data["meta"]["versions"]["tract"] == runtimes.get("tract").version()
    md = (out / "conformance.md").read_text(encoding="utf-8")
    table = md.split("## Compatibility: runtime x form x mask")[1].split("\n## ")[0]
    assert "| tract | float32 | portable | Scan |" in table and "| tract | float32 | portable | Loop |" in table
    assert re.search(r"\| tract \| float32 \| onnxruntime \| native LSTM \| \d+ wrong \|", table)
    row = next(line for line in table.splitlines() if line.startswith("| tract | float32 | portable | Loop |"))
    assert "rejected [" in row and "agree" not in row
    assert "- tract: ONNX Loop: not supported" in table


def test_failures_give_a_nonzero_exit(tmp_path, monkeypatch):
    real_load = runtimes.load

    def wrong(name, model, threads=None, **options):
        run = real_load(name, model, threads=threads, **options)
        return lambda feeds: [y + 1e-3 for y in run(feeds)]

    monkeypatch.setattr(runtimes, "load", wrong)
    status = conformance.main(["--quick", "--out", str(tmp_path), "--no-progress", "--no-peers",
                               "--runtimes", "onnxruntime", "--filter", "jzs2-left"])
    assert status == 1
    data = json.loads((tmp_path / "conformance.json").read_text())
    assert data["cases"] and not any(c["passed"] for c in data["cases"])
    assert all(c["model_file"] and os.path.exists(c["model_file"]) for c in data["cases"])  # kept for inspection
    assert "**FAIL**" in (tmp_path / "conformance.md").read_text()


def test_export_errors_are_failures_not_crashes(tmp_path):
    case = conformance.Case([("LSTM", {"return_sequences": False})], "none", "float32", "auto", "onnxruntime",
                            opset=9)  # not a supported opset
    case.id = "bad-opset"
    (record,) = conformance.run([case], ["onnxruntime"], progress=False)
    assert not record["passed"] and "opset" in record["export_error"]
    assert record["runtimes"]["onnxruntime"]["status"] == "not run"


def test_unknown_runtime_is_a_usage_error(tmp_path):
    with pytest.raises(SystemExit) as exc:
        conformance.main(["--runtimes", "tensorrt", "--out", str(tmp_path)])
    assert exc.value.code == 2


def test_progress_bar():
    class Tty(io.StringIO):
        def isatty(self):
            return True

    tty = Tty()
    bar = conformance.Progress(4, stream=tty)
    for i in range(4):
        bar.update(f"case{i}")
    bar.close()
    assert tty.getvalue().count("\r") == 4 and "4/4" in tty.getvalue() and tty.getvalue().endswith("\n")
    log = io.StringIO()  # not a terminal (CI): a line per 10%, not per case
    bar = conformance.Progress(100, stream=log)
    for i in range(100):
        bar.update()
    assert 10 <= log.getvalue().count("\n") <= 11 and "100/100" in log.getvalue()


def test_short_message_groups_openvino_errors():
    text = ("Exception from src/inference/src/cpp/core.cpp:117:\nException from src/inference/src/dev/plugin.cpp:54:\n"
            "[LSTMCellDecomposition] END: node: opset4::LSTMCell LSTMCell_3952 (opset1::Squeeze Squeeze_3945[0]) "
            "CALLBACK HAS THROWN: Exception from src/common/transformations/src/utils.cpp:294:\n"
            "Unsupported activation function\n\n")
    assert conformance.short_message(Exception(text)) == "[LSTMCellDecomposition] Unsupported activation function"


def test_write_atomic_replaces_and_leaves_nothing(tmp_path):
    from rnn2onnx.conformance.report import write_atomic

    path = tmp_path / "a.md"
    write_atomic(str(path), "one")
    write_atomic(str(path), "two")
    assert path.read_text() == "two" and os.listdir(tmp_path) == ["a.md"]


def test_python_dash_m_entry_point():
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "rnn2onnx.conformance", "--help"], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0 and "--quick" in result.stdout


@pytest.mark.slow
def test_full_matrix(tmp_path):
    """The whole matrix on onnxruntime, OpenVINO and tract where installed (about 4,000
    cases; ~6 minutes on 2 cores; the JavaScript runtimes run the portable files below):
    the `slow` set, which CI runs after the quick suite."""
    held = [name for name in ("onnxruntime", "openvino", "tract") if runtimes.get(name).available()]
    status = conformance.main(["--out", str(tmp_path), "--no-progress", "--runtimes", ",".join(held)])
    data = json.loads((tmp_path / "conformance.json").read_text())
    assert [c["id"] for c in data["cases"] if not c["passed"]] == []
    assert status == 0
    # auto's batch-size dispatch (masked GRU-op layers), named with its op in the report
    dispatched = [c for c in data["cases"] if c["strategy"] == "auto" and c["group"] == "masked-native"
                  and any(f["form"].startswith("dispatch(") for f in c["forms"].values())]
    assert dispatched
    md = (tmp_path / "conformance.md").read_text()
    assert "dispatch(native GRU-segment \\| Scan, batch <= 4)" in md
    assert_tables_keep_their_columns(md)


def test_quick_covers_every_mask_rule_and_go_backwards(quick):
    from rnn2onnx.conformance.matrix import MASK_RULES, RULE_CELLS

    _, _, data = quick
    rows = [c for c in data["cases"] if c["group"] == "mask-rules"]
    labels = [c["layers"][0] for c in rows]
    for rule in MASK_RULES:
        assert {label.split("(")[0] for label in labels if f"mask_rule={rule}" in label} == set(RULE_CELLS), rule
    assert any("go_backwards" in label for label in labels) and any("go_backwards" not in label for label in labels)
    assert any("combine=mul" in label for label in labels)
    assert {c["target"] for c in rows} == set(conformance.TARGETS)
    assert {c["dtype"] for c in rows} == set(conformance.DTYPES)
    assert all(c["passed"] for c in rows), [c["id"] for c in rows if not c["passed"]]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["onnxruntime-node", "onnxruntime-web"])
def test_portable_matrix_on_the_javascript_runtimes(name, tmp_path):
    """Every portable file of the full matrix (about 1900) on onnxruntime's Node and
    browser (wasm) builds: node ~1.5 min, web ~3 min on 2 cores (one Chromium page for
    all of them). Files of an opset newer than the npm release reads are the only
    rejections, recorded as its known limit."""
    cls = runtimes.get(name)
    if not cls.available():
        pytest.skip(cls.install_hint())
    status = conformance.main(["--out", str(tmp_path), "--no-progress", "--no-peers", "--filter", "portable",
                               "--runtimes", name])
    data = json.loads((tmp_path / "conformance.json").read_text())
    assert [c["id"] for c in data["cases"] if not c["passed"]] == [] and status == 0
    newest = cls.max_opset()
    for case in data["cases"]:
        entry = case["runtimes"][name]
        if case["opset"] > newest:
            assert entry["status"] == "rejected" and "IR version" in entry["full_message"], case["id"]
        else:
            assert entry["status"] == "pass", (case["id"], entry)
    assert len(data["cases"]) > 1500 and {c["loop_op"] for c in data["cases"]} == {"scan", "loop"}
    assert data["meta"]["versions"][name] == cls.version()
