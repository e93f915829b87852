"""The generated documentation (rnn2onnx/docs.py) is current, and the README stays short."""
import os

from rnn2onnx import docs

ROOT = os.path.dirname(docs.DOCS)


def test_generated_pages_are_current():
    assert docs.stale() == [], "run: python -m rnn2onnx.docs"


def test_a_stale_page_is_named(tmp_path):
    for name in os.listdir(docs.DOCS):
        with open(os.path.join(docs.DOCS, name), encoding="utf-8") as f:
            (tmp_path / name).write_text(f.read(), encoding="utf-8")
    page = tmp_path / "runtimes.md"
    page.write_text(page.read_text(encoding="utf-8").replace("| onnxruntime |", "| onnxruntime-old |"), encoding="utf-8")
    assert docs.stale(str(tmp_path)) == ["runtimes.md"]


def test_readme_is_short_and_links_existing_pages():
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        text = f.read()
    assert len(text.splitlines()) <= 150
    for target in set(part.split(")")[0] for part in text.split("](docs/")[1:]):
        assert os.path.exists(os.path.join(docs.DOCS, target.split("#")[0])), target
