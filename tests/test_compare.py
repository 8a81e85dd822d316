"""`pano360 compare`: paired bootstrap comparison of runs' test predictions."""
import numpy as np
import pandas as pd
import pytest

from pano360.cli import main
from pano360.use.inference import score_table

CLASSES = ["car", "tree", "sign"]


def predictions(tmp_path, name, probs, targets, n_pano):
    ids = pd.DataFrame({"image": [f"p{i // 2:03d}_{'left' if i % 2 == 0 else 'right'}.jpg" for i in range(2 * n_pano)],
                        "panorama": [f"p{i // 2:03d}" for i in range(2 * n_pano)]})
    path = tmp_path / f"{name}.csv"
    score_table(ids, probs, np.full(len(CLASSES), 0.5), CLASSES, targets).to_csv(path, index=False)
    return path


@pytest.fixture
def runs(tmp_path):
    rng = np.random.default_rng(0)
    n = 30
    targets = (rng.random((2 * n, 3)) < 0.4).astype(int)
    weak = np.clip(targets * 0.3 + rng.random((2 * n, 3)) * 0.7, 0, 1)
    strong = np.clip(targets * 0.6 + rng.random((2 * n, 3)) * 0.4, 0, 1)
    return {"weak": predictions(tmp_path, "weak", weak, targets, n),
            "weak_copy": predictions(tmp_path, "weak_copy", weak, targets, n),
            "strong": predictions(tmp_path, "strong", strong, targets, n), "targets": targets}


def test_identical_runs_are_indistinguishable(runs, capsys):
    assert main(["compare", str(runs["weak"]), str(runs["weak_copy"]), "--resamples", "200"]) == 0
    out = capsys.readouterr().out
    # equal on every resample is a tie, not "B wins 0 %" (which reads as "A always wins")
    assert "mAP" in out and "+0.0000  [+0.0000, +0.0000]     tie" in out and "0.0%" not in out


def test_a_clearly_better_run_wins_and_the_table_says_so(runs, capsys, tmp_path):
    assert main(["compare", str(runs["weak"]), str(runs["strong"]), "--resamples", "300",
                 "--json", str(tmp_path / "r.json")]) == 0
    import json
    result = json.loads((tmp_path / "r.json").read_text())
    assert result["difference"]["mAP"]["low"] > 0 and result["difference"]["mAP"]["b_wins"] > 0.97
    assert set(result["class_AP"]) == set(CLASSES)
    assert "car" in capsys.readouterr().out


def test_several_runs_mark_those_indistinguishable_from_the_best(runs, capsys):
    assert main(["compare", str(runs["weak"]), str(runs["weak_copy"]), str(runs["strong"]),
                 "--resamples", "200"]) == 0
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines() if line.startswith(str(runs["weak"].parent))}
    assert "*" in rows[str(runs["strong"])].split("[")[0]
    assert "*" not in rows[str(runs["weak"])].split("[")[0]


def test_runs_on_different_test_sets_are_refused(runs, tmp_path, capsys):
    frame = pd.read_csv(runs["strong"]).iloc[2:]
    frame.to_csv(tmp_path / "fewer.csv", index=False)
    assert main(["compare", str(runs["weak"]), str(tmp_path / "fewer.csv")]) == 1
    assert "scored on different halves" in capsys.readouterr().err


def test_predictions_without_true_labels_are_refused(runs, tmp_path, capsys):
    frame = pd.read_csv(runs["strong"])
    frame.drop(columns=[c for c in frame.columns if c.startswith("true_")]).to_csv(tmp_path / "old.csv", index=False)
    assert main(["compare", str(runs["weak"]), str(tmp_path / "old.csv")]) == 1
    assert "with true labels" in capsys.readouterr().err


def test_an_unknown_run_is_named(runs, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["compare", str(runs["weak"]), "no-such-experiment"]) == 1
    assert "no-such-experiment" in capsys.readouterr().err


def test_runs_are_labelled_with_the_params_they_differ_in(runs):
    from pano360.evaluation.compare import compare, format_result, read_run
    weak, strong = read_run(str(runs["weak"])), read_run(str(runs["strong"]))
    weak.params = {"head": "fc", "train": {"lr": 0.005, "seed": 0}, "model": {"name": "test_resnet"}}
    strong.params = {"head": "csra", "train": {"lr": 0.01, "seed": 0}, "model": {"name": "test_resnet"}}
    two = format_result(compare([weak, strong], n_resamples=50))
    assert f"A = {weak.name} (head=fc, train.lr=0.005)" in two
    assert f"B = {strong.name} (head=csra, train.lr=0.01)" in two
    copy = read_run(str(runs["weak_copy"]))  # a predictions file: no params to show
    table = format_result(compare([weak, strong, copy], n_resamples=50))
    legend = table.split("runs differ in params.yaml:\n")[1].splitlines()
    assert [line.split() for line in legend] == [[weak.name, "head=fc,", "train.lr=0.005"],
                                                 [strong.name, "head=csra,", "train.lr=0.01"]]
    assert "seed" not in table and "test_resnet" not in table


def test_long_param_labels_still_fit_a_terminal(runs):
    """Four long keys (a nested timm kwarg among them) made a 125-column legend line."""
    from pano360.evaluation.compare import compare, format_result, read_run
    weak, strong = read_run(str(runs["weak"])), read_run(str(runs["strong"]))
    keys = ["evaluate.errors_per_class", "model.kwargs.head_hidden_size", "thresholds.target_precision",
            "train.augment.random_erasing", "train.early_stop_patience"]

    def nested(values):
        params = {}
        for key, value in zip(keys, values):
            *parents, leaf = key.split(".")
            node = params
            for part in parents:
                node = node.setdefault(part, {})
            node[leaf] = value
        return params
    weak.params, strong.params = nested([8, None, 0.9, 0.0, 8]), nested([4, 32, 0.85, 0.25, 10])
    copy = read_run(str(runs["weak_copy"]))
    weak.name, strong.name, copy.name = "grid-0", "wrath-pail", "copy"   # experiment names
    for text in (format_result(compare([weak, strong], n_resamples=20)),
                 format_result(compare([weak, strong, copy], n_resamples=20))):
        assert max(len(line) for line in text.splitlines()) <= 120, text
        assert "…" in text   # cut short, visibly


def test_split_val_compares_the_validation_predictions_and_warns_about_tuned_thresholds(runs, tmp_path, capsys,
                                                                                          monkeypatch):
    """Choosing among experiments happens on val (tune_thresholds' data/predictions/val.csv);
    test is reported once, for the chosen run."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data/predictions").mkdir(parents=True)
    assert main(["compare", "workspace", str(runs["strong"]), "--split", "val"]) == 1
    assert "data/predictions/val.csv does not exist in the workspace; run `dvc repro tune_thresholds`" \
        in capsys.readouterr().err
    (tmp_path / "data/predictions/val.csv").write_bytes(runs["weak"].read_bytes())
    (tmp_path / "data/predictions/test.csv").write_bytes(runs["strong"].read_bytes())
    assert main(["compare", "workspace", str(runs["strong"]), "--split", "val", "--resamples", "100",
                 "--json", str(tmp_path / "r.json")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("val set: 60 halves of 30 panoramas") and "optimistic" in out
    import json
    result = json.loads((tmp_path / "r.json").read_text())
    assert result["split"] == "val" and result["difference"]["mAP"]["point"] > 0   # the weak file vs strong
    # the default split is still test: the workspace is then the strong run itself
    assert main(["compare", "workspace", str(runs["strong"]), "--resamples", "50", "--json",
                 str(tmp_path / "t.json")]) == 0
    assert json.loads((tmp_path / "t.json").read_text())["difference"]["mAP"]["point"] == 0


def test_rescore_compares_models_of_two_rounds_on_the_current_test_split(trained_demo_root, tmp_path, capsys,
                                                                        monkeypatch):
    """Round 2's test split holds other panoramas (and a class round 1 never saw): each run's
    model scores the workspace's current test split, and the runs compare on the classes
    both know."""
    import json
    import shutil
    import torch
    from pano360.data.prepare import read_prepared
    from pano360.model.backbone import build_model, checkpoint_payload, data_config
    root = trained_demo_root
    (tmp_path / "data/processed").mkdir(parents=True)
    (tmp_path / "data/interim").mkdir(parents=True)
    shutil.copy(root / "test.csv", tmp_path / "data/processed/test.csv")
    (tmp_path / "data/interim/prepared").symlink_to(root / "prepared")
    shutil.copy(root / "prepared.json", tmp_path / "data/interim/prepared.json")
    # "round 1": an untrained model that never saw the last class, with its own thresholds file
    trained = torch.load(root / "model.pt", weights_only=False)
    classes = trained["classes"]
    torch.manual_seed(0)
    cfg = {"name": "test_resnet", "img_size": 64}
    old = build_model(cfg, "csra", {}, len(classes) - 1).eval()
    (tmp_path / "round1").mkdir()
    torch.save(checkpoint_payload(old, model_cfg=cfg, head_options={}, classes=classes[:-1],
                                  data_cfg=data_config(old, 64), prepare=read_prepared(root / "prepared.json")),
               tmp_path / "round1/model.pt")
    (tmp_path / "round1/thresholds.json").write_text(json.dumps(
        {"classes": classes[:-1], "thresholds": {c: 0.5 for c in classes[:-1]}}))
    monkeypatch.chdir(tmp_path)
    assert main(["compare", "round1/model.pt", str(root / "model.pt"), "--rescore", "--quiet", "--resamples", "200",
                 "--json", "r.json"]) == 0
    out = capsys.readouterr().out
    test = pd.read_csv(tmp_path / "data/processed/test.csv")
    assert out.startswith("each run's model rescored on the workspace's current test split")
    assert f"note: {root / 'model.pt'} also predicts {classes[-1]}: left out" in out
    assert f"test set: {len(test)} halves of {test['panorama'].nunique()} panoramas" in out
    result = json.loads((tmp_path / "r.json").read_text())
    assert result["classes"] == classes[:-1]
    assert result["difference"]["mAP"]["point"] > 0        # the trained model beats the untrained one
    # a model trained on halves prepared otherwise is refused with the reason, not mis-scored
    settings = json.loads((tmp_path / "data/interim/prepared.json").read_text())
    (tmp_path / "data/interim/prepared.json").write_text(json.dumps({**settings, "size": settings["size"] + 1}))
    assert main(["compare", "round1/model.pt", str(root / "model.pt"), "--rescore", "--quiet"]) == 1
    assert "round1/model.pt: data/interim/prepared holds halves prepared as" in capsys.readouterr().err
