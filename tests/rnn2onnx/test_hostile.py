"""Issue 12, hostile inputs: each item's original failure, reproduced and now answered by
exit 1 and one short sentence (or a correct result), inputs untouched, quickly."""
import hashlib
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import tracemalloc
import warnings

import h5py
import numpy as np
import onnx
import pytest

import reference as r
import rnn2onnx
from reference import build, models, registry
from reference.keras_files import KerasFileError, keras0
from reference.errors import InputError
from rnn2onnx import cli, runtimes

from ..fixtures.legacy import make_fixtures as mf
from .test_cli import ROOT, assert_clean_failure, export_module

# characters of the one error line; an unknown layer type's also lists every registered
# layer class (the registry's names, not the input's: bounded by the registry)
MAX_MESSAGE = 400 + len(registry.accepted_names())


def digest(*paths):
    return [hashlib.sha256(open(p, "rb").read()).hexdigest() for p in paths]


@pytest.fixture
def call(capsys):
    def run(*argv, limit_s=30.0, limit_mb=512):
        """cli.main in-process, within `limit_s` seconds and `limit_mb` MB of Python
        allocations at peak (imports included)."""
        tracemalloc.start()
        start = time.perf_counter()
        try:
            code = cli.main([str(a) for a in argv])
            elapsed = time.perf_counter() - start
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        captured = capsys.readouterr()
        assert elapsed < limit_s, f"took {elapsed:.1f} s"
        assert peak < limit_mb << 20, f"peak {peak >> 20} MB"
        if code == 1:
            assert len(captured.err) < MAX_MESSAGE, captured.err[:MAX_MESSAGE]
        return code, captured.out, captured.err
    return run


def write_config(tmp_path, config, name="model.json"):
    path = tmp_path / name
    path.write_text(config if isinstance(config, str) else json.dumps(config))
    return path


def lstm_config(**lstm):
    return {"name": "Sequential", "layers": [
        {"name": "Embedding", "input_dim": 10, "output_dim": 3, "mask_zero": True},
        dict({"name": "LSTM", "output_dim": 4, "return_sequences": False}, **lstm)]}


# 1. YAML alias bomb ------------------------------------------------------------------------
def alias_bomb(levels, where="name"):
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    lines.append(f"name: Sequential\nlayers:\n- {{name: LSTM, output_dim: 2, input_dim: 3, {where}: *a{levels - 1}}}"
                 if where != "name" else f"name: Sequential\nlayers:\n- {{name: *a{levels - 1}}}")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("where", ["name", "output_dim", "input_shape", "activation"])
@pytest.mark.parametrize("levels", [7, 9])
def test_yaml_alias_bomb_is_refused_quickly(tmp_path, call, where, levels):
    path = write_config(tmp_path, alias_bomb(levels, where), "bomb.yaml")
    assert len(path.read_text()) < 600
    # expanded, the 9-level bomb is gigabytes
    assert_clean_failure(*call("inspect", path, limit_mb=256), "aliases expand")


def test_a_few_aliases_still_load(tmp_path):
    text = ("name: Sequential\nlayers:\n- {name: Dropout, p: 0.0, input_shape: &s [null, 3]}\n"
            "- {name: GRU, output_dim: 2, input_shape: *s}\n")
    assert build.model_from_yaml(text, keras_version="0.2.0").input_shape == (None, 3)


# 2. -o equal to an input -------------------------------------------------------------------
def test_output_that_is_an_input_is_refused_before_anything_is_written(fx, tmp_path, call):
    j, h = shutil.copy(os.path.join(fx, "keras01.json"), tmp_path), shutil.copy(os.path.join(fx, "keras01.h5"), tmp_path)
    os.symlink(j, tmp_path / "link.json")
    os.link(h, tmp_path / "hard.h5")
    before = digest(j, h)
    for output in (j, h, tmp_path / "link.json", tmp_path / "hard.h5", f"{tmp_path}/../{tmp_path.name}/keras01.json"):
        assert_clean_failure(*call("convert", j, h, "-o", output), "is the input file")
    assert digest(j, h) == before
    assert sorted(os.listdir(tmp_path)) == sorted(["keras01.json", "keras01.h5", "link.json", "hard.h5"])


def test_output_whose_data_file_would_be_an_input_is_refused(fx, tmp_path):
    from reference.files import OutputPathError, check_output_path

    data = tmp_path / "m.onnx.data"
    data.write_bytes(b"weights")
    with pytest.raises(OutputPathError, match="is the input file"):
        check_output_path(tmp_path / "m.onnx", [data])


def test_an_output_that_is_not_a_regular_file_or_cannot_be_named_is_refused_before_loading(fx, tmp_path, call,
                                                                                        monkeypatch):
    from reference.files import check_output_path

    os.mknod(tmp_path / "null", stat.S_IFCHR | 0o666, os.makedev(1, 3))  # a private /dev/null
    os.mkfifo(tmp_path / "fifo")
    os.symlink(tmp_path / "null", tmp_path / "stdout")
    monkeypatch.setattr(models, "load_model", lambda *a, **k: pytest.fail("the model was loaded"))
    j, h = os.path.join(fx, "keras01.json"), os.path.join(fx, "keras01.h5")
    for output, fragment in (("null", "it is a character device, not a regular file"),
                             ("fifo", "it is a FIFO (named pipe), not a regular file"),
                             ("stdout", "it links to"),
                             ("newdir/", "names a folder"),
                             ("m" * 300 + ".onnx", "305 bytes long, more than the 255")):
        code, out, err = call("convert", j, h, "-o", f"{tmp_path}/{output}")
        assert_clean_failure(code, out, err, fragment)
        assert ".tmp" not in err and ".rnn2onnx-" not in err
    assert stat.S_ISCHR(os.lstat(tmp_path / "null").st_mode) and stat.S_ISFIFO(os.lstat(tmp_path / "fifo").st_mode)
    assert os.path.islink(tmp_path / "stdout") and sorted(os.listdir(tmp_path)) == ["fifo", "null", "stdout"]
    model = r.Sequential()  # the API: refused before the graph is built
    model.add(r.GRU(2, input_dim=3))
    monkeypatch.setattr(export_module, "build", lambda *a, **k: pytest.fail("the model was exported"))
    with pytest.raises(r.ConfigError, match="not a regular file"):
        rnn2onnx.export(model, tmp_path / "null")
    assert check_output_path(tmp_path / "new.onnx") == str(tmp_path / "new.onnx")


@pytest.mark.parametrize("role", ["config", "weights"])
def test_a_fifo_given_as_an_input_is_refused_without_blocking(fx, tmp_path, call, role):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)

    # a reader that blocked (the defect) is let go on after 20 s, to fail below: a writer in
    # another process (h5py holds the GIL while it opens) opens and closes the FIFO, again
    # and again, each time giving a waiting reader an end of file
    writer = subprocess.Popen(["bash", "-c", f"sleep 20; while :; do : > '{fifo}'; sleep 0.2; done"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    j, h = os.path.join(fx, "keras01.json"), os.path.join(fx, "keras01.h5")
    argv = ("inspect", fifo, h) if role == "config" else ("convert", j, fifo, "-o", tmp_path / "m.onnx")
    try:
        code, out, err = call(*argv)
    finally:
        writer.kill()
        writer.wait()
    assert_clean_failure(code, out, err, f"cannot read {role} file {fifo}: it is a FIFO (named pipe)")
    assert sorted(os.listdir(tmp_path)) == ["fifo"]


# 3. non-finite weights ---------------------------------------------------------------------
@pytest.mark.parametrize("value,kind", [(np.nan, "NaN"), (np.inf, "inf")])
def test_convert_refuses_non_finite_weights_naming_layer_and_parameter(fx, tmp_path, call, value, kind):
    weights = mf.arrays("keras01")
    weights[1][0] = weights[1][0].copy()
    weights[1][0][0, 0] = value
    h = str(tmp_path / "w.h5")
    mf.write_weights(h, weights)
    code, out, err = call("convert", os.path.join(fx, "keras01.json"), h, "-o", tmp_path / "m.onnx")
    assert_clean_failure(code, out, err, "layer 1 (GRU gru_1): weight 0 (W_z)", kind)
    assert "RuntimeWarning" not in err and not (tmp_path / "m.onnx").exists()


def test_validation_of_a_model_computing_nan_fails():
    model = r.Sequential()
    model.add(r.LSTM(3, input_dim=2))
    weights = model.get_weights()
    weights[0] = np.full_like(weights[0], np.nan)
    with pytest.warns(RuntimeWarning, match="NaN or inf"):  # the Python API allows it, with a warning
        model.set_weights(weights)
    proto = rnn2onnx.export(model, validate=False)
    report = rnn2onnx.validate(model, proto, raise_on_failure=False)
    assert not report.passed and report.outputs[0].max_rel_error == float("inf")
    with pytest.raises(rnn2onnx.ValidationError):
        rnn2onnx.export(model)


# 5. sizes before checks -------------------------------------------------------------------
def test_inspect_allocates_no_weights(tmp_path, call):
    config = {"name": "Sequential", "layers": [{"name": "Embedding", "input_dim": 10_000_000, "output_dim": 64},
                                               {"name": "LSTM", "output_dim": 8}]}
    # the embedding alone would be 2.56 GB
    code, out, err = call("inspect", write_config(tmp_path, config), limit_mb=256)
    assert code == 0, err
    assert "640000000" in out.replace(",", "") or "640002" in out  # the parameter count is reported


def test_inspect_computes_no_onnx_weights(tmp_path, call):
    # the plan once emitted every node: the native LSTM's concatenated, transposed weights
    # took 576 MB for this config (645 MB resident for `inspect`)
    config = {"name": "Sequential", "layers": [{"name": "LSTM", "output_dim": 6000, "input_dim": 16}]}
    code, out, err = call("inspect", write_config(tmp_path, config), limit_mb=32)
    assert code == 0, err
    assert "native" in out


def test_oversized_weights_are_refused_by_a_sentence(tmp_path, call):
    config = {"name": "Sequential", "layers": [{"name": "Embedding", "input_dim": 100_000_000, "output_dim": 64}]}
    assert_clean_failure(*call("inspect", write_config(tmp_path, config), ), "layer 0", "E", "accepted")


def test_convert_checks_weight_shapes_before_initialising(fx, tmp_path, call):
    config = {"name": "Sequential", "layers": [{"name": "GRU", "output_dim": 6000, "input_dim": 3}]}
    # an orthogonal initialisation of 6000 x 6000 matrices takes minutes: never started
    code, out, err = call("convert", write_config(tmp_path, config), os.path.join(fx, "keras01.h5"),
                          "-o", tmp_path / "m.onnx", "--keras-version", "0.2.0")
    assert_clean_failure(code, out, err, "weights for 3 layers")


def test_load_model_with_weights_initialises_nothing(fx, monkeypatch):
    from reference import initializations

    def refuse(*args):
        raise AssertionError("an initializer ran although the weights are loaded")
    monkeypatch.setattr(initializations, "get", lambda name: refuse)
    model = build.load_model(os.path.join(fx, "keras01.json"), os.path.join(fx, "keras01.h5"))
    np.testing.assert_array_equal(model.get_weights()[0], mf.arrays("keras01")[0][0].astype(np.float32))


# 6. long or odd values ---------------------------------------------------------------------
def test_a_five_million_character_name_is_quoted_briefly(tmp_path, call):
    config = lstm_config()
    config["layers"][1]["name"] = "L" * 5_000_000
    code, out, err = call("inspect", write_config(tmp_path, config))
    assert_clean_failure(code, out, err, "unknown layer type 'LLLL", "…")


@pytest.mark.parametrize("value", [["LSTM"], {"LSTM": 1}, 3, None])
def test_a_layer_type_that_is_not_a_string(tmp_path, call, value):
    config = lstm_config()
    config["layers"][1]["name"] = value
    assert_clean_failure(*call("inspect", write_config(tmp_path, config)), "layer 1", "must be a string")


@pytest.mark.parametrize("kind", ["json", "yaml"])
def test_deep_nesting_gets_a_sentence(tmp_path, call, kind):
    depth = 200_000
    text = "[" * depth + "]" * depth
    code, out, err = call("inspect", write_config(tmp_path, text, f"deep.{kind}"))
    assert_clean_failure(code, out, err, "nest")


def test_validate_refuses_an_onnx_file_of_another_model(fx, tmp_path, call):
    other = r.Sequential()
    other.add(r.GRU(2, input_dim=3))
    path = str(tmp_path / "other.onnx")
    rnn2onnx.export(other, path)
    j, h = os.path.join(fx, "keras01.json"), os.path.join(fx, "keras01.h5")
    assert_clean_failure(*call("validate", path, j, h), "input", "INT64")
    f64 = r.Sequential(dtype="float64")
    f64.add(r.Embedding(10, 3))
    f64.add(r.GRU(4))
    rnn2onnx.export(f64, str(tmp_path / "f64.onnx"), validate=False)
    assert_clean_failure(*call("validate", tmp_path / "f64.onnx", j, h, "--dtype", "float32"), "element type")
    from rnn2onnx.validate import InterfaceError

    with pytest.raises(InterfaceError, match="element type FLOAT, but the model.s is INT64"):  # the API too
        rnn2onnx.validate(f64, rnn2onnx.export(other, validate=False))


# 7. booleans ---------------------------------------------------------------------------------
@pytest.mark.parametrize("key,value", [("mask_zero", "false"), ("mask_zero", 0), ("return_sequences", "true"),
                                       ("return_sequences", 1), ("go_backwards", "false")])
def test_booleans_must_be_booleans(tmp_path, call, key, value):
    config = lstm_config()
    config["layers"][0 if key == "mask_zero" else 1][key] = value
    layer = "layer 0 (Embedding)" if key == "mask_zero" else "layer 1 (LSTM)"
    assert_clean_failure(*call("inspect", write_config(tmp_path, config)), layer, key, "true or false")


def test_boolean_keys_come_from_the_constructors():
    assert {"mask_zero"} <= keras0.BOOLEAN_KEYS["Embedding"]
    assert {"return_sequences"} <= keras0.BOOLEAN_KEYS["LSTM"] and "mask_zero" not in keras0.BOOLEAN_KEYS["LSTM"]


# 8. negative token ids ----------------------------------------------------------------------
def test_negative_ids_wrap_as_in_keras_in_reference_and_export_alike():
    model = r.Sequential(seed=1)
    model.add(r.Embedding(5, 3, mask_zero=True))
    model.add(r.GRU(4, return_sequences=True))
    E = model.layers[0].params["E"]
    X = np.array([[1, -1, -5, 0, 4]])
    # numpy's E[X] (what Theano's W[X] did): -1 is row 4, -5 row 0 (but only id 0 is masked)
    same = np.array([[1, 4, 0, 0, 4]])
    Y = model.predict(X)
    np.testing.assert_array_equal(model.layers[0].forward(X), E[X])
    assert not np.allclose(Y, model.predict(same))  # -5 is not masked, 0 is
    proto = rnn2onnx.export(model)
    run = runtimes.load("onnxruntime", proto)
    np.testing.assert_allclose(run({"input": X.astype(np.int64)})[0], Y, rtol=1e-5, atol=1e-6)
    for bad in (5, -6):
        with pytest.raises(InputError, match=r"\[-5, 5\)"):
            model.predict(np.array([[1, bad]]))
        with pytest.raises(Exception, match="out of bounds|indices"):
            run({"input": np.array([[1, bad]], np.int64)})


# 9. smaller ----------------------------------------------------------------------------------
def test_unwritable_folder_is_named_not_the_temporary_file(fx, tmp_path, call, monkeypatch):
    def refused(*args, **kwargs):
        raise PermissionError(13, "Permission denied", os.path.join(kwargs.get("dir", ""), ".model.onnx.x1y2.tmp"))
    monkeypatch.setattr(tempfile, "mkdtemp", refused)
    monkeypatch.setattr(tempfile, "mkstemp", refused)
    out = tmp_path / "ro" / "m.onnx"
    out.parent.mkdir()
    code, _, err = call("convert", os.path.join(fx, "keras01.json"), os.path.join(fx, "keras01.h5"), "-o", out)
    assert_clean_failure(code, "", err, f"folder {out.parent} is not writable")
    assert ".tmp" not in err
    model = build.load_model(os.path.join(fx, "keras01.json"), os.path.join(fx, "keras01.h5"))
    with pytest.raises(r.ConfigError, match="is not writable"):
        model.save_weights(str(out.parent / "w.h5"))


def test_validate_given_a_directory(fx, tmp_path, call):
    assert_clean_failure(*call("validate", tmp_path, os.path.join(fx, "keras01.json"), os.path.join(fx, "keras01.h5")),
                         "is a directory")


@pytest.mark.parametrize("batch_size", [0, -1, 1.5, "8"])
def test_predict_batch_size(batch_size):
    model = r.Sequential()
    model.add(r.Dense(2, input_dim=3))
    with pytest.raises(InputError, match="batch_size must be a positive integer"):
        model.predict(np.zeros((4, 3)), batch_size=batch_size)


def test_piping_into_head_ends_quietly(fx):
    # unbuffered, so the reader is gone before the last lines are written
    env = dict(os.environ, PYTHONPATH=ROOT, PYTHONUNBUFFERED="1")
    cmd = (f"{sys.executable} -m rnn2onnx.cli inspect {os.path.join(fx, 'every_recurrent.json')} "
           f"{os.path.join(fx, 'every_recurrent.h5')} | head -c 10 > /dev/null; echo status ${{PIPESTATUS[0]}}")
    proc = subprocess.run(["bash", "-c", cmd], env=env, capture_output=True, text=True, timeout=120)
    assert proc.stdout.strip() == "status 0", proc.stdout + proc.stderr
    assert proc.stderr == ""


# signals and the standard streams ---------------------------------------------------------------
def _cli(*args, **kwargs):
    env = dict(os.environ, PYTHONPATH=ROOT)
    env.pop("RNN2ONNX_TRACEBACK", None)
    return subprocess.Popen([sys.executable, "-m", "rnn2onnx.cli", *map(str, args)], env=env, **kwargs)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_and_sighup_remove_the_staging_folder(fx, tmp_path, signum):
    out = tmp_path / "out"
    out.mkdir()
    # many validation samples: the staging folder lives for seconds
    proc = _cli("convert", os.path.join(fx, "every_recurrent.json"), os.path.join(fx, "every_recurrent.h5"),
                "-o", out / "m.onnx", "--n", "20000", stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(6000):  # until the staging folder appears (or the process ends)
            if os.listdir(out) or proc.poll() is not None:
                break
            time.sleep(0.02)
        assert [name for name in os.listdir(out) if name.startswith(".rnn2onnx-")], os.listdir(out)
        proc.send_signal(signum)
        stdout, stderr = proc.communicate(timeout=300)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 128 + signum, (proc.returncode, stderr)
    assert stderr == f"rnn2onnx: stopped by {signal.Signals(signum).name}; nothing was written\n"
    assert os.listdir(out) == []


def test_a_signal_the_caller_ignores_stays_ignored(monkeypatch):
    seen = {}
    monkeypatch.setattr(cli, "_main", lambda argv, out, err: seen.update(
        {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGHUP)}) or 0)
    previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)  # as nohup leaves it
    try:
        assert cli.main(["inspect"]) == 0
        assert seen[signal.SIGHUP] is signal.SIG_IGN and seen[signal.SIGTERM] is not signal.SIG_IGN
        assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGHUP, previous)


@pytest.mark.parametrize("command, stdout", [("convert", "closed"), ("convert", "full"), ("inspect", "full")])
def test_exit_status_matches_the_disk_when_stdout_fails(fx, tmp_path, command, stdout):
    """convert's work is the file: written, exit 0, and stderr says the report was lost.
    inspect's work is what it prints: exit 1 with one sentence."""
    j, h = os.path.join(fx, "keras01.json"), os.path.join(fx, "keras01.h5")
    argv = ("convert", j, h, "-o", tmp_path / "m.onnx") if command == "convert" else ("inspect", j, h)
    with open("/dev/full", "w") if stdout == "full" else open(os.devnull, "w") as sink:
        if stdout == "closed":
            proc = _cli(*argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                        preexec_fn=lambda: os.close(1))
        else:
            proc = _cli(*argv, stdout=sink, stderr=subprocess.PIPE, text=True)
        _, stderr = proc.communicate(timeout=300)
    why = "it is closed" if stdout == "closed" else "No space left on device"
    assert "Traceback" not in stderr
    if command == "convert":
        assert proc.returncode == 0 and (tmp_path / "m.onnx").is_file() and os.listdir(tmp_path) == ["m.onnx"]
        assert stderr == f"rnn2onnx: warning: the report could not be printed (stdout: {why}); the command succeeded\n"
    else:
        assert_clean_failure(proc.returncode, "", stderr, f"the summary could not be printed (stdout: {why})")


# names from files on the terminal -----------------------------------------------------------------
HOSTILE_NAME = "x\x1b]0;owned\x07\x1b[2J\nonnxruntime, float32, 8 samples: PASS\u202e"


def hostile_graph(name=HOSTILE_NAME, n_nodes=1):
    model = r.Graph()
    model.add_input("x1", input_shape=(5, 3))
    model.add_node(r.LSTM(2), name=name, input="x1")
    for i in range(1, n_nodes):
        model.add_node(r.Dense(2), name=f"d{i}", input=name)
    model.add_output("y", input=name)
    return model


def test_names_from_a_file_reach_the_terminal_escaped_and_bounded(tmp_path, call):
    model = hostile_graph()
    config = tmp_path / "g.json"
    config.write_text(model.to_json())
    code, out, err = call("inspect", config)
    assert code == 0, err
    assert "\x1b" not in out + err and "\x07" not in out and "\u202e" not in out
    assert "x\\x1b]0;owned\\x07\\x1b[2J\\nonnxruntime" in out  # shown, visibly
    assert not any(line.startswith("onnxruntime, float32") for line in out.splitlines())  # no forged line
    # a path in an error message: escaped as well
    code, out, err = call("inspect", tmp_path / "x\x1b[2J.json")
    assert_clean_failure(code, out, err, "x\\x1b[2J.json")


def test_a_long_name_widens_no_column_past_the_cap(tmp_path, call):
    from reference.untrusted import CELL_LIMIT

    config = tmp_path / "g.json"
    config.write_text(hostile_graph("n" * 200, n_nodes=300).to_json())
    code, out, err = call("inspect", config)
    assert code == 0, err
    assert max(len(line) for line in out.splitlines()) < 3 * CELL_LIMIT + 60
    # without the cap, each of the ~600 rows of the two tables was padded to the 200-character name
    rows = [line for line in out.splitlines() if line.startswith("d17 ")]
    assert len(rows) == 2 and all(len(row) < 2 * CELL_LIMIT + 40 for row in rows), rows


def test_a_graph_name_too_long_to_export_is_refused(tmp_path, call):
    from rnn2onnx.export import MAX_NAME_CHARS

    config = tmp_path / "g.json"
    config.write_text(hostile_graph("n" * 100_000).to_json())
    # a node name is written into every ONNX name it prefixes: a million characters made 156 MB
    code, out, err = call("inspect", config)
    assert_clean_failure(code, out, err, "node name 'nnnn", f"more than {MAX_NAME_CHARS} characters")
    assert out == ""  # refused before the summary is printed
    with pytest.raises(rnn2onnx.ExportError, match="not exported"):
        rnn2onnx.export(hostile_graph("n" * (MAX_NAME_CHARS + 1)), validate=False)
    model = hostile_graph("n" * 100_000)  # validate prints the names in its table: refused too
    model.save_weights(str(tmp_path / "w.h5"))
    rnn2onnx.export(hostile_graph(), str(tmp_path / "m.onnx"), validate=False)
    assert_clean_failure(*call("validate", tmp_path / "m.onnx", config, tmp_path / "w.h5"),
                         f"more than {MAX_NAME_CHARS} characters")
    assert rnn2onnx.export(hostile_graph("n" * MAX_NAME_CHARS), validate=False).ByteSize() < 100 * MAX_NAME_CHARS


def test_the_bad_input_page_quotes_the_sentences(fx, tmp_path, call, monkeypatch):
    """docs/bad-input.md quotes each refusal as the command prints it (paths as OUT, IN, …)."""
    page = open(os.path.join(ROOT, "docs", "bad-input.md")).read()
    monkeypatch.chdir(tmp_path)
    os.mknod("null", stat.S_IFCHR | 0o666, os.makedev(1, 3))  # a private /dev/null
    os.mkfifo("fifo")
    os.symlink("null", "link.onnx")
    os.mkdir("dir")
    j, h = "keras01.json", "keras01.h5"
    for name in (j, h):
        shutil.copy(os.path.join(fx, name), name)
    (tmp_path / "g.json").write_text(hostile_graph("n" * 1000).to_json())
    cases = [("convert", j, h, "-o", output) for output in
             ("null", "fifo", "link.onnx", "dir", "newdir/", "m" * 300, "no/m.onnx", "keras01.h5")]
    cases += [("inspect", "missing.json"), ("inspect", "fifo"), ("convert", j, "fifo", "-o", "m.onnx"),
              ("validate", "dir", j, h), ("inspect", "g.json")]
    for argv in cases:
        code, out, err = call(*argv)
        assert code == 1, (argv, err)
        sentence = err.strip().removeprefix("rnn2onnx: error: ")
        sentence = re.sub(r"m{70,}…", "OUT", sentence)
        sentence = re.sub(r"\b\d{3,}\b(?= (bytes|characters) long)", "N", sentence)
        sentence = re.sub(r"'n+…", "'nnnn…", sentence)
        for path, name in ((f"{tmp_path}/null", "TARGET"), (f"{tmp_path}/no", "DIR"), ("newdir/", "OUT")):
            sentence = sentence.replace(path, name)
        if argv[0] == "convert" and argv[1:] != (j, "fifo", "-o", "m.onnx"):
            sentence = sentence.replace(f" {argv[-1]}:", " OUT:").replace(f"output {argv[-1]} ", "output OUT ")
        sentence = re.sub(r"(file) (missing\.json|fifo|dir|keras01\.h5)\b", r"\1 IN", sentence)
        assert sentence in page, (argv, sentence)
