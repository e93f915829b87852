"""conformance.html: the report as one self-contained page (every script and style inline,
nothing fetched at view time), drawn with plotly (the optional `report` extra).

The compatibility table is the Markdown's: the same `compatibility()` cells, the same cell
text and rejection numbers, coloured by outcome. Beside it: the relative errors of every
runtime per dtype on a log axis, and, given a `rnn2onnx bench --json` file, its ratios."""
import html
import importlib.util
import json
import math
import os

from reference.untrusted import quote, shorten

from .. import runtimes
from ..bench import JSON_FORMAT as BENCH_FORMAT
from ..validation import TOLERANCE
from .matrix import DTYPES, MASKS
from .report import compatibility, compatibility_cell, rejection_index, write_atomic

INSTALL_HINT = "pip install 'rnn2onnx[report]' (plotly)"
ZERO_AT = 1e-18  # where exact (zero) errors are drawn on the log axis: below float64's rounding
MAX_BENCH_BYTES = 16 * 2 ** 20

OUTCOME_COLOURS = {"agrees": "#b7e1c1", "rejected": "#ffd591", "wrong": "#f4a6a6"}
# the status of a runtime entry -> the colour of its points in the error plot
STATUS_COLOURS = {"pass": "#2b8a3e", "f32-only": "#1c7ed6", "FAIL": "#c92a2a"}
STATUS_MEANING = {"pass": "pass", "f32-only": "f32-only (float64 file computed in float32)",
                  "FAIL": "disagrees (a failure unless not held)"}


def available():
    """Whether plotly (the `report` extra) is installed."""
    return importlib.util.find_spec("plotly") is not None


class BenchFileError(ValueError):
    """A --bench file that is not what `rnn2onnx bench --json` writes."""


def load_bench(path):
    """The rows of a `rnn2onnx bench --json` file, checked: {"parts", "rows", ...}.
    Raises BenchFileError (one sentence) for anything else."""
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_BENCH_BYTES + 1)
    except OSError as exc:
        raise BenchFileError(f"cannot read the bench file {quote(path)}: {exc.strerror or exc}") from None
    if len(raw) > MAX_BENCH_BYTES:
        raise BenchFileError(f"the bench file {quote(path)} is larger than {MAX_BENCH_BYTES >> 20} MiB")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise BenchFileError(f"the bench file {quote(path)} is not JSON ({shorten(exc, 120)})") from None
    if not isinstance(data, dict) or data.get("format") != BENCH_FORMAT:
        found = data.get("format") if isinstance(data, dict) else type(data).__name__
        raise BenchFileError(f"the bench file {quote(path)} is not a `rnn2onnx bench --json` file (format "
                             f"{quote(found)}, expected {BENCH_FORMAT!r})")
    rows = data.get("rows")
    fields = {"part": str, "comparison": str, "ours_ms": (int, float), "base_ms": (int, float), "ratio": (int, float)}
    if not isinstance(rows, list):
        raise BenchFileError(f"the bench file {quote(path)} has no list of rows")
    for i, row in enumerate(rows):
        # numbers: finite and positive (json reads NaN and Infinity; a log axis has no 0)
        bad = [k for k, t in fields.items() if not isinstance(row, dict) or not isinstance(row.get(k), t)
               or isinstance(row.get(k), bool) or (t is not str and not 0 < row[k] < math.inf)]
        if bad:
            raise BenchFileError(f"row {i} of the bench file {quote(path)} lacks a valid {', '.join(bad)}")
    if not isinstance(data.get("parts", {}), dict):
        raise BenchFileError(f"the bench file {quote(path)} has parts that are not a mapping")
    return data


# ---------------------------------------------------------------------------------------
# the page


CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 24px; color: #222;
       max-width: 1500px; }
h1 { margin: 0 0 4px; } h2 { margin-top: 32px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
.meta { color: #555; } .summary { font-size: 16px; } .fail { color: #c92a2a; font-weight: 600; }
nav a { margin-right: 14px; }
table { border-collapse: collapse; margin: 8px 0; font-size: 13px; }
th, td { border: 1px solid #ccc; padding: 3px 7px; text-align: left; vertical-align: top; }
thead th { background: #f1f3f5; position: sticky; top: 0; }
td.c { min-width: 80px; white-space: nowrap; } td.form { white-space: nowrap; }
td.none { color: #aaa; text-align: center; }
td.agrees { background: #b7e1c1; } td.rejected { background: #ffd591; } td.wrong { background: #f4a6a6; }
td.not-held { background-image: repeating-linear-gradient(135deg, transparent 0 6px, rgba(0,0,0,.10) 6px 8px); }
td.not-held::after { content: "not held"; display: block; color: #555; font-size: 11px; }
td[title] { cursor: help; }
tr.runtime-start td { border-top: 2px solid #555; }
.legend span { display: inline-block; padding: 2px 8px; margin-right: 8px; border: 1px solid #ccc; }
.legend .not-held { background-image: repeating-linear-gradient(135deg, transparent 0 6px, rgba(0,0,0,.10) 6px 8px); }
.hint { background: #fff9db; border: 1px solid #ffe066; padding: 8px 12px; }
code { background: #f1f3f5; padding: 0 3px; }
#script-errors { background: #ffe3e3; border: 1px solid #c92a2a; padding: 8px; white-space: pre-wrap; }
.msg { max-width: 900px; }
"""

# first script of the page: errors of the scripts after it (plotly's, the charts') are
# shown on the page instead of leaving an empty space, and a test reads them from the DOM
ERROR_CAPTURE = """
(function () {
  function show(text) {
    var box = document.getElementById("script-errors");
    if (!box) { window.__pendingErrors = (window.__pendingErrors || []).concat([text]); return; }
    box.hidden = false; box.textContent += text + "\\n";
  }
  window.addEventListener("error", function (e) { show("script error: " + (e.message || e)); });
  window.addEventListener("unhandledrejection", function (e) { show("script error: " + (e.reason || e)); });
  var consoleError = console.error;
  console.error = function () { show("console error: " + Array.prototype.join.call(arguments, " "));
                                consoleError.apply(console, arguments); };
  document.addEventListener("DOMContentLoaded", function () {
    (window.__pendingErrors || []).forEach(show); window.__pendingErrors = [];
  });
})();
"""


def _e(text):
    return html.escape(str(text), quote=True)


def _cell_class(counts):
    """The cell's colour: its worst outcome (wrong > rejected > agrees), striped where the
    runtime is not held to any of the files that did not agree (Runtime.known_limit)."""
    if not counts:
        return "none"
    worst = next(k for k in ("wrong", "rejected", "agrees") if counts.get(k))
    failed = counts.get("wrong", 0) + counts.get("rejected", 0)
    return worst + (" not-held" if failed and counts.get("not_held", 0) == failed else "")


def _compatibility_section(records, summary, runtime_names):
    table = compatibility(records, runtime_names)
    if not table:
        return "<p>No model-matrix cases ran.</p>"
    index = rejection_index(summary)
    legend = ('<p class="legend">' + "".join(
        f'<span class="{cls}" style="background-color:{OUTCOME_COLOURS.get(cls, "#fff")}">{_e(text)}</span>'
        for cls, text in (("agrees", "all agree"), ("rejected", "some rejected"), ("wrong", "some wrong"),
                          ("not-held", "not held: the runtime's class does not hold it to these files"))) + "</p>")
    rows, previous = [], None
    for (name, dtype, target, form), masks in sorted(table.items()):
        cells = []
        for mask in MASKS:
            counts = masks.get(mask)
            title = ""
            if counts and counts.get("messages"):
                title = "\n".join(f"[{index.get((name, m), 0)}] {m}" for m in sorted(counts["messages"]))
            cells.append(f'<td class="c {_cell_class(counts)}"' + (f' title="{_e(title)}"' if title else "")
                         + f">{_e(compatibility_cell(counts, name, index))}</td>")
        start = ' class="runtime-start"' if name != previous else ""
        previous = name
        rows.append(f"<tr{start}><td>{_e(name)}</td><td>{_e(dtype)}</td><td>{_e(target)}</td><td class=\"form\">{_e(form)}</td>"
                    + "".join(cells) + "</tr>")
    head = "".join(f"<th>{_e(h)}</th>" for h in ["runtime", "dtype", "target", "form", *MASKS])
    known = "".join(f"<li>{_e(name)}: {_e(what)}: {_e(why)}</li>"
                    for name in runtime_names for what, why in runtimes.get(name).known_issues)
    return (legend + "<p>Model-matrix cases per cell, counted as in <code>conformance.md</code>: <code>n agree</code> "
            "(within the tolerance; f32-only counts as agreeing), <code>n rejected [k]</code> (the runtime refused "
            "or crashed; [k] is the row of the Rejections table below; hover for the message), "
            "<code>n wrong</code> (ran, disagreed). A cell's colour is its worst outcome.</p>"
            f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
            + (f"<p>What each runtime is known to refuse or get wrong (<code>known_issues</code> in "
               f"<code>rnn2onnx/runtimes.py</code>):</p><ul>{known}</ul>" if known else ""))


def _rejections_section(summary):
    if not summary["rejections"]:
        return "<p>No runtime rejected a file.</p>"
    rows = "".join(f"<tr><td>{i + 1}</td><td>{_e(g['runtime'])}</td><td class=\"msg\">{_e(g['message'])}</td>"
                   f"<td>{g['count']}</td><td>{_e(', '.join(g['targets']))}</td><td>{_e(', '.join(g['dtypes']))}</td>"
                   f"<td><code>{_e(g['cases'][0])}</code></td></tr>" for i, g in enumerate(summary["rejections"]))
    return ("<table><thead><tr><th>#</th><th>runtime</th><th>message</th><th>files</th><th>targets</th>"
            f"<th>dtypes</th><th>e.g.</th></tr></thead><tbody>{rows}</tbody></table>")


def _figure_html(fig, div_id, tools=True):
    return fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id,
                       config={"displaylogo": False, "responsive": True, "displayModeBar": "hover" if tools else False})


def error_points(records, runtime_names):
    """{dtype: {runtime: [(case id, max rel error, status)]}}: every compared entry (the
    model matrix and the peer vectors; "reference" is the peer rows' reference)."""
    points = {}
    for r in records:
        entries = [("reference", r["reference"])] if r.get("reference") else []
        entries += [(name, r["runtimes"].get(name)) for name in runtime_names]
        for name, e in entries:
            if e and e.get("max_rel_error") is not None:
                points.setdefault(r["dtype"], {}).setdefault(name, []).append((r["id"], e["max_rel_error"], e["status"]))
    return points


def _errors_figure(records, runtime_names):
    from plotly import graph_objects as go
    from plotly.subplots import make_subplots

    points = error_points(records, runtime_names)
    dtypes = [d for d in DTYPES if d in points]
    if not dtypes:
        return None
    fig = make_subplots(rows=1, cols=len(dtypes), subplot_titles=[f"{d} (tolerance {TOLERANCE[d]:.0e})" for d in dtypes],
                        horizontal_spacing=0.08)
    names = ["reference"] + list(runtime_names)
    statuses = set()
    for col, dtype in enumerate(dtypes, start=1):
        for name in names:
            entries = points[dtype].get(name)
            if not entries:
                continue
            label = "reference (peer vectors)" if name == "reference" else name
            # the quartiles of all the runtime's points, then its points coloured by status
            # (one trace per status: a box's points take one colour), overlaid on one category
            fig.add_trace(go.Box(y=[max(err, ZERO_AT) for _, err, _ in entries], x=[label] * len(entries),
                                 name=label, boxpoints=False, line={"color": "#868e96"},
                                 fillcolor="rgba(134,142,150,0.12)", hoverinfo="skip", showlegend=False),
                          row=1, col=col)
            for status in sorted({status for _, _, status in entries}):
                picked = [(cid, err) for cid, err, s in entries if s == status]
                fig.add_trace(go.Box(
                    y=[max(err, ZERO_AT) for _, err in picked], x=[label] * len(picked), name=status,
                    showlegend=False, boxpoints="all", jitter=0.7, pointpos=0,
                    line={"width": 0}, fillcolor="rgba(0,0,0,0)",
                    marker={"size": 5, "opacity": 0.75, "color": STATUS_COLOURS.get(status, "#c92a2a")},
                    hovertext=[f"{_e(cid)}<br>{_e(label)}: {_e(status)}, rel err {err:.2e}" for cid, err in picked],
                    hoverinfo="text"), row=1, col=col)
                statuses.add(status)
        for y, text, dash, colour in ((TOLERANCE[dtype], "tolerance", "dash", "#c92a2a"),
                                      (ZERO_AT, "exact (0)", "dot", "#868e96")):
            fig.add_hline(y=y, line={"dash": dash, "color": colour}, row=1, col=col)
            # on a log axis an annotation's y is log10 of the value
            fig.add_annotation(x=1, xref="x domain" if col == 1 else f"x{col} domain", y=math.log10(y),
                               text=text, showarrow=False, xanchor="right", yanchor="bottom",
                               font={"color": colour, "size": 11}, row=1, col=col)
        fig.update_yaxes(type="log", exponentformat="power", title_text="max relative error" if col == 1 else None,
                         row=1, col=col)
    for status in sorted(statuses):  # the legend of the point colours (a box's own entry shows no point)
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=STATUS_MEANING.get(status, status),
                                 marker={"size": 9, "color": STATUS_COLOURS.get(status, "#c92a2a")}))
    fig.update_layout(height=520, margin={"t": 60, "b": 40, "l": 60, "r": 20}, template="plotly_white",
                      boxmode="overlay", legend={"orientation": "h", "y": -0.12, "title": {"text": "status "}})
    return fig


def _ratio_ticks(ratios):
    """Ticks 1-2-5 per decade over the ratios' range (and 1) for a log axis, their labels,
    and the axis range (log10)."""
    low, high = min(min(ratios), 1.0), max(max(ratios), 1.0)
    ticks = [m * 10.0 ** e for e in range(math.floor(math.log10(low)) - 1, math.ceil(math.log10(high)) + 1)
             for m in (1, 2, 5)]
    ticks = [t for t in ticks if low / 2.5 <= t <= high * 2.5]
    padding = 0.12  # decades either side, for the bars' labels
    return ticks, [f"{t:g}" for t in ticks], [math.log10(low) - padding, math.log10(high) + padding]


def _bench_figures(bench):
    """(part, description, figure) per part of the bench file: one bar per comparison from
    1 (equal speed) to its ratio on a log axis."""
    from plotly import graph_objects as go

    parts = {}
    for row in bench["rows"]:
        parts.setdefault(row["part"], []).append(row)
    figures = []
    for part in sorted(parts):
        rows = parts[part]
        labels = []
        for row in rows:
            shape = row.get("shape")
            label = row["comparison"] + (f"  [{','.join(str(s) for s in shape)}]" if isinstance(shape, list) else "")
            labels.append(_e(shorten(label, 110)))
        ratios = [row["ratio"] for row in rows]
        ticks, text, span = _ratio_ticks(ratios)
        fig = go.Figure(go.Bar(
            x=[r - 1 for r in ratios], base=[1.0] * len(ratios), y=labels, orientation="h",
            marker={"color": ["#51cf66" if r <= 1 else "#ff922b" for r in ratios]},
            text=[f"{r:.2f}" for r in ratios], textposition="outside", cliponaxis=False,
            hovertext=[f"ours {row['ours_ms']:.3f} ms, baseline {row['base_ms']:.3f} ms, ratio {row['ratio']:.3f}"
                       for row in rows], hoverinfo="text"))
        fig.add_vline(x=1, line={"color": "#495057"})
        fig.update_layout(
            template="plotly_white", height=max(180, 70 + 24 * len(rows)),
            margin={"t": 10, "b": 50, "l": 20, "r": 60},
            xaxis={"type": "log", "title": "ratio = ours / baseline (log axis; < 1: ours is faster)",
                   "tickvals": ticks, "ticktext": text, "range": span},
            yaxis={"autorange": "reversed", "automargin": True})
        figures.append((part, shorten(bench.get("parts", {}).get(part, ""), 400), fig))
    return figures


def _bench_section(bench, bench_path):
    if bench is None:
        return ('<p class="hint">No benchmark here. To chart <code>rnn2onnx bench</code>\'s ratios on this page, run '
                "<code>rnn2onnx bench --json bench.json</code> (a few minutes), then "
                "<code>rnn2onnx conformance --bench bench.json</code>.</p>")
    versions = bench.get("versions") if isinstance(bench.get("versions"), dict) else {}
    head = (f"<p class=\"meta\">From <code>{_e(shorten(bench_path or '', 200))}</code>: "
            f"{_e(shorten(bench.get('generated', ''), 40))}, {_e(shorten(bench.get('repeats', ''), 10))} interleaved "
            "rounds per comparison; " + _e(shorten(", ".join(f"{k} {v}" for k, v in versions.items()), 300))
            + ". Ratio = time of ours / time of the baseline, the median over interleaved rounds in one process; "
            "green bars: ours is faster or equal.</p>")
    out = [head]
    for part, description, fig in _bench_figures(bench):
        out.append(f"<p><b>({_e(part)})</b> {_e(description)}</p>" + _figure_html(fig, f"bench-chart-{_e(part)}", tools=False))
    return "".join(out)


def format_html(records, summary, runtime_names, meta, bench=None, bench_path=None):
    """The page as a string (needs plotly)."""
    from plotly.offline import get_plotlyjs

    rt = list(runtime_names)
    versions = ", ".join(f"{k} {v}" for k, v in meta["versions"].items() if v)
    skipped = "".join(f"<li>{_e(name)} was not run here ({_e(cls.install_hint())}).</li>"
                      for name, cls in runtimes.REGISTRY.items() if name not in rt)
    failed = [r for r in records if not r["passed"]]
    failures = "".join(f"<li><code>{_e(r['id'])}</code>: {_e('; '.join(r['reasons']))}</li>" for r in failed)
    errors = _errors_figure(records, rt)
    body = [
        "<h1>rnn2onnx conformance</h1>",
        f"<p class=\"meta\">Generated {_e(meta['generated'])} by <code>{_e(meta['command'])}</code> "
        f"({meta['seconds']:.0f} s). Versions: {_e(versions)}.</p>",
        '<div id="script-errors" hidden></div>',
        f"<p class=\"summary\"><b>{summary['cases']} cases: {summary['passed']} passed, "
        f"<span class=\"{'fail' if summary['failed'] else ''}\">{summary['failed']} failed</span></b> "
        f"on {_e(', '.join(rt))}.</p>",
        f"<ul>{skipped}</ul>" if skipped else "",
        f"<h2>Failures</h2><ul>{failures}</ul>" if failures else "",
        '<nav><a href="#compatibility">Compatibility</a><a href="#rejections">Rejections</a>'
        '<a href="#errors">Errors</a><a href="#bench">Benchmark</a></nav>',
        '<h2 id="compatibility">Compatibility: runtime × form × dtype × target, per mask</h2>',
        _compatibility_section(records, summary, rt),
        '<h2 id="rejections">Rejections</h2>', _rejections_section(summary),
        '<h2 id="errors">Relative errors per runtime and dtype</h2>',
        "<p>Each point is one case's <code>max |onnx - expected| / max |expected|</code> (at least 1 in float32) "
        "on one runtime; the box spans the quartiles. Model matrix and peer vectors together; "
        f"<i>reference</i> is our NumPy reference on the peer vectors. Exact results (0) are drawn at {ZERO_AT:.0e}. "
        "Hover a point for its case.</p>",
        _figure_html(errors, "errors-chart") if errors else "<p>No errors were measured.</p>",
        '<h2 id="bench">Benchmark: <code>rnn2onnx bench</code> ratios</h2>',
        _bench_section(bench, bench_path),
        "<p class=\"meta\">The same run as <code>conformance.md</code> and <code>conformance.json</code> beside "
        "this page; every case with its forms, errors and messages is there.</p>",
    ]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>rnn2onnx conformance</title><style>{CSS}</style>"
            f"<script>{ERROR_CAPTURE}</script>"
            f"<script type=\"text/javascript\">{get_plotlyjs()}</script></head>\n<body>\n"
            + "\n".join(body) + "\n</body></html>\n")


def write_html(out_dir, records, summary, runtime_names, meta, bench=None, bench_path=None):
    """Write conformance.html into out_dir (atomically); returns its path."""
    path = os.path.join(out_dir, "conformance.html")
    write_atomic(path, format_html(records, summary, runtime_names, meta, bench, bench_path))
    return path
