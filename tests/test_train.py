import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import pano360.training.distributed as distributed
from pano360.sample import build_splits
from pano360.training.loop import Paths, TrainingError, train

HERE = Path(__file__).parent


@pytest.fixture(scope="module")
def splits(tmp_path_factory):
    return build_splits(tmp_path_factory.mktemp("data"), count=14, width=192, seed=5, min_scale=0.8)


def config(**train_overrides):
    t = {"seed": 0, "epochs": 2, "batch_size": 8, "lr": 0.003, "weight_decay": 0.01, "warmup_epochs": 1,
         "grad_accum": 1, "clip_grad": 1.0, "loss": "bce", "ema": False, "early_stop_patience": 0,
         "precision": "auto", "workers": 0, "monitor_system": False,
         "augment": {"scale": [0.8, 1.0], "ratio": [0.9, 1.1], "hflip": 0.5, "color_jitter": 0.1}}
    t.update(train_overrides)
    return {"head": "csra", "heads": {"csra": {"num_heads": 2, "lam": 0.1}},
            "model": {"name": "test_resnet", "pretrained": False, "img_size": 64}, "train": t}


def paths(data: Path, out: Path) -> Paths:
    return Paths(train_csv=str(data / "train.csv"), val_csv=str(data / "val.csv"),
                 image_dir=str(data / "prepared"), prepared=str(data / "prepared.json"), best=str(out / "model.pt"), last=str(out / "last.pt"),
                 resume_dir=str(out / "resume"), live_dir=str(out / "live"),
                 metrics=str(out / "train.json"))


def test_training_writes_checkpoints_and_dvclive_logs(splits, tmp_path):
    result = train(config(monitor_system=True, ema=True, ema_decay=0.9, grad_accum=2), paths(splits, tmp_path),
                   show_progress=False)
    assert result["epochs_run"] == 2 and 0 <= result["best_val_mAP"] <= 1
    for name in ("model.pt", "last.pt"):
        ckpt = torch.load(tmp_path / name, weights_only=False)
        assert ckpt["classes"] == result["classes"] and ckpt["head"] == "csra"
        assert ckpt["model"]["name"] == "test_resnet" and ckpt["data_config"]["input_size"] == [3, 64, 64]
        assert ckpt["head_options"] == {"num_heads": 2, "lam": 0.1}
    live = tmp_path / "live"
    assert json.loads((live / "metrics.json").read_text())["best_val_mAP"] == pytest.approx(result["best_val_mAP"])
    curves = live / "plots" / "metrics"
    for metric in ("train/loss", "val/loss", "val/mAP", "lr/head", "lr/backbone", "epoch_time_s", "train/images_per_s"):
        rows = (curves / f"{metric}.tsv").read_text().strip().splitlines()
        assert len(rows) == 3, metric           # header + 2 epochs
    system = list((curves / "system").rglob("*.tsv"))
    assert any("cpu" in str(p) for p in system) and any("ram" in str(p) for p in system)
    assert (live / "params.yaml").is_file()
    assert not (tmp_path / "resume").exists() or not any((tmp_path / "resume").iterdir())


def test_deterministic_on_cpu(splits, tmp_path):
    a = train(config(), paths(splits, tmp_path / "a"), show_progress=False)
    b = train(config(), paths(splits, tmp_path / "b"), show_progress=False)
    assert a["best_val_mAP"] == b["best_val_mAP"]
    sa = torch.load(tmp_path / "a/model.pt", weights_only=False)["state_dict"]
    sb = torch.load(tmp_path / "b/model.pt", weights_only=False)["state_dict"]
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    # byte for byte, or dvc.lock records another model hash on every run: torch.save names the
    # archive's folder after the file it writes, which was the random temporary name
    for name in ("model.pt", "last.pt"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_training_learns(tmp_path_factory):
    """Not only runs: on 80 demo panoramas (halves of 96 px) twenty epochs of the default head
    lift val mAP from chance level (0.34 after one epoch here) to about 0.7."""
    data = build_splits(tmp_path_factory.mktemp("learn"), count=80, width=192, seed=5, min_scale=0.8)
    cfg = config(lr=0.005)
    cfg["heads"], cfg["model"]["kwargs"] = {}, {"output_stride": 16}  # the defaults of params.yaml
    first = train({**cfg, "train": {**cfg["train"], "epochs": 1}}, paths(data, data / "one"), show_progress=False)
    learnt = train({**cfg, "train": {**cfg["train"], "epochs": 20}}, paths(data, data / "twenty"),
                   show_progress=False)
    assert first["best_val_mAP"] < 0.45
    assert learnt["best_val_mAP"] >= 0.6 and learnt["best_val_mAP"] >= first["best_val_mAP"] + 0.2


def test_the_schedule_counts_every_optimizer_step_when_grad_accum_does_not_divide(splits, tmp_path):
    """3 batches an epoch with grad_accum 2 take 2 optimizer steps (the last one shorter); the
    schedule counted 1, so its cosine ended half-way and the rest ran at the minimum lr."""
    train(config(epochs=2, batch_size=5, grad_accum=2), paths(splits, tmp_path), show_progress=False)
    rows = (tmp_path / "live/plots/metrics/lr/head.tsv").read_text().strip().splitlines()[1:]
    last_lr = float(rows[-1].split("\t")[-1])
    assert last_lr > 0.1 * 0.003  # the cosine's midpoint here (0.5 x lr); the minimum is 0.01 x lr


def test_nan_loss_stops_with_the_step_and_writes_nothing(splits, tmp_path, monkeypatch):
    monkeypatch.setattr("pano360.training.loop.build_loss", lambda *a, **k: lambda logits, y: logits.sum() * float("nan"))
    with pytest.raises(TrainingError, match=r"loss became nan at epoch 1, step 1"):
        train(config(), paths(splits, tmp_path), show_progress=False)
    assert not (tmp_path / "model.pt").exists() and not (tmp_path / "last.pt").exists()


def _spec(splits, out, **overrides):
    p = paths(splits, out)
    spec = {"cfg": config(**overrides), "paths": p.__dict__}
    (out).mkdir(parents=True, exist_ok=True)
    (out / "spec.json").write_text(json.dumps(spec))
    return out / "spec.json"


def _env():
    return dict(os.environ, PYTHONPATH=str(HERE.parent), PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")


def test_interrupted_run_resumes_from_last_epoch(splits, tmp_path):
    spec = _spec(splits, tmp_path, epochs=5)
    killed = json.loads(spec.read_text())
    killed["kill_after_epoch"] = 1  # dies after saving the state of epoch 2 of 5
    (tmp_path / "killed.json").write_text(json.dumps(killed))
    proc = subprocess.run([sys.executable, str(HERE / "train_entry.py"), str(tmp_path / "killed.json")],
                          cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-3000:]
    assert not (tmp_path / "model.pt").exists()
    out = subprocess.run([sys.executable, str(HERE / "train_entry.py"), str(spec)], cwd=tmp_path, env=_env(),
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "resuming run" in out.stdout
    resumed_at = int(out.stdout.split("resuming run ")[1].split("after epoch ")[1].split()[0])
    assert resumed_at >= 2
    result = json.loads(out.stdout.split("RESULT ")[1])
    assert result["epochs_run"] == 5
    # the replayed history gives full curves
    rows = (tmp_path / "live/plots/metrics/val/mAP.tsv").read_text().strip().splitlines()
    assert len(rows) == 6
    # and the result is exactly an uninterrupted run's: the same weights, tensor by tensor
    ref = train(config(epochs=5), paths(splits, tmp_path / "ref"), show_progress=False)
    assert result["best_val_mAP"] == ref["best_val_mAP"]
    for name in ("model.pt", "last.pt"):
        resumed = torch.load(tmp_path / name, weights_only=False)["state_dict"]
        uninterrupted = torch.load(tmp_path / "ref" / name, weights_only=False)["state_dict"]
        assert resumed.keys() == uninterrupted.keys()
        assert all(torch.equal(resumed[k], uninterrupted[k]) for k in resumed), name


def test_an_unreadable_resume_state_is_reported_and_training_starts_afresh(splits, tmp_path):
    """A truncated state (disk full, a copy cut short) used to crash the stage on every run."""
    spec = _spec(splits, tmp_path, epochs=3)
    killed = json.loads(spec.read_text())
    killed["kill_after_epoch"] = 0
    (tmp_path / "killed.json").write_text(json.dumps(killed))
    subprocess.run([sys.executable, str(HERE / "train_entry.py"), str(tmp_path / "killed.json")],
                   cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=300)
    (state,) = (tmp_path / "resume").glob("*.pt")
    state.write_bytes(state.read_bytes()[:1000])
    out = subprocess.run([sys.executable, str(HERE / "train_entry.py"), str(spec)], cwd=tmp_path, env=_env(),
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert f"the resume state {state} cannot be used" in out.stdout and "starting from epoch 1" in out.stdout
    assert json.loads(out.stdout.split("RESULT ")[1])["epochs_run"] == 3


def test_resume_state_is_read_on_the_cpu_whatever_the_training_device(splits, tmp_path, monkeypatch):
    """On a GPU the state was loaded onto the GPU, and torch.set_rng_state refuses a CUDA tensor:
    every resume crashed. Loading onto "meta" shows the same on a CPU machine."""
    from pano360.training.resume import ResumeState
    ResumeState().save(tmp_path / "s.pt", torch.nn.Linear(2, 2), torch.optim.SGD(torch.nn.Linear(2, 2).parameters()),
                       torch.amp.GradScaler("cpu", enabled=False), None)
    real_load = torch.load
    monkeypatch.setattr(torch, "load", lambda *a, map_location=None, **k: real_load(
        *a, map_location="meta" if map_location != "cpu" else "cpu", **k))
    state = ResumeState.read(tmp_path / "s.pt")
    assert state["torch_rng"].device.type == "cpu"


CONVNEXT_MLP = {"name": "test_convnext", "pretrained": False, "img_size": 64, "kwargs": {"head_hidden_size": 32}}


@pytest.mark.parametrize("grad_accum, model", [(2, None), (1, CONVNEXT_MLP)], ids=["grad_accum_2", "unused_params"])
def test_ddp_two_cpu_processes_gloo(splits, tmp_path, grad_accum, model):
    """grad_accum 2 under DDP used to crash at the first micro-batch that skips the gradient
    sync: no_sync() is one context manager, and it was entered twice (forward, backward).
    A backbone keeping parameters the forward pass never uses (ConvNeXt's MLP pre-logits in
    its classifier head) crashed DDP at step 2: "Expected to have finished reduction"."""
    spec = _spec(splits, tmp_path, epochs=1, grad_accum=grad_accum)
    if model:
        cfg = json.loads(spec.read_text())
        cfg["cfg"]["model"] = model
        spec.write_text(json.dumps(cfg))
    torchrun = Path(sys.executable).parent / "torchrun"
    out = subprocess.run([str(torchrun), "--standalone", "--nproc_per_node=2", str(HERE / "train_entry.py"),
                          str(spec)], cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert json.loads((tmp_path / "result_rank1.json").read_text()) == {}   # rank 1 returns nothing
    assert "best_val_mAP" in json.loads((tmp_path / "result_rank0.json").read_text())
    assert out.stdout.count("train: epoch 1/1") == 1   # only rank 0 logs
    assert (tmp_path / "model.pt").is_file() and (tmp_path / "live/metrics.json").is_file()


def test_collective_tensors_live_on_the_training_device(monkeypatch):
    """NCCL takes CUDA tensors only; a CPU tensor in a collective crashes multi-GPU training at
    the first epoch end. On a CPU the training device is the default one, so make the default
    another (meta): a tensor created without the training device then shows up."""
    calls = []
    monkeypatch.setattr(distributed.dist, "broadcast", lambda tensor, src: calls.append(tensor.device))
    with torch.device("meta"):
        assert distributed.broadcast_flag(True, torch.device("cpu"), world=2) is True
    assert calls == [torch.device("cpu")]


def test_two_processes_train_exactly_like_one(splits, tmp_path):
    """train.batch_size is the global batch and each sample's augmentation is seeded by
    (seed, epoch, sample): two DDP processes must reach one process's validation results.
    A model without batch norm (test_vit): BN statistics are per process by design."""
    cfg = dict(epochs=2, batch_size=8, early_stop_patience=0)
    spec = json.loads(_spec(splits, tmp_path / "one", **cfg).read_text())
    for run in ("one", "two"):
        spec["cfg"]["model"] = {"name": "test_vit", "pretrained": False, "img_size": 64, "kwargs": {}}
        spec["cfg"]["head"] = "fc"
        spec["paths"] = paths(splits, tmp_path / run).__dict__
        (tmp_path / run).mkdir(exist_ok=True)
        (tmp_path / run / "spec.json").write_text(json.dumps(spec))
    one = subprocess.run([sys.executable, str(HERE / "train_entry.py"), str(tmp_path / "one/spec.json")],
                         cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=300)
    torchrun = Path(sys.executable).parent / "torchrun"
    two = subprocess.run([str(torchrun), "--standalone", "--nproc_per_node=2", str(HERE / "train_entry.py"),
                          str(tmp_path / "two/spec.json")], cwd=tmp_path, env=_env(), capture_output=True,
                         text=True, timeout=300)
    assert one.returncode == 0 and two.returncode == 0, one.stderr[-2000:] + two.stderr[-2000:]
    a = json.loads((tmp_path / "one/result_rank0.json").read_text())
    b = json.loads((tmp_path / "two/result_rank0.json").read_text())
    assert a["best_val_mAP"] == pytest.approx(b["best_val_mAP"], abs=1e-4)
    curve = [(tmp_path / run / "live/plots/metrics/val/loss.tsv").read_text().splitlines()[1:] for run in ("one", "two")]
    for row_a, row_b in zip(*curve):
        assert float(row_a.split("\t")[-1]) == pytest.approx(float(row_b.split("\t")[-1]), rel=1e-4)


def test_inference_runs_at_the_precision_training_validated_in(splits, tmp_path):
    """tune_thresholds, evaluate and predict ran under autocast "auto" whatever train.precision
    said (bf16 on a GPU even for a model validated in fp32), so their scores differed from the
    val mAP training reported. A CPU shows it with train.precision bf16: validation ran in bf16,
    inference in fp32."""
    import numpy as np
    import pandas as pd
    from pano360.data.dataset import HalfImages, build_transform
    from pano360.data.prepare import read_prepared, stored_names
    from pano360.model.backbone import load_checkpoint
    from pano360.use.inference import predict, split_probabilities
    train(config(epochs=1, precision="bf16"), paths(splits, tmp_path), show_progress=False)
    ckpt = torch.load(tmp_path / "model.pt", weights_only=False)
    assert ckpt["precision"] == "bf16"
    val = pd.read_csv(splits / "val.csv")
    probs, _, classes = split_probabilities(tmp_path / "model.pt", val, splits / "prepared", splits / "prepared.json",
                                            show_progress=False)
    model, _ = load_checkpoint(tmp_path / "model.pt")
    names = stored_names(val["image"], read_prepared(splits / "prepared.json"))
    loader = torch.utils.data.DataLoader(HalfImages(val, splits / "prepared", classes,
                                                    build_transform(ckpt["data_config"], False), names), batch_size=8)
    as_validated, _, _ = predict(model, loader, torch.device("cpu"), torch.bfloat16, show=False)
    in_fp32, _, _ = predict(model, loader, torch.device("cpu"), None, show=False)
    assert np.abs(as_validated - in_fp32).max() > 1e-4   # the two precisions do differ here
    assert np.array_equal(probs, as_validated.astype(np.float64))


def test_parameters_the_forward_pass_never_uses_are_not_in_the_model(tmp_path):
    """timm keeps ConvNeXt's MLP pre-logits (head_hidden_size) in a headless backbone; only
    forward_features runs, so they would be trained (weight decay alone), synced and saved for
    nothing. Every trainable parameter left must get a gradient."""
    from pano360.model.backbone import build_model, checkpoint_payload, data_config, load_checkpoint
    cfg = {k: v for k, v in CONVNEXT_MLP.items() if k != "pretrained"}
    model = build_model(cfg, "csra", {}, 3)
    assert model.dropped == ["backbone.head.pre_logits.fc"]
    assert not [n for n in model.state_dict() if "pre_logits" in n]
    model(torch.randn(2, 3, 64, 64)).sum().backward()
    assert [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None] == []
    # saved and loaded without them; a checkpoint from before they were dropped still loads
    payload = checkpoint_payload(model, model_cfg=cfg, head_options={}, classes=["a", "b", "c"],
                                 data_cfg=data_config(model, 64))
    torch.save(payload, tmp_path / "new.pt")
    old = dict(payload, state_dict={**payload["state_dict"], "backbone.head.pre_logits.fc.weight": torch.zeros(32, 32),
                                    "backbone.head.pre_logits.fc.bias": torch.zeros(32)})
    torch.save(old, tmp_path / "old.pt")
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        want = model.eval()(x)
        for name in ("new.pt", "old.pt"):
            assert torch.equal(load_checkpoint(tmp_path / name)[0](x), want), name


def test_logged_learning_rates_are_the_heads_and_the_top_blocks_under_layer_decay(splits, tmp_path):
    """The log showed the first optimizer group's rate: under layer decay, the stem's, orders of
    magnitude below what the head and the top block learn at."""
    train(config(epochs=1, layer_decay=0.5), paths(splits, tmp_path), show_progress=False)
    curves = tmp_path / "live/plots/metrics/lr"
    head, top = (float((curves / f"{part}.tsv").read_text().splitlines()[-1].split("\t")[-1])
                 for part in ("head", "backbone"))
    assert head == pytest.approx(2 * top)   # the head at lr × 1 (from scratch), the top block at lr × 0.5


def test_ema_warms_up_instead_of_clinging_to_the_first_steps_weights(splits):
    """Without warm-up the average copied the weights of step 1 and then moved 0.02 % a step
    (decay 0.9998): early epochs validated, kept as best and early-stopped on a model close to
    step 1's. With timm's warm-up it follows the early weights closely."""
    from pano360.training.config import TrainParams
    from pano360.training.loop import _build_optimisation
    t = TrainParams.model_validate(config(ema=True, ema_decay=0.9998)["train"])
    opt = _build_optimisation(_TwoPart(), t, 1.0, 2, 10, torch.device("cpu"))
    net = _TwoPart()
    opt.ema.update(net, step=1)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(1.0)
    opt.ema.update(net, step=2)
    moved = (opt.ema.module.head.weight - (net.head.weight - 1)).mean().item()
    assert moved > 0.5   # without warm-up: 0.0002


class _TwoPart(torch.nn.Module):
    """The smallest model the optimiser accepts: a backbone and a head."""
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.backbone, self.head = torch.nn.Linear(4, 4), torch.nn.Linear(4, 2)
