"""The README's "Using your own data" steps, run literally on a fresh clone."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from pano360.data.demo import generate
from pano360.labels.table import load_labels

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
VENV = Path(sys.executable).parents[1]  # the venv running the tests (not the interpreter it links to)


def own_data_block() -> str:
    text = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- own-data:begin.*?```bash\n(.*?)```\n<!-- own-data:end -->", text, re.S)
    assert block, "README lost its own-data block"
    return block.group(1)


def run(args, cwd, env, **kw):
    out = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, **kw)
    assert out.returncode == 0, f"{args}: {out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    return out


def test_own_data_steps_work_literally_on_a_fresh_clone_with_a_csv(tmp_path):
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t", GIT_COMMITTER_NAME="t",
               GIT_COMMITTER_EMAIL="t@t", DVC_NO_ANALYTICS="1", DVC_STUDIO_OFFLINE="true")
    # the repository as it would be published: its tracked and not-ignored files, committed
    origin = tmp_path / "origin"
    files = run(["git", "ls-files", "-co", "--exclude-standard"], ROOT, env).stdout.split()
    for name in files:
        if (ROOT / name).is_file():
            (origin / name).parent.mkdir(parents=True, exist_ok=True)
            (origin / name).write_bytes((ROOT / name).read_bytes())
    run(["git", "init", "-q", "-b", "main"], origin, env)
    run(["git", "add", "-A"], origin, env)
    run(["git", "commit", "-qm", "published"], origin, env)
    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(origin), str(clone)], tmp_path, env)
    # The user's data: panoramas, and labels as a CSV whose `image` column holds half names.
    mine = tmp_path / "mine"
    generate(mine, count=12, width=256, seed=11)
    table = load_labels(mine / "labels.ndjson").frame
    classes = [c for c in table.columns if c not in ("image", "panorama")]
    lines = ["image,labels"] + [f"{r['image']},{';'.join(c for c in classes if r[c])}" for r in table.to_dict("records")]
    (mine / "labels.csv").write_text("\n".join(lines) + "\n")
    # `make install` would build a 5 GB venv: give the clone this one, already installed.
    (clone / ".venv").symlink_to(VENV)
    script = own_data_block()
    script = script.replace("/path/to/your/panoramas", str(mine / "panoramas"))
    script = script.replace("/path/to/your/labels.ndjson", str(mine / "labels.csv"))
    env["PYTHONPATH"] = str(clone)
    os.utime(VENV / ".installed") if (VENV / ".installed").exists() else (VENV / ".installed").touch()
    out = run(["bash", "-euo", "pipefail", "-c", script], clone, env, timeout=900)
    assert "Running stage 'evaluate'" in out.stdout
    assert "labels.csv" in out.stdout  # load_labels found the CSV by its name
    assert (clone / "metrics/test.json").is_file()
    status = run(["git", "status", "--porcelain"], clone, env).stdout
    assert "data/raw.dvc" not in status  # committed by the steps
    # the demo's kept splits and class columns were cleared with its data: only the user's remain
    import pandas as pd
    assert sorted(pd.read_csv(clone / "data/partition.csv")["panorama"]) == sorted(table["panorama"].unique())
    assert sorted(pd.read_csv(clone / "data/classes.csv")["column"]) == sorted(classes)
