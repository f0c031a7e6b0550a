"""The one-way house: serving and the app never import learning, and nothing imports in a cycle.

``core`` is checked by import-linter's contracts (``.importlinter``). The pages and ``streamlit_app.py``
are scripts, not a package (``how-it-works.py`` is not even a module name), so their imports are
read from the source here with the same rules. Then the real thing: importing every serving and app
module and running every page loads none of the training libraries.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TRAINING_LIBRARIES = ("tensorflow", "keras", "tf_keras", "librosa", "numba", "sklearn", "matplotlib")
SCRIPTS = [ROOT / "streamlit_app.py", *sorted((ROOT / "pages").glob("*.py"))]


def imported_modules(source: str) -> set[str]:
    """Every module a Python source imports, at any depth (``from a.b import c`` gives ``a.b`` and ``a.b.c``)."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def forbidden_for_app(module: str) -> bool:
    """What the app may not import: learning, and the libraries only training needs."""
    top = module.split(".")[0]
    return module == "core.learn" or module.startswith("core.learn.") or top in TRAINING_LIBRARIES


def lint_imports(folder: Path) -> subprocess.CompletedProcess:
    """Run import-linter with ``folder``'s ``.importlinter`` on the packages in ``folder``."""
    pytest.importorskip("importlinter", reason="import-linter is in requirements-dev.txt")
    code = "import sys; from importlinter.cli import lint_imports; sys.exit(lint_imports(no_cache=True, no_logo=True))"
    return subprocess.run([sys.executable, "-c", code], cwd=folder, capture_output=True, text=True)


def test_import_linter_contracts_hold():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 kept, 0 broken" in result.stdout


@pytest.mark.parametrize("importer, imported", [
    ("core/serve/decoding.py", "core.learn.training"),      # serving reaching into learning
    ("core/app/drawing.py", "core.learn.training"),         # the app reaching into learning
    ("core/serve/decoding.py", "librosa"),                  # a training library at run time
    ("core/learn/training.py", "core.learn.evaluating"),    # a cycle (evaluating imports training)
])
def test_import_linter_contracts_catch_a_wrong_import(tmp_path, importer, imported):
    for module in ("core/__init__.py", "core/predict.py", "core/serve/__init__.py", "core/serve/decoding.py",
                   "core/learn/__init__.py", "core/learn/training.py", "core/app/__init__.py", "core/app/drawing.py",
                   "core/learn/evaluating.py"):
        (tmp_path / module).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / module).write_text("")
    (tmp_path / "core/learn/evaluating.py").write_text("import core.learn.training\n")
    shutil.copyfile(ROOT / ".importlinter", tmp_path / ".importlinter")
    assert lint_imports(tmp_path).returncode == 0
    (tmp_path / importer).write_text(f"import {imported}\n")
    result = lint_imports(tmp_path)
    assert result.returncode == 1 and "BROKEN" in result.stdout.upper(), result.stdout


def test_imported_modules_reads_every_form():
    source = "import a.b\nfrom c import d\nfrom .e import f\ndef g():\n    from core.learn import train\n"
    assert imported_modules(source) == {"a.b", "c", "c.d", "core.learn", "core.learn.train"}
    assert forbidden_for_app("core.learn.train") and forbidden_for_app("tensorflow.keras")
    assert not forbidden_for_app("core.serve.inference") and not forbidden_for_app("core.learner")


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda path: path.name)
def test_app_scripts_never_import_learning(script):
    bad = sorted(filter(forbidden_for_app, imported_modules(script.read_text())))
    assert not bad, f"{script.name} imports {bad}"


def test_serving_and_every_page_load_no_training_library():
    code = f"""
import importlib, json, pkgutil, sys
import core.app, core.serve
for package in (core.serve, core.app):
    for module in pkgutil.iter_modules(package.__path__, package.__name__ + "."):
        importlib.import_module(module.name)
importlib.import_module("core.predict")
from streamlit.testing.v1 import AppTest
at = AppTest.from_file("streamlit_app.py", default_timeout=120).run()
for page in {[str(path.relative_to(ROOT)) for path in SCRIPTS[1:] if not path.name.startswith("_")]!r}:
    at.switch_page(page).run()
    assert not at.exception, (page, [e.value for e in at.exception])
print(json.dumps(sorted(name for name in sys.modules if name.split(".")[0] in {TRAINING_LIBRARIES!r})))
"""
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == "[]"
