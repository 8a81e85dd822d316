"""The tree shows the pipeline: pano360's packages follow its steps, and imports only run down
this order (a module uses its own package and the ones listed before it), never in a circle:

    errors, params, io, progress  <  data  <  labels  <  model  <  evaluation  <  use  <  training
                                  <  stage, cli, sample (entry points and the sample workspace)
"""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAYERS = [{"errors", "params", "io", "progress"}, {"data"}, {"labels"}, {"model"}, {"evaluation"}, {"use"},
          {"training"}, {"stage", "cli", "__main__", "sample"}]


def layer(module: str) -> int:
    top = module.split(".")[1] if module.count(".") else ""
    return next(i for i, names in enumerate(LAYERS) if top in names)


def modules() -> dict[str, set[str]]:
    """Every pano360 module and the pano360 modules it imports (anywhere in it)."""
    graph = {}
    for path in (ROOT / "pano360").rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level:
                raise AssertionError(f"{path}: relative import; write pano360.… in full")
            names = [node.module] if isinstance(node, ast.ImportFrom) else \
                [a.name for a in node.names] if isinstance(node, ast.Import) else []
            found |= {n for n in names if n and n.startswith("pano360.")}
        graph[name] = found
    return graph


def test_every_module_belongs_to_a_layer():
    for name in modules():
        if name != "pano360":
            layer(name)


def test_imports_run_down_the_pipeline_only():
    upward = [f"{name} imports {dep}" for name, deps in modules().items() if name != "pano360"
              for dep in deps if layer(dep) > layer(name)]
    assert not upward, "\n".join(upward)


def test_no_import_circle():
    graph = modules()
    state: dict[str, int] = {}

    def visit(node, path):
        state[node] = 1
        for dep in graph[node]:
            dep = dep if dep in graph else dep.rsplit(".", 1)[0]  # `import pano360.x.y as z` forms
            if state.get(dep) == 1:
                raise AssertionError("import circle: " + " -> ".join(path + [dep]))
            if dep in graph and not state.get(dep):
                visit(dep, path + [dep])
        state[node] = 2

    for name in graph:
        if not state.get(name):
            visit(name, [name])


def test_no_module_over_500_lines():
    long = {str(p.relative_to(ROOT)): p.read_text().count("\n") for p in (ROOT / "pano360").rglob("*.py")}
    assert not {p: n for p, n in long.items() if n > 500}
