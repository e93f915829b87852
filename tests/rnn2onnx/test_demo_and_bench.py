"""The README's main job (`rnn2onnx demo`) and the benchmark command run end to end."""
import onnx

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


def test_bench_prints_every_comparison():
    lines = []
    rows = bench.run(shapes=[(2, 5, 3, 4)], repeats=1, print_fn=lines.append, masked_shapes=[(2, 6, 3, 4)])
    assert {row[0] for row in rows} == {"a", "b", "c", "d", "e", "f"}
    masked = [row[1] for row in rows if row[0] == "e"]
    for cell in ("LSTM rs=F [native-segment*]", "LSTM rs=T [native-reset*]", "GRU rs=F [native-segment]",
                 "GRU rs=T [native-rows]", "GRU(tanh) rs=T [native-reset]"):
        assert f"{cell} vs unmasked" in masked and f"{cell} vs scan" in masked
    assert {row[1] for row in rows if row[0] == "f"} >= {"GRU Loop vs Scan", "LSTM masked portable vs ort-target Scan"}
    assert all(row[-1] > 0 for row in rows)
    assert "ratio" in lines[0]
