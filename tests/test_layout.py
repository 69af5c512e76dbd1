"""Package layout: the library never imports Qt; the app installs as live_explain.ui."""

import subprocess
import sys
from pathlib import Path

LIBRARY = Path(__file__).resolve().parents[1] / "live_explain"


def test_library_never_imports_qt():
    offenders = [
        str(path)
        for path in LIBRARY.rglob("*.py")
        if "PyQt" in path.read_text() or "PySide" in path.read_text()
    ]
    assert offenders == []
    code = (
        "import sys, live_explain.cli.main, live_explain.realtime.pipeline, "
        "live_explain.io.recognise, live_explain.sinks.video, live_explain.model.loading, "
        "live_explain.render.overlay;"
        "assert not [m for m in sys.modules if m.startswith(('PyQt', 'PySide'))]"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_ui_installs_inside_the_package(tmp_path):
    code = (
        "import importlib.util, live_explain.ui;"
        "assert importlib.util.find_spec('ui') is None, 'bare top-level ui module'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=tmp_path)


def test_every_subpackage_is_listed_for_installation():
    tomllib = __import__("pytest").importorskip("tomllib")
    root = LIBRARY.parent
    config = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    found = {
        ".".join(init.parent.relative_to(root).parts)
        for init in LIBRARY.rglob("__init__.py")
        if "__pycache__" not in init.parts
    }
    found.add("live_explain.ui")  # ui/ is mapped into the package namespace
    assert found <= listed, f"missing from pyproject packages: {sorted(found - listed)}"
