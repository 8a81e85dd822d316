"""Which project files each DVC stage runs: the transitive pano360 imports of its script.

Read from the source (AST), so imports inside functions count too, and nothing is executed.
"""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _module_file(module: str) -> Path | None:
    base = ROOT.joinpath(*module.split("."))
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    return None


def _package_inits(module: str) -> list[Path]:
    parts = module.split(".")
    return [ROOT.joinpath(*parts[:i], "__init__.py") for i in range(1, len(parts) + 1)
            if ROOT.joinpath(*parts[:i], "__init__.py").is_file()]


def _imports(path: Path) -> set[str]:
    """pano360 modules imported anywhere in ``path`` (absolute and relative imports)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = list(path.relative_to(ROOT).parts[:-1])  # the package a relative import starts from
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "pano360"}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if mod.split(".")[0] != "pano360":
                continue
            found.add(mod)
            for alias in node.names:  # `from pano360.evaluation.plots import evaluation` imports a module
                if _module_file(f"{mod}.{alias.name}"):
                    found.add(f"{mod}.{alias.name}")
    return found


def stage_script(cmd: str) -> str:
    """``python -m stages.train`` -> ``stages/train.py``."""
    words = cmd.split()
    assert words[:2] == ["python", "-m"], cmd
    return words[2].replace(".", "/") + ".py"


def stage_files(script: str | Path) -> set[str]:
    """Repo-relative paths of ``script`` and every project file it imports, transitively
    (with the ``__init__.py`` of the package a script in one runs as ``python -m``)."""
    script = ROOT / script
    seen: set[Path] = {script}
    if (script.parent / "__init__.py").is_file():
        seen.add(script.parent / "__init__.py")
    todo = list(seen)
    while todo:
        for module in _imports(todo.pop()):
            for f in [*_package_inits(module), _module_file(module)]:
                if f is not None and f not in seen:
                    seen.add(f)
                    todo.append(f)
    return {str(p.relative_to(ROOT)) for p in seen}


def expand(deps: list[str]) -> set[str]:
    """Code deps of a dvc.yaml stage, folders expanded to their .py files."""
    out = set()
    for dep in deps:
        if not (dep.startswith("pano360") or dep.startswith("stages")):
            continue
        path = ROOT / dep
        if path.is_dir():
            out |= {str(p.relative_to(ROOT)) for p in path.rglob("*.py")}
        else:
            out.add(dep)
    return out


def code_deps(script: str) -> list[str]:
    """What dvc.yaml should list: the script, then the modules; the heads package, when every
    module of it is imported, as one folder."""
    files = stage_files(script)
    heads = ROOT / "pano360/model/heads"
    folders = {str(heads.relative_to(ROOT))} if {str(f.relative_to(ROOT)) for f in heads.rglob("*.py")} <= files \
        else set()
    listed = sorted(f for f in files if not any(f.startswith(d + "/") for d in folders) and f != script)
    return [script] + sorted(listed + sorted(folders))


def rewrite_dvc_yaml(path: Path = ROOT / "dvc.yaml") -> None:
    """Replace each stage's code deps in dvc.yaml (text edit: comments and layout stay)."""
    import re
    import yaml
    stages = yaml.safe_load(path.read_text())["stages"]
    lines = path.read_text().splitlines()
    out, stage, in_deps = [], None, False
    for line in lines:
        m = re.match(r"^  (\w+):\s*$", line)
        if m and m.group(1) in stages:
            stage = m.group(1)
        if re.match(r"^    deps:\s*$", line):
            in_deps = True
            out.append(line)
            out += [f"      - {d}" for d in code_deps(stage_script(stages[stage]["cmd"]))]
            continue
        if in_deps and re.match(r"^      - (pano360|stages)/", line):
            continue
        if in_deps and not line.startswith("      - "):
            in_deps = False
        out.append(line)
    path.write_text("\n".join(out) + "\n")


if __name__ == "__main__":
    import sys
    if sys.argv[1:] == ["--write-dvc-yaml"]:  # after changing imports: python tests/stage_imports.py --write-dvc-yaml
        rewrite_dvc_yaml()
    else:
        for script in sys.argv[1:]:
            print(script, code_deps(script))
