"""conformance.html: written beside the Markdown when plotly is installed, rendered by
headless Chromium without script errors or network, showing every runtime that ran; its
compatibility table is the Markdown's; without plotly the command still writes the rest."""
import html.parser
import json
import os
import re
import shutil
import subprocess

import pytest

from rnn2onnx import bench, conformance, runtimes
from rnn2onnx.conformance import html_report

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)
needs_plotly = pytest.mark.skipif(not html_report.available(), reason=f"plotly is not installed ({html_report.INSTALL_HINT})")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)")

# a target="onnxruntime" native LSTM with hard_sigmoid (OpenVINO rejects it, tract computes
# other numbers: both recorded, not held) and its portable twin (every runtime agrees)
FILTER = "lstm-none-last-f32-auto"
BENCH_ROWS = [("a", "GRU loop (11/7 nodes) vs native GRU", (32, 100, 64, 128), 0.004, 0.006, 0.66),
              ("a", "LSTM loop (11/10 nodes) vs native GRU", (1, 50, 32, 64), 0.9, 0.3, 3.0),
              ("d", "export+validate, Embedding/LSTM/GRU/Dense", "-", 0.5, 2.0, 0.25)]


def render(path, tmp_path):
    """(DOM after the scripts ran, console messages) of a file in headless Chromium, with
    every network request sent to a closed port (so a fetch would show as an error)."""
    result = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={tmp_path / 'profile'}",
         "--proxy-server=127.0.0.1:9", "--enable-logging=stderr", "--v=0", "--virtual-time-budget=5000",
         "--dump-dom", "file://" + os.path.abspath(path)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    console = [line for line in result.stderr.splitlines() if ":CONSOLE" in line]
    return result.stdout, console


class Tables(html.parser.HTMLParser):
    """The text of every table cell, one list per row, and each cell's title and class."""

    def __init__(self):
        super().__init__()
        self.rows, self.cell = [], None

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self.rows.append([])
        elif tag == "td":
            self.cell = {"text": "", **dict(attrs)}

    def handle_endtag(self, tag):
        if tag == "td" and self.cell is not None:
            self.rows[-1].append(self.cell)
            self.cell = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell["text"] += data


def compatibility_rows_of_markdown(md):
    table = md.split("## Compatibility: runtime x form x mask")[1].split("\n\n")[2]
    return [[c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line)[1:-1]]
            for line in table.splitlines()[2:]]


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """A small run through main() on every installed runtime, with a bench file."""
    out = tmp_path_factory.mktemp("conformance-html")
    bench.write_json(str(out / "bench.json"), BENCH_ROWS, repeats=3)
    status = conformance.main(["--quick", "--no-peers", "--filter", FILTER, "--out", str(out), "--no-progress",
                               "--bench", str(out / "bench.json")])
    data = json.loads((out / "conformance.json").read_text(encoding="utf-8"))
    return status, out, data


@needs_plotly
def test_page_is_self_contained_and_holds_the_markdown_table(report):
    status, out, data = report
    assert status == 0 and len(data["cases"]) >= 2
    page = (out / "conformance.html").read_text(encoding="utf-8")
    assert not re.search(r"<script[^>]*\ssrc=|<link[^>]*\shref=|<img|<iframe", page)  # nothing fetched
    parser = Tables()
    parser.feed(page)
    cells = [[c["text"] for c in row] for row in parser.rows if row and row[0].get("class") is None and len(row) > 5]
    md_rows = compatibility_rows_of_markdown((out / "conformance.md").read_text(encoding="utf-8"))
    assert md_rows and cells[:len(md_rows)] == md_rows  # the same cells, the same text
    # a rejection's cell carries the runtime's message on hover and the rejected colour
    rejected = [(name, e["message"]) for c in data["cases"] if c["group"] != "peer"
                for name, e in c["runtimes"].items() if e["status"] == "rejected"]
    titled = [c for row in parser.rows for c in row if c.get("title")]
    for name, message in rejected:
        assert any(message in c["title"] and "rejected" in c["class"].split() for c in titled), (name, message)


@needs_plotly
@needs_chromium
def test_page_renders_in_chromium_without_script_errors(report, tmp_path):
    _, out, data = report
    dom, console = render(out / "conformance.html", tmp_path)
    assert console == []
    assert re.search(r'<div id="script-errors" hidden="">\s*</div>', dom)
    errors_chart = dom.split('id="errors-chart"')[1].split('id="bench"')[0]
    assert "main-svg" in errors_chart  # plotly drew it
    for name in data["runtimes"]:
        assert f'<td>{name}</td>' in dom  # in the table
        assert re.search(rf'class="xtick"[^>]*>.*?>{re.escape(name)}</text>', errors_chart), name  # on the chart's axis
    for part, what, *_ in BENCH_ROWS:
        chart = dom.split(f'id="bench-chart-{part}"')[1]
        assert "main-svg" in chart and what in chart.split("</svg>")[0], what


@needs_chromium
def test_the_render_check_sees_script_errors(tmp_path):
    """What the test above relies on: a console error and an uncaught exception are reported."""
    page = tmp_path / "broken.html"
    page.write_text('<html><body><script>console.error("drawn badly"); undefinedFunction();</script></body></html>')
    _, console = render(page, tmp_path)
    assert any("drawn badly" in line for line in console) and any("undefinedFunction" in line for line in console)


def test_without_plotly_the_command_writes_markdown_and_json_and_says_how(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(html_report, "available", lambda: False)
    status = conformance.main(["--quick", "--no-peers", "--filter", "jzs2-left", "--runtimes", "onnxruntime",
                               "--out", str(tmp_path), "--no-progress"])
    assert status == 0
    assert sorted(n for n in os.listdir(tmp_path) if n.startswith("conformance")) == ["conformance.json",
                                                                                      "conformance.md"]
    hints = [line for line in capsys.readouterr().out.splitlines() if "conformance.html" in line]
    assert len(hints) == 1 and "pip install 'rnn2onnx[report]'" in hints[0]


@needs_plotly
def test_without_a_bench_file_the_page_says_how_to_add_one():
    records = []
    summary = conformance.report.summarize(records, ["onnxruntime"])
    page = html_report.format_html(records, summary, ["onnxruntime"], conformance.report.complete_meta())
    assert "rnn2onnx bench --json bench.json" in page and "rnn2onnx conformance --bench bench.json" in page


@pytest.mark.parametrize("content, says", [
    ("not json", "is not JSON"),
    ('{"format": "other"}', "is not a `rnn2onnx bench --json` file"),
    ('{"format": "rnn2onnx-bench/1", "rows": [{"part": "a", "comparison": "x", "ours_ms": 1, "base_ms": 1}]}',
     "row 0 of the bench file"),
    ('{"format": "rnn2onnx-bench/1", "rows": [{"part": "a", "comparison": "x", "ours_ms": 1, "base_ms": 1, '
     '"ratio": NaN}]}', "lacks a valid ratio"),
])
def test_a_bad_bench_file_is_a_usage_error_before_the_run(tmp_path, content, says, capsys):
    path = tmp_path / "bench.json"
    path.write_text(content)
    with pytest.raises(SystemExit) as exc:
        conformance.main(["--bench", str(path), "--out", str(tmp_path / "out")])
    assert exc.value.code == 2 and says in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_cell_colours_follow_the_outcomes_and_what_runtimes_are_held_to():
    """Hand-made records: agree, rejected and wrong on a file the runtime is held to
    (portable float32 Scan), and a rejection tract is not held to (an ONNX Loop)."""
    def record(i, target, loop_op, statuses):
        return {"id": f"case{i}", "group": "matrix", "dtype": "float32", "target": target, "loop_op": loop_op,
                "mask": "none", "forms": {"lstm_1": {"form": "loop", "reason": "Scan"}},
                "runtimes": {n: {"status": s, "message": f"{n} says no" if s == "rejected" else ""}
                             for n, s in statuses.items()}}

    table = conformance.report.compatibility([
        record(0, "portable", "scan", {"onnxruntime": "pass", "tract": "rejected"}),
        record(1, "portable", "scan", {"onnxruntime": "FAIL", "tract": "pass"}),
        record(2, "portable", "loop", {"onnxruntime": "pass", "tract": "rejected"}),
    ], ["onnxruntime", "tract"])
    classes = {(name, form): html_report._cell_class(masks["none"]) for (name, _, _, form), masks in table.items()}
    assert runtimes.get("tract").known_limit("portable", "float32", "loop")
    assert classes == {("onnxruntime", "Scan"): "wrong", ("onnxruntime", "Loop"): "agrees",
                       ("tract", "Scan"): "rejected", ("tract", "Loop"): "rejected not-held"}
