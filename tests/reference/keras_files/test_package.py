"""The readers build no model and the models read no file: imports go one way only."""
import ast
import os

import reference
import reference.keras_files as keras_files

REFERENCE = os.path.dirname(reference.__file__)


def _imported(path):
    tree = ast.parse(open(path).read())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            module = node.module or ""
            names.add(module.split(".")[-1] if module else "")
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.Import):
            names |= {a.name.split(".")[-1] for a in node.names}
    return names, tree


def test_the_readers_import_no_model():
    folder = os.path.dirname(keras_files.__file__)
    for name in sorted(os.listdir(folder)):
        if name.endswith(".py"):
            imported, _ = _imported(os.path.join(folder, name))
            assert not imported & {"models", "containers", "training", "build"}, (name, imported)


def test_the_models_import_no_builder_and_no_module_shim():
    for name in ("models.py", "containers.py", "layers.py"):
        imported, tree = _imported(os.path.join(REFERENCE, name))
        assert "build" not in imported, name
        assert not [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "__getattr__"], name
    assert not os.path.exists(os.path.join(REFERENCE, "legacy.py"))
