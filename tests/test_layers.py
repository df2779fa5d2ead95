"""The layer rules of the README's Layout section, for every import of every module of the
package, those inside functions included (ast, not the imported module's attributes)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parent.parent / "kvmcluster"

# layer -> module prefixes it must not import (a prefix also forbids its submodules)
FORBIDDEN = {
    "parsers": ("kvmcluster.sources", "kvmcluster.runtime", "kvmcluster.rules",
                "kvmcluster.checks", "kvmcluster.status", "kvmcluster.output",
                "nagiosplugin", "subprocess", "glob", "io", "psutil", "libvirt"),
    "rules": ("kvmcluster.sources", "kvmcluster.parsers", "kvmcluster.runtime",
              "kvmcluster.checks", "kvmcluster.status", "kvmcluster.output",
              "nagiosplugin", "subprocess", "glob", "io", "os", "psutil", "libvirt"),
    "model": ("kvmcluster.sources", "kvmcluster.parsers", "kvmcluster.runtime",
              "kvmcluster.rules", "kvmcluster.checks", "kvmcluster.status",
              "kvmcluster.output", "nagiosplugin", "subprocess", "psutil", "libvirt"),
    "sources": ("kvmcluster.rules", "kvmcluster.checks", "kvmcluster.status",
                "kvmcluster.output", "nagiosplugin"),
    "output": ("kvmcluster.sources", "kvmcluster.parsers", "kvmcluster.rules",
               "kvmcluster.checks", "subprocess", "psutil", "libvirt"),
}  # fmt: skip
# what a source must not import from the model: the names that make a state
STATE_NAMES = {"State", "Finding", "Report", "Verdict"}


def imports(path: Path) -> list[tuple[int, str, tuple[str, ...]]]:
    """(line, module, names) of every import statement in the file, at any depth."""
    tree = ast.parse(path.read_text(), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, ()) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module, tuple(a.name for a in node.names)))
    return found


def _forbidden(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def modules(layer: str) -> list[Path]:
    return sorted((PACKAGE / layer).glob("*.py")) if (PACKAGE / layer).is_dir() else []


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_no_module_of_a_layer_imports_what_the_layer_rules_forbid(layer):
    crossings = []
    for path in modules(layer):
        for line, module, names in imports(path):
            if _forbidden(module, FORBIDDEN[layer]):
                crossings.append(f"{path.relative_to(PACKAGE.parent)}:{line}: import {module}")
            made = STATE_NAMES & set(names)
            if layer == "sources" and module == "kvmcluster.model.findings" and made:
                crossings.append(
                    f"{path.relative_to(PACKAGE.parent)}:{line}: a source makes a state "
                    f"({', '.join(sorted(made))})"
                )
    assert not crossings, "\n".join(crossings)


def test_the_check_finds_an_import_inside_a_function(tmp_path):
    path = tmp_path / "m.py"
    path.write_text("def f():\n    from kvmcluster.sources.node import LocalNode\n")
    assert (2, "kvmcluster.sources.node", ("LocalNode",)) in imports(path)


def test_every_layer_of_the_rules_exists_and_the_readme_describes_it():
    layout = (PACKAGE.parent / "README.md").read_text().split("## Layout", 1)[1]
    for layer in FORBIDDEN:
        if layer == "output" and not (PACKAGE / "output").is_dir():
            continue
        assert modules(layer), layer
        assert f"  {layer}/" in layout, f"README Layout does not describe {layer}/"


# words a model must not write: the first line, the OK line, a headline, perfdata text
PRESENTATION = {"summary", "summary_line", "ok_summary", "headline_text", "text", "perf_text",
                "quote_label", "value_text", "row_text", "template", "quoted_template"}  # fmt: skip


def _presentation_in(path: Path) -> list[str]:
    """Functions, methods, properties and class attributes of the file named for presentation,
    and any function whose body builds an f-string ending in ' OK' or a perfdata '=' text."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name in PRESENTATION:
            found.append(f"{path.name}:{node.lineno}: def {node.name}")
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            if node.target.id in PRESENTATION | {"headline", "ok"} and _is_str(node.annotation):
                found.append(f"{path.name}:{node.lineno}: {node.target.id}: str")
        elif isinstance(node, ast.JoinedStr):
            tail = node.values[-1] if node.values else None
            if isinstance(tail, ast.Constant) and str(tail.value).endswith((" OK", " degraded")):
                found.append(f"{path.name}:{node.lineno}: a status line")
    return found


def _is_str(annotation: ast.expr) -> bool:
    return isinstance(annotation, ast.Name | ast.Constant) and getattr(
        annotation, "id", getattr(annotation, "value", None)
    ) in ("str", "str | None")


def test_the_model_holds_data_only_no_presentation():
    """Status lines, OK summaries, headlines and perfdata text are the output layer's:
    the model's records carry facts (Summary kinds and facts, Perf fields)."""
    found = [hit for path in modules("model") for hit in _presentation_in(path)]
    assert not found, "\n".join(found)


def test_the_presentation_check_finds_a_status_line(tmp_path):
    path = tmp_path / "m.py"
    path.write_text(
        "class Report:\n    ok_summary: str = ''\n\n"
        "    def summary(self):\n        return f'{len(self.findings)} resources OK'\n"
    )
    assert len(_presentation_in(path)) == 3
