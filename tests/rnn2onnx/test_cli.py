"""The `rnn2onnx` command: exit codes, messages, files on disk (run in process; two
smoke tests run it as a separate process, as a user does).

Legacy files come from tests/fixtures/legacy/make_fixtures.py (h5py, 0.2.0 layout).
"""
import contextlib
import io
import os
import subprocess
import sys

import h5py
import numpy as np
import onnxruntime
import pytest

import rnn2onnx
from reference import build
from reference.keras_files import KerasFileError
from rnn2onnx import cli, masks

from ..fixtures.legacy import make_fixtures as mf

from rnn2onnx import exporter as export_module
from rnn2onnx import validation as validate_module

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def run(*args, cwd):
    """`rnn2onnx ARGS` run in this process from `cwd`: (exit status, stdout, stderr).
    (The command as a separate process: test_the_command_runs_as_a_process below.)"""
    out, err = io.StringIO(), io.StringIO()
    here = os.getcwd()
    traceback = os.environ.pop("RNN2ONNX_TRACEBACK", None)
    os.chdir(cwd)
    try:
        # argparse writes --help and usage errors to sys.stdout/sys.stderr, then exits
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = cli.main([str(a) for a in args], out=out, err=err)
            except SystemExit as exc:
                code = exc.code
    finally:
        os.chdir(here)
        if traceback is not None:
            os.environ["RNN2ONNX_TRACEBACK"] = traceback
    return code, out.getvalue(), err.getvalue()


def run_process(*args, cwd):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("RNN2ONNX_TRACEBACK", None)
    proc = subprocess.run([sys.executable, "-m", "rnn2onnx.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)
    return proc.returncode, proc.stdout, proc.stderr


def assert_clean_failure(code, out, err, *fragments):
    assert code == 1, (code, out, err)
    assert "Traceback" not in out + err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rnn2onnx: error: "), err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


def onnx_outputs(path, X):
    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    return session.run(None, {"input": X})[0]


def ids(n=6, T=7, vocab=12, seed=5):
    """Token ids, 0 where masks' "masking" batch masks a step (rows left- and right-padded,
    with holes, all masked)."""
    rng = np.random.default_rng(seed)
    return np.where(masks.keep("masking", n, T, rng), rng.integers(1, vocab, size=(n, T)), 0).astype(np.int64)


def test_convert_every_recurrent_layer(fx, tmp_path):
    out_path = tmp_path / "model.onnx"
    code, out, err = run("convert", os.path.join(fx, "every_recurrent.json"),
                         os.path.join(fx, "every_recurrent.h5"), "-o", str(out_path), cwd=tmp_path)
    assert code == 0, err
    assert err == ""
    assert "max rel err" in out and "PASS" in out
    assert sorted(os.listdir(tmp_path)) == ["model.onnx"]  # no temporary files left
    umask = os.umask(0)
    os.umask(umask)
    assert os.stat(out_path).st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's 0600
    # an independent check: onnxruntime on the file vs the model read from the same legacy files
    model = build.load_model(os.path.join(fx, "every_recurrent.yaml"), os.path.join(fx, "every_recurrent.h5"))
    X = ids()
    expected, got = model.predict(X), onnx_outputs(str(out_path), X)
    assert got.shape == expected.shape == (6, 2)
    assert np.max(np.abs(got - expected)) <= 1e-5 * np.max(np.abs(expected))


def test_convert_options_yaml_float64_loop_and_portable(fx, tmp_path):
    code, out, err = run("convert", os.path.join(fx, "keras01.yaml"), os.path.join(fx, "keras01.h5"),
                         "-o", "m64.onnx", "--dtype", "float64", "--strategy", "loop", "--opset", "17",
                         cwd=tmp_path)
    assert code == 0, err
    assert "float64" in out and "PASS" in out
    model = build.load_model(os.path.join(fx, "keras01.json"), os.path.join(fx, "keras01.h5"), dtype="float64")
    X = ids(vocab=10)
    got = onnx_outputs(str(tmp_path / "m64.onnx"), X)
    assert got.dtype == np.float64
    assert np.max(np.abs(got - model.predict(X))) <= 1e-10
    import onnx
    proto = onnx.load(str(tmp_path / "m64.onnx"))
    assert [o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")] == [17]

    code, out, err = run("convert", os.path.join(fx, "compiled.yaml"), os.path.join(fx, "compiled.h5"),
                         "-o", "portable.onnx", "--target", "portable", "--no-validate", cwd=tmp_path)
    assert code == 0, err
    assert "validation skipped" in out
    assert (tmp_path / "portable.onnx").is_file()


def test_loop_op_and_runtime_options(fx, tmp_path):
    from rnn2onnx import runtimes

    config, weights = os.path.join(fx, "keras01.json"), os.path.join(fx, "keras01.h5")
    code, out, err = run("convert", config, weights, "-o", "loop.onnx", "--strategy", "loop", "--target", "portable",
                         "--loop-op", "loop", cwd=tmp_path)
    assert code == 0, err
    assert "PASS" in out
    import onnx
    ops = {n.op_type for n in onnx.load(str(tmp_path / "loop.onnx")).graph.node}
    assert "Loop" in ops and "Scan" not in ops
    code, out, err = run("inspect", config, "--loop-op", "while", cwd=tmp_path)
    assert code == 2 and "scan" in err and "loop" in err
    code, out, err = run("validate", "loop.onnx", config, weights, "--runtime", "tensorrt", cwd=tmp_path)
    assert code == 2 and "tract" in err
    if "tract" in runtimes.available():
        code, out, err = run("convert", config, weights, "-o", "scan.onnx", "--target", "portable", cwd=tmp_path)
        assert code == 0, err
        code, out, err = run("validate", "scan.onnx", config, weights, "--runtime", "tract", cwd=tmp_path)
        assert code == 0 and "tract, float32" in out and "PASS" in out, (out, err)
        code, out, err = run("validate", "loop.onnx", config, weights, "--runtime", "tract", cwd=tmp_path)
        assert_clean_failure(code, out, err, "tract refused the model", "Loop")


def test_convert_failures_write_nothing(fx, tmp_path):
    existing = tmp_path / "keep.onnx"
    existing.write_bytes(b"previous model")
    cases = [
        (("keras01.json", "broken_shape.h5"),
         ("layer 1", "GRU", "param 3", "(5, 4)", "(3, 4)")),
        (("broken_unknown_layer.json", "keras01.h5"), ("unknown layer type 'BiLSTM'", "JZS3")),
        (("keras01.json", "broken_truncated.h5"), ("not a readable HDF5 file",)),
        (("keras01.json", "broken_dtype.h5"), ("dtype int32",)),
        (("keras01.json", "broken_missing_group.h5"), ("layer_1",)),
    ]
    for (config, weights), fragments in cases:
        for target in ("new.onnx", "keep.onnx"):
            code, out, err = run("convert", os.path.join(fx, config), os.path.join(fx, weights), "-o", target,
                                 cwd=tmp_path)
            assert_clean_failure(code, out, err, *fragments)
            assert sorted(os.listdir(tmp_path)) == ["keep.onnx"]
            assert existing.read_bytes() == b"previous model"
            break  # one subprocess per case; the pre-existing target is covered below
    code, out, err = run("convert", os.path.join(fx, "keras01.json"), os.path.join(fx, "keras01.h5"),
                         "-o", "keep.onnx", "--opset", "3", cwd=tmp_path)
    assert_clean_failure(code, out, err, "opset 3 is not supported")
    assert existing.read_bytes() == b"previous model"
    assert sorted(os.listdir(tmp_path)) == ["keep.onnx"]


def test_convert_failures_in_process(fx, tmp_path, capsys):
    """The same entry point, called in-process for the cheaper error cases."""
    def call(*argv):
        code = cli.main(list(argv))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    j, h = os.path.join(fx, "keras01.json"), os.path.join(fx, "keras01.h5")
    out_path = str(tmp_path / "x.onnx")
    assert_clean_failure(*call("convert", j, h, "-o", out_path, "--strategy", "native", "--dtype", "float64"),
                         "gru_1", "cannot be exported natively", "float32-only")
    assert_clean_failure(*call("convert", j, h, "-o", str(tmp_path / "no" / "x.onnx")), "does not exist")
    assert_clean_failure(*call("convert", str(tmp_path / "missing.json"), h, "-o", out_path),
                         "cannot read config file")
    assert_clean_failure(*call("convert", j, os.path.join(fx, "broken_nb_params.h5"), "-o", out_path),
                         "nb_params=8", "9 weight arrays")
    assert_clean_failure(*call("convert", j, os.path.join(fx, "broken_not_hdf5.h5"), "-o", out_path),
                         "not a readable HDF5 file")
    assert not os.path.exists(out_path)
    assert os.listdir(tmp_path) == []
    code, out, err = call("convert", j)
    assert code == 2 and "required" in err
    code, out, err = call("frobnicate")
    assert code == 2 and "invalid choice" in err
    code, out, err = call()
    assert code == 2 and "convert" in out and "inspect" in out and "validate" in out


def test_validation_failure_is_reported_and_nothing_written(fx, tmp_path, monkeypatch, capsys):
    """A model whose export disagrees with the reference: table printed, exit 1, no file."""
    real_build = export_module.build

    def sabotaged(model, *args, **kwargs):  # build the graph from a model with one weight changed
        weights = model.get_weights()
        model.set_weights([w + 0.5 if i == 1 else w for i, w in enumerate(weights)])
        try:
            return real_build(model, *args, **kwargs)
        finally:
            model.set_weights(weights)

    monkeypatch.setattr(export_module, "build", sabotaged)
    out_path = tmp_path / "bad.onnx"
    code = cli.main(["convert", os.path.join(fx, "keras01.json"), os.path.join(fx, "keras01.h5"),
                     "-o", str(out_path)])
    captured = capsys.readouterr()
    assert_clean_failure(code, captured.out, captured.err, "validation failed", "was not written")
    assert "FAIL" in captured.out and "max rel err" in captured.out
    assert os.listdir(tmp_path) == []


def test_convert_and_inspect_unrolled_with_a_fixed_shape(fx, tmp_path):
    import onnx

    config, weights = os.path.join(fx, "every_recurrent.json"), os.path.join(fx, "every_recurrent.h5")
    code, out, err = run("convert", config, weights, "-o", "unrolled.onnx", "--strategy", "unrolled",
                         "--fixed-shape", "6x7", cwd=tmp_path)
    assert code == 0, err
    assert "strategy unrolled" in out and "PASS" in out
    proto = onnx.load(str(tmp_path / "unrolled.onnx"))
    assert not {"Scan", "Loop", "If"} & {n.op_type for n in proto.graph.node}
    model = build.load_model(config, weights)
    X = ids()  # (6, 7): the fixed shape
    got, expected = onnx_outputs(str(tmp_path / "unrolled.onnx"), X), model.predict(X)
    assert np.max(np.abs(got - expected)) <= 1e-5 * np.max(np.abs(expected))
    code, out, err = run("inspect", config, "--strategy", "unrolled", "--fixed-shape", "input=1x50", cwd=tmp_path)
    assert code == 0, err
    assert "lstm_1" in out and "unrolled" in out
    code, out, err = run("inspect", config, "--strategy", "unrolled", "--fixed-shape", "1by50", cwd=tmp_path)
    assert code == 2 and "BATCHxTIME" in err
    code, out, err = run("convert", config, weights, "-o", "x.onnx", "--strategy", "unrolled", cwd=tmp_path)
    assert_clean_failure(code, out, err, "needs the input shape fixed")
    assert sorted(os.listdir(tmp_path)) == ["unrolled.onnx"]


def test_inspect(fx, tmp_path):
    code, out, err = run("inspect", os.path.join(fx, "every_recurrent.yaml"), cwd=tmp_path)
    assert code == 0, err
    for layer in ("embedding_1", "simpledeeprnn_1", "lstm_1", "jzs1_1", "jzs3_1", "dense_1"):
        assert layer in out
    assert "Total params: 1014" in out
    assert "ONNX plan" in out and "a mask reaches it" in out
    for target, form, why in (("onnxruntime", "native", "exact as ONNX GRU"),
                              ("portable", "loop", "ONNX's default activations")):
        code, out, err = run("inspect", os.path.join(fx, "first_recurrent_input_dim.json"), "--target", target,
                             cwd=tmp_path)
        assert code == 0, err
        (line,) = [line for line in out.splitlines() if line.startswith("gru_1 ") and "GRU " not in line]
        assert line.split()[1] == form and why in line
    assert os.listdir(tmp_path) == []


def test_inspect_needs_an_input_shape(tmp_path, capsys):
    (tmp_path / "m.json").write_text('{"name": "Sequential", "layers": [{"name": "LSTM", "output_dim": 3}]}')
    code = cli.main(["inspect", str(tmp_path / "m.json")])
    captured = capsys.readouterr()
    assert_clean_failure(code, captured.out, captured.err, "input shape", "WEIGHTS")


def test_validate_command(fx, tmp_path):
    code, out, err = run("convert", os.path.join(fx, "masking_float.json"), os.path.join(fx, "masking_float.h5"),
                         "-o", "m.onnx", cwd=tmp_path)
    assert code == 0, err
    code, out, err = run("validate", "m.onnx", os.path.join(fx, "masking_float.yaml"),
                         os.path.join(fx, "masking_float.h5"), "--n", "4", cwd=tmp_path)
    assert code == 0, err
    assert "PASS" in out and "float32" in out
    # the same ONNX file against other weights for the same architecture: a mismatch
    other = [[w + 0.25 for w in layer] for layer in mf.arrays("masking_float")]
    mf.write_weights(str(tmp_path / "other.h5"), other)
    code, out, err = run("validate", "m.onnx", os.path.join(fx, "masking_float.json"), "other.h5", cwd=tmp_path)
    assert_clean_failure(code, out, err, "validation failed", "tolerance")
    assert "FAIL" in out
    with h5py.File(tmp_path / "other.h5", "r") as f:  # untouched
        assert np.array_equal(f["layer_1/param_0"][()], other[1][0])
    (tmp_path / "junk.onnx").write_bytes(b"\x00\x01 not a protobuf \xff" * 10)
    code, out, err = run("validate", "junk.onnx", os.path.join(fx, "masking_float.json"),
                         os.path.join(fx, "masking_float.h5"), cwd=tmp_path)
    assert_clean_failure(code, out, err, "junk.onnx")


def test_delegated_commands(tmp_path):
    for name in ("demo", "conformance"):
        code, out, err = run(name, "--help", cwd=tmp_path)
        assert code == 0, err
        assert out.startswith(f"usage: rnn2onnx {name}")
    code, out, err = run("bench", "--no-such-option", cwd=tmp_path)
    assert code == 2 and "usage: rnn2onnx bench" in err
    assert "Traceback" not in err


def test_large_model_path_exports_in_place(fx, tmp_path, monkeypatch, capsys):
    """Models big enough for external data are validated once, in the staging folder, and
    then renamed into place with their .data file; on failure neither is left behind."""
    monkeypatch.setattr(export_module, "EXTERNAL_DATA_THRESHOLD", 0)
    # the weights to the .data file; shape constants (a few int64) stay inline, as in a real
    # large model (onnx's shape inference reads them)
    monkeypatch.setattr(export_module, "EXTERNAL_TENSOR_BYTES", 100)
    real_validate = validate_module.validate
    calls = []

    def counted_validate(model, path, **kwargs):
        calls.append(path)
        return real_validate(model, path, **kwargs)

    monkeypatch.setattr(validate_module, "validate", counted_validate)  # what export() calls
    monkeypatch.setattr(rnn2onnx, "validate", counted_validate)  # the public name
    j, h = os.path.join(fx, "keras01.json"), os.path.join(fx, "keras01.h5")
    code = cli.main(["convert", j, h, "-o", str(tmp_path / "big.onnx"), "--n", "3"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "PASS" in captured.out and sorted(os.listdir(tmp_path)) == ["big.onnx", "big.onnx.data"]
    assert len(calls) == 1  # the table printed is that of the one validation, of --n 3 (sized up to 6, +6) samples
    assert "12 samples" in captured.out

    def failing_validate(model, path, **kwargs):  # the one validation disagrees
        calls.append(path)
        report = real_validate(model, path, **kwargs)
        report.outputs[0].max_rel_error = 1.0
        raise rnn2onnx.ValidationError(report)

    monkeypatch.setattr(validate_module, "validate", failing_validate)
    monkeypatch.setattr(rnn2onnx, "validate", failing_validate)
    calls.clear()
    code = cli.main(["convert", j, h, "-o", str(tmp_path / "big2.onnx")])
    captured = capsys.readouterr()
    assert_clean_failure(code, captured.out, captured.err, "validation failed", "big2.onnx was not written")
    assert "FAIL" in captured.out and sorted(os.listdir(tmp_path)) == ["big.onnx", "big.onnx.data"]
    assert len(calls) == 1
    code = cli.main(["convert", j, h, "-o", str(tmp_path / "big2.onnx"), "--no-validate"])
    captured = capsys.readouterr()
    assert code == 0 and "validation skipped" in captured.out
    assert len(calls) == 1
    assert sorted(os.listdir(tmp_path)) == ["big.onnx", "big.onnx.data", "big2.onnx", "big2.onnx.data"]


def test_unexpected_errors_are_one_sentence_unless_traceback_asked(fx, monkeypatch, capsys):
    import rnn2onnx

    def broken_plan(*args, **kwargs):
        raise RuntimeError("emitter table\nis empty")

    monkeypatch.setattr(rnn2onnx, "plan", broken_plan)
    code = cli.main(["inspect", os.path.join(fx, "keras01.json")])
    captured = capsys.readouterr()
    assert_clean_failure(code, captured.out, captured.err, "unexpected RuntimeError: emitter table is empty",
                         "--traceback")
    with pytest.raises(RuntimeError, match="emitter table"):
        cli.main(["inspect", os.path.join(fx, "keras01.json"), "--traceback"])


def test_compiled_config_with_an_unknown_optimizer_still_converts(fx, tmp_path, capsys):
    """The optimizer plays no part in the export: convert ignores it (the library does not)."""
    import json

    cfg = dict(mf.config("compiled"), optimizer={"name": "Nadam", "lr": 0.002})
    (tmp_path / "m.json").write_text(json.dumps(cfg))
    with pytest.raises(KerasFileError, match="Nadam"):
        build.load_model(str(tmp_path / "m.json"))
    code = cli.main(["convert", str(tmp_path / "m.json"), os.path.join(fx, "compiled.h5"),
                     "-o", str(tmp_path / "m.onnx")])
    assert code == 0, capsys.readouterr().err
    assert (tmp_path / "m.onnx").is_file()


def test_convert_and_inspect_take_the_weights_files_dtype_and_say_why(tmp_path):
    import onnx

    cfg = tmp_path / "keras01.json"
    cfg.write_text(__import__("json").dumps(mf.config("keras01")))
    h5 = str(tmp_path / "keras01_f64.h5")
    mf.write_weights(h5, [[w.astype(np.float64) for w in layer] for layer in mf.arrays("keras01")])

    def out_elem(path):
        return onnx.load(str(path)).graph.output[0].type.tensor_type.elem_type

    code, out, err = run("convert", str(cfg), h5, "-o", "m64.onnx", cwd=tmp_path)
    assert code == 0, err
    assert "dtype float64 (from the weights file)" in out and "PASS" in out
    assert out_elem(tmp_path / "m64.onnx") == onnx.TensorProto.DOUBLE
    code, out, err = run("convert", str(cfg), h5, "-o", "m32.onnx", "--dtype", "float32", cwd=tmp_path)
    assert code == 0, err
    assert "dtype float32 (--dtype)" in out
    assert out_elem(tmp_path / "m32.onnx") == onnx.TensorProto.FLOAT
    # validate follows the ONNX file, whose inputs and outputs fix the dtype
    code, out, err = run("validate", "m32.onnx", str(cfg), h5, cwd=tmp_path)
    assert code == 0, err
    assert "dtype float32 (from the ONNX file)" in out and "PASS" in out

    code, out, err = run("inspect", str(cfg), h5, cwd=tmp_path)
    assert code == 0, err
    assert "dtype float64 (from the weights file)" in out
    code, out, err = run("inspect", str(cfg), cwd=tmp_path)
    assert code == 0, err
    assert "dtype float32 (default: no weights file)" in out


def test_convert_inspect_validate_a_merge_first_file(tmp_path):
    """babi_rnn as Keras 0.2.0 wrote it: two int inputs, no dtype named (the file's float64)."""
    import json

    fx = os.path.join(ROOT, "tests", "fixtures", "keras02")
    cfg, h5 = os.path.join(fx, "babi_rnn_f64.json"), os.path.join(fx, "babi_rnn_f64.h5")
    code, out, err = run("inspect", cfg, h5, cwd=tmp_path)
    assert code == 0, err
    assert "input input_1: int64 token ids (batch, time_1)" in out
    assert "merge_1: Merge mode=concat concat_axis=-1" in out and "masks dropped" in out
    assert "merge_1/branch_1/gru_1" in out and "merge_1/branch_2/embedding_1" in out

    code, out, err = run("convert", cfg, h5, "-o", "babi.onnx", "--target", "portable", cwd=tmp_path)
    assert code == 0, err
    assert "inputs input_1 (int64), input_2 (int64)" in out and "PASS" in out
    assert sorted(os.listdir(tmp_path)) == ["babi.onnx"]
    manifest = json.load(open(os.path.join(fx, "MANIFEST.json")))["fixtures"]["babi_rnn_f64"]
    data = np.load(os.path.join(fx, "babi_rnn_f64.npz"))
    session = onnxruntime.InferenceSession(str(tmp_path / "babi.onnx"), providers=["CPUExecutionProvider"])
    feeds = {f"input_{i + 1}": data[k].astype(np.int64) for i, k in enumerate(manifest["input_keys"])}
    Y = session.run(None, feeds)[0]
    assert np.max(np.abs(Y - data["Y"])) <= 1e-10 * np.max(np.abs(data["Y"]))  # Keras's own predictions

    code, out, err = run("validate", "babi.onnx", cfg, h5, "--runtime", "onnxruntime", cwd=tmp_path)
    assert code == 0, err
    assert "dtype float64 (from the ONNX file)" in out and "PASS" in out


def test_convert_inspect_validate_a_graph_file(tmp_path):
    """graph_two_io as Keras 0.2.0 wrote it: inputs x1, x2; outputs o1, o2, o3."""
    import json

    fx = os.path.join(ROOT, "tests", "fixtures", "keras02")
    cfg, h5 = os.path.join(fx, "graph_two_io.json"), os.path.join(fx, "graph_two_io.h5")
    code, out, err = run("inspect", cfg, h5, "--target", "portable", cwd=tmp_path)
    assert code == 0, err
    assert "input x1: float64 (batch, time_1, 3)" in out and "node r1 (LSTM: loop) <- x1" in out
    assert "output o2: float64 (batch, 3) <- sum(sum, catT) [Add of 2], masks dropped" in out
    assert "catT/merge" in out and "Concat(axis=1)" in out

    code, out, err = run("convert", cfg, h5, "-o", "graph.onnx", cwd=tmp_path)
    assert code == 0, err
    assert "inputs x1 (float64), x2 (float64)" in out
    for name in ("o1", "o2", "o3"):
        assert any(line.startswith(name + " ") and line.rstrip().endswith("pass") for line in out.splitlines()), name
    manifest = json.load(open(os.path.join(fx, "MANIFEST.json")))["fixtures"]["graph_two_io"]
    data = np.load(os.path.join(fx, "graph_two_io.npz"))
    session = onnxruntime.InferenceSession(str(tmp_path / "graph.onnx"), providers=["CPUExecutionProvider"])
    outs = session.run(None, {k[2:]: data[k] for k in manifest["input_keys"]})
    for k, got in zip(manifest["output_keys"], outs):  # Keras's own predictions, in add_output order
        assert np.max(np.abs(got - data[k])) <= 1e-10 * np.max(np.abs(data[k])), k

    code, out, err = run("validate", "graph.onnx", cfg, h5, cwd=tmp_path)
    assert code == 0, err
    assert "PASS" in out and sorted(os.listdir(tmp_path)) == ["graph.onnx"]


def test_validate_refuses_a_single_input_file_for_a_merge_model(fx, tmp_path):
    kx = os.path.join(ROOT, "tests", "fixtures", "keras02")
    code, out, err = run("convert", os.path.join(fx, "every_recurrent.json"), os.path.join(fx, "every_recurrent.h5"),
                         "-o", "one.onnx", cwd=tmp_path)
    assert code == 0, err
    assert_clean_failure(*run("validate", "one.onnx", os.path.join(kx, "merge_sum.json"),
                              os.path.join(kx, "merge_sum.h5"), cwd=tmp_path),
                         "inputs ['input'], but a file exported from this model has inputs ['input_1', 'input_2']")


# -- the command as a separate process, as a user runs it: the two smoke tests -----------
def test_the_command_runs_as_a_process(fx, tmp_path):
    """Entry point, exit status, output and the written file, through `python -m rnn2onnx.cli`."""
    out_path = tmp_path / "model.onnx"
    code, out, err = run_process("convert", os.path.join(fx, "every_recurrent.json"),
                                 os.path.join(fx, "every_recurrent.h5"), "-o", str(out_path), cwd=tmp_path)
    assert code == 0 and err == "" and "PASS" in out, (code, err)
    assert sorted(os.listdir(tmp_path)) == ["model.onnx"]


def test_a_failing_command_exits_1_with_one_line_as_a_process(tmp_path):
    (tmp_path / "model.json").write_text('{"name": "Sequential", "layers": [{"name": "Nope"}]}')
    code, out, err = run_process("convert", "model.json", "weights.h5", "-o", "m.onnx", cwd=tmp_path)
    assert_clean_failure(code, out, err, "Nope")
    assert sorted(os.listdir(tmp_path)) == ["model.json"]
