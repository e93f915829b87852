"""The README's main job (`rnn2onnx demo`) and the benchmark command run end to end."""
import json
import os
import tempfile

import onnx
import pytest

from rnn2onnx import bench, demo


def test_demo_trains_exports_and_validates(tmp_path):
    path = tmp_path / "demo.onnx"
    lines = []
    result = demo.run(out=str(path), epochs=6, verbose=0, print_fn=lines.append)
    assert result["report"].passed
    assert result["accuracy"] > 0.75  # chance is about 0.5
    assert abs(result["onnx_accuracy"] - result["accuracy"]) < 0.01
    assert onnx.load(path).graph.output[0].name == "output"
    assert any("PASS" in line for line in lines)


def test_demo_command_writes_into_the_current_directory_and_says_where(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))  # anything left there would show
    (tmp_path / "tmp").mkdir()
    assert demo.main(["--epochs", "1", "-q"]) in (0, 1)
    out = capsys.readouterr().out
    assert (tmp_path / "demo.onnx").exists()
    assert str(tmp_path / "demo.onnx") in out
    assert os.listdir(tmp_path / "tmp") == []


def test_bench_prints_every_comparison():
    lines = []
    rows = bench.run(shapes=[(2, 5, 3, 4)], repeats=1, print_fn=lines.append, masked_shapes=[(2, 6, 3, 4)],
                     unrolled_shapes=[(1, 4, 3, 4, 1)], latency_shapes=[(1, 4, 3, 4)])
    assert {row[0] for row in rows} == {"a", "b", "c", "d", "e", "f", "g", "h", "i"}
    masked = [row[1] for row in rows if row[0] == "e"]
    for cell in ("LSTM rs=F [native-segment*]", "LSTM rs=T [native-reset*]", "GRU rs=F [native-segment]",
                 "GRU rs=T [native-rows]", "GRU(tanh) rs=T [native-reset]",
                 "GRU rs=F [auto: dispatch(native-segment | loop, batch <= 4)]",
                 "GRU(tanh) rs=T [auto: dispatch(native-reset | loop, batch <= 4)]"):
        assert f"{cell} vs unmasked" in masked and f"{cell} vs scan" in masked
    for cell in ("LSTM(carry) rs=F [native-carry*]", "LSTM(carry, backwards, holes) rs=T [native-carry*]",
                 "GRU(carry, holes) rs=T [auto: dispatch(native-carry | loop, batch <= 4)]",
                 "SimpleRNN(tanh, carry, holes) rs=F [auto: dispatch(native-carry | loop, batch <= 1)]"):
        assert f"{cell} vs unmasked" in masked and f"{cell} vs scan" in masked
    assert not any("GRU rs=T [auto" in row for row in masked)  # auto's form is the Scan there
    assert {row[1] for row in rows if row[0] == "f"} >= {"GRU Loop vs Scan", "LSTM masked portable vs ort-target Scan"}
    assert {row[1] for row in rows if row[0] == "h"} >= {"JZS3 masked unrolled vs Scan (1 thread)",
                                                         "SimpleDeepRNN(2) unrolled vs Scan (1 thread)"}
    assert {row[1] for row in rows if row[0] == "i"} >= {"JZS3 loop vs native GRU (1 thread)",
                                                         "SimpleDeepRNN(2) loop vs native GRU (1 thread)"}
    assert "(i) goal <= 3 for JZS3 and SimpleDeepRNN(2)" in lines[-1]
    assert all(row[-1] > 0 for row in rows)
    assert "ratio" in lines[0]


def test_bench_json_holds_the_rows_and_each_part_s_description(tmp_path):
    rows = [("a", "GRU loop vs native GRU", (1, 50, 32, 64), 0.003, 0.001, 3.0),
            ("d", "export+validate", "-", 0.5, 2.0, 0.25)]
    path = tmp_path / "bench.json"
    bench.write_json(str(path), rows, repeats=7)
    data = json.loads(path.read_text())
    assert data["format"] == bench.JSON_FORMAT and data["repeats"] == 7
    assert data["rows"][0] == {"part": "a", "comparison": "GRU loop vs native GRU", "shape": [1, 50, 32, 64],
                               "ours_ms": 3.0, "base_ms": 1.0, "ratio": 3.0}
    assert data["rows"][1]["shape"] is None
    assert set(data["parts"]) == set("abcdefghi") and data["parts"]["b"].startswith("our native LSTM export")
    assert data["parts"]["i"].startswith("latency at batch 1") and "one intra-op thread" in data["parts"]["i"]
    assert os.listdir(tmp_path) == ["bench.json"]  # written atomically: no temporary file left


def test_bench_latency_option_runs_part_i_alone_into_text_and_json(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(bench, "LATENCY_SHAPES", [(1, 3, 2, 3)])
    path = tmp_path / "bench.json"
    assert bench.main(["--latency", "--quick", "--json", str(path)]) == 0
    out = capsys.readouterr().out
    assert "JZS3 loop vs native GRU (1 thread)" in out and "(1, 3, 2, 3)" in out
    data = json.loads(path.read_text())
    assert {row["part"] for row in data["rows"]} == {"i"}
    assert {row["comparison"] for row in data["rows"]} == {f"{cell} loop vs native GRU (1 thread)" for cell in (
        "SimpleRNN", "SimpleDeepRNN(2)", "SimpleDeepRNN(3)", "GRU", "LSTM", "JZS1", "JZS2", "JZS3")}


def test_bench_json_path_is_checked_before_measuring(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        bench.main(["--json", str(tmp_path)])  # a directory: refused at once, not after minutes
    assert exc.value.code == 2 and "it is a directory" in capsys.readouterr().err
