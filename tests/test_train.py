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
    train(config(epochs=2, batch_size=5, grad_accum=2, schedule="cosine"), paths(splits, tmp_path),
          show_progress=False)
    rows = (tmp_path / "live/plots/metrics/lr/head.tsv").read_text().strip().splitlines()[1:]
    last_lr = float(rows[-1].split("\t")[-1])
    assert last_lr > 0.1 * 0.003  # the cosine's midpoint here (0.5 x lr); the minimum is 0.01 x lr


def test_nan_loss_stops_with_the_step_and_writes_nothing(splits, tmp_path, monkeypatch):
    monkeypatch.setattr("pano360.training.loop.build_loss", lambda *a, **k: lambda logits, y: logits.sum() * float("nan"))
    with pytest.raises(TrainingError, match=r"loss became NaN/inf at epoch 1, batch 1"):
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
    # at this lr val mAP stalls after epoch 3 and 4: the plateau schedule decays the lr there,
    # so the resumed run must carry on at the decayed lr
    recipe = dict(epochs=5, lr=0.0005, plateau_patience=1)
    spec = _spec(splits, tmp_path, **recipe)
    killed = json.loads(spec.read_text())
    killed["kill_after_epoch"] = 2  # dies after saving the state of epoch 3 of 5
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
    assert resumed_at >= 3
    result = json.loads(out.stdout.split("RESULT ")[1])
    assert result["epochs_run"] == 5
    # the replayed history gives full curves
    rows = (tmp_path / "live/plots/metrics/val/mAP.tsv").read_text().strip().splitlines()
    assert len(rows) == 6
    # and the result is exactly an uninterrupted run's: the same weights, tensor by tensor
    ref = train(config(**recipe), paths(splits, tmp_path / "ref"), show_progress=False)
    assert result["best_val_mAP"] == ref["best_val_mAP"]
    lrs = [float(r.split("\t")[1]) for r in (tmp_path / "ref/live/plots/metrics/lr/head.tsv").read_text().splitlines()[1:]]
    assert lrs == pytest.approx([5e-4, 5e-4, 5e-4, 5e-5, 5e-6])   # decayed after epochs 3 and 4
    assert (tmp_path / "live/plots/metrics/lr/head.tsv").read_text() == \
        (tmp_path / "ref/live/plots/metrics/lr/head.tsv").read_text()
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
    A model without batch norm (test_vit): BN statistics are per process by design.

    The two processes run as two "machines" (launch.nnodes 2: two launchers, node ranks 0 and
    1 as on two machines sharing a disk, each starting torchrun for its one process, a static
    rendezvous at node 0): the multi-node path, on gloo. Also checked: each rank draws its own
    dropout and drop-path masks (one seed for all repeated them), each validates its share of
    val (rank 0 alone did, while the others waited in a collective: NCCL's watchdog ends such
    a wait on large sets), and only rank 0 (on node 0) logs and writes. Val mAP stalls after
    epoch 2 here and the plateau rule (patience 1) decays the lr: every rank must step at the
    decayed rate (rank 0 decides), or rank 1's weights, which score its share of val, drift."""
    import socket
    cfg = dict(epochs=3, batch_size=8, early_stop_patience=0, plateau_patience=1)
    spec = json.loads(_spec(splits, tmp_path / "one", **cfg).read_text())
    for run in ("one", "two"):
        spec["cfg"]["model"] = {"name": "test_vit", "pretrained": False, "img_size": 64, "kwargs": {}}
        spec["cfg"]["head"] = "fc"
        spec["paths"] = paths(splits, tmp_path / run).__dict__
        spec["record"] = run == "two"
        (tmp_path / run).mkdir(exist_ok=True)
        (tmp_path / run / "spec.json").write_text(json.dumps(spec))
    one = subprocess.run([sys.executable, str(HERE / "train_entry.py"), str(tmp_path / "one/spec.json")],
                         cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=300)
    assert one.returncode == 0, one.stderr[-2000:]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    code = ("import sys; from pano360.training.launch import LaunchParams, launch, plan; "
            "p = plan(1, LaunchParams(nnodes=2, rdzv_endpoint=sys.argv[1]), sys.argv[2:]); "
            "print(' '.join(p.command), flush=True); sys.exit(launch(p.command))")
    nodes = [subprocess.Popen([sys.executable, "-c", code, f"127.0.0.1:{port}", str(HERE / "train_entry.py"),
                               str(tmp_path / "two/spec.json")], cwd=tmp_path,
                              env=dict(_env(), PANO360_NODE_RANK=str(rank)), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for rank in (0, 1)]
    outs = [node.communicate(timeout=300) for node in nodes]
    assert [node.returncode for node in nodes] == [0, 0], outs[0][1][-2000:] + outs[1][1][-2000:]
    assert f"--nnodes=2 --node-rank=1 --master-addr=127.0.0.1 --master-port={port}" in outs[1][0]
    two = tmp_path / "two"
    a = json.loads((tmp_path / "one/result_rank0.json").read_text())
    b = json.loads((two / "result_rank0.json").read_text())
    assert a["best_val_mAP"] == pytest.approx(b["best_val_mAP"], abs=1e-4)
    curve = [(tmp_path / run / "live/plots/metrics/val/loss.tsv").read_text().splitlines()[1:] for run in ("one", "two")]
    for row_a, row_b in zip(*curve):
        assert float(row_a.split("\t")[-1]) == pytest.approx(float(row_b.split("\t")[-1]), rel=1e-4)
    # rank 1 (node 1) returns nothing and logs nothing; rank 0 wrote the outputs
    assert json.loads((two / "result_rank1.json").read_text()) == {}
    assert "".join(out for out, _ in outs).count("train: epoch 3/3") == 1 and (two / "model.pt").is_file()
    lrs = [[float(r.split("\t")[1]) for r in (tmp_path / run / "live/plots/metrics/lr/head.tsv").read_text().splitlines()[1:]]
           for run in ("one", "two")]
    assert lrs[0] == lrs[1] and lrs[0][2] == pytest.approx(lrs[0][1] / 10)   # decayed after epoch 2
    ranks = [json.loads((two / f"record_rank{r}.json").read_text()) for r in (0, 1)]
    assert ranks[0]["rng"] != ranks[1]["rng"]
    n_val = len((splits / "val.csv").read_text().strip().splitlines()) - 1
    assert [r + s for r, s in zip(ranks[0]["val_rows"], ranks[1]["val_rows"])] == [n_val] * 3
    assert min(ranks[1]["val_rows"]) >= n_val // 2


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


def test_training_samples_are_not_repeated_to_fill_the_last_rank(splits):
    """DistributedSampler padded an epoch with repeated samples so every rank got as many: with
    11 training halves on 2 ranks one half was seen twice. Now the permutation's last odd one
    out waits for another epoch (each epoch a different one)."""
    frame, classes, cfg, spec = _loader_inputs(splits)
    odd = frame.iloc[:11]
    seen = []
    for rank in (0, 1):
        _, _, sampler = _loaders(odd, frame, classes, cfg, spec, splits, world=2, rank=rank)
        sampler.set_epoch(0)
        seen += [i for _, i in sampler]
    assert len(seen) == len(set(seen)) == 10


def test_the_image_cache_budget_is_for_the_machine_not_for_each_process(splits, monkeypatch):
    """2 GB per loader process: 2 processes × 2 workers held 8 GB of decoded halves."""
    frame, classes, cfg, spec = _loader_inputs(splits)
    n = 2 * len(frame)          # train + val
    size = int((1.5 * 2**30 / (3 * n)) ** 0.5)   # 1.5 GB: fits one process's 2 GB, not a quarter of it
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    for workers, world, cached in ((0, 1, True), (2, 2, False)):
        monkeypatch.setenv("LOCAL_WORLD_SIZE", str(world))
        train_loader, val_loader, _ = _loaders(frame, frame, classes, cfg, {**spec, "size": size}, splits,
                                               world=world, rank=0, workers=workers)
        assert (train_loader.dataset.cache is not None) is cached and (val_loader.dataset.cache is not None) is cached


def _loader_inputs(splits):
    from pano360.data.dataset import read_split
    from pano360.data.prepare import read_prepared
    from pano360.model.backbone import build_model, data_config
    frame, classes = read_split(splits / "train.csv")
    model = build_model({"name": "test_resnet", "img_size": 64}, "fc", {}, len(classes))
    return frame, classes, data_config(model, 64), read_prepared(splits / "prepared.json")


def _loaders(train_frame, val_frame, classes, data_cfg, spec, splits, world, rank, workers=0):
    from pano360.training.config import TrainParams
    from pano360.training.loop import build_loaders
    t = TrainParams.model_validate({**config()["train"], "workers": workers})
    return build_loaders(train_frame, val_frame, classes, data_cfg, spec, paths(splits, splits / "unused"), t,
                         rank, world, torch.device("cpu"))


def test_each_rank_and_epoch_draws_its_own_masks():
    from pano360.training.distributed import seed_epoch
    draws = {}
    for rank in (0, 1):
        for epoch in (0, 1):
            seed_epoch(0, rank, epoch)
            draws[rank, epoch] = torch.rand(4)
    assert not torch.equal(draws[0, 0], draws[1, 0]) and not torch.equal(draws[0, 0], draws[0, 1])
    seed_epoch(0, 1, 1)
    assert torch.equal(torch.rand(4), draws[1, 1])   # a resumed run draws what it would have


def test_sync_batchnorm_converts_for_gpus_and_says_no_on_cpus():
    from pano360.model.backbone import build_model
    from pano360.training.loop import sync_batchnorm
    model = build_model({"name": "test_resnet", "img_size": 64}, "fc", {}, 3)
    keys = list(model.state_dict())
    assert sync_batchnorm(model, True, 1, torch.device("cpu")) is model   # one process: nothing to sync
    with pytest.raises(TrainingError, match="sync_batchnorm needs GPUs"):
        sync_batchnorm(model, True, 2, torch.device("cpu"))
    synced = sync_batchnorm(model, True, 2, torch.device("cuda", 0))   # converting needs no GPU
    assert any(isinstance(m, torch.nn.SyncBatchNorm) for m in synced.modules())
    assert not any(type(m) is torch.nn.BatchNorm2d for m in synced.modules())
    assert list(synced.state_dict()) == keys and synced.dropped == model.dropped   # checkpoints load as before


def test_an_inf_fp16_loss_skips_its_step_instead_of_stopping(splits, tmp_path, monkeypatch, capsys):
    """Under fp16 the loss scaler exists to skip steps whose gradients overflow; training raised
    at the first non-finite loss instead. Every loss non-finite still stops it."""
    from pano360.model.losses import build_loss
    calls = []

    def flaky(*args, **kwargs):
        real = build_loss(*args, **kwargs)

        def loss(logits, y):
            calls.append(1)
            value = real(logits, y)
            return value * float("inf") if len(calls) == 2 else value
        return loss
    monkeypatch.setattr("pano360.training.loop.build_loss", flaky)
    result = train(config(epochs=1, precision="fp16", batch_size=4), paths(splits, tmp_path), show_progress=False)
    assert "1 batch(es) with inf/NaN fp16 loss skipped" in capsys.readouterr().out
    assert result["best_val_mAP"] >= 0 and (tmp_path / "model.pt").is_file()
    weights = torch.load(tmp_path / "model.pt", weights_only=False)["state_dict"]
    assert all(torch.isfinite(v.float()).all() for v in weights.values())
    skipped = (tmp_path / "live/plots/metrics/train/skipped_steps.tsv").read_text().splitlines()[-1]
    assert float(skipped.split("\t")[-1]) == 1
    monkeypatch.setattr("pano360.training.loop.build_loss",
                        lambda *a, **k: lambda logits, y: logits.sum() * float("nan"))
    with pytest.raises(TrainingError, match="NaN/inf in every batch"):
        train(config(epochs=1, precision="fp16"), paths(splits, tmp_path / "nan"), show_progress=False)


def test_no_host_synchronisation_at_every_micro_batch(splits, tmp_path, monkeypatch):
    """loss.item() and a Python `if` on isfinite(loss) at every micro-batch made the CPU wait
    for the GPU each step; the loop now reads its sums every SYNC_EVERY batches."""
    import pano360.training.loop as loop
    reads = []
    item = torch.Tensor.item

    def counted(self):
        if sys._getframe(1).f_code.co_name == "train_one_epoch":
            reads.append(1)
        return item(self)
    monkeypatch.setattr(torch.Tensor, "item", counted)
    monkeypatch.setattr(torch.Tensor, "__bool__", _counted_bool(reads))
    monkeypatch.setattr(loop, "SYNC_EVERY", 4)
    train(config(epochs=1, batch_size=2, augment={"scale": [1.0, 1.0], "ratio": [1.0, 1.0]}),
          paths(splits, tmp_path), show_progress=False)
    batches = (len((splits / "train.csv").read_text().strip().splitlines()) - 1) // 2
    assert batches >= 8 and 0 < len(reads) <= 2 * (batches // 4 + 1) + 2   # the old loop: 3 per batch


def _counted_bool(reads):
    as_bool = torch.Tensor.__bool__

    def counted(self):
        if sys._getframe(1).f_code.co_name == "train_one_epoch":
            reads.append(1)
        return as_bool(self)
    return counted


def test_compile_switch_compiles_the_training_forward_and_saves_plain_weights(splits, tmp_path, monkeypatch):
    """train.compile: the training step runs through torch.compile (here with its eager
    backend: inductor would compile C++ for minutes on 2 cores); checkpoints keep the plain
    module's names, so they load without it."""
    from pano360.model.backbone import load_checkpoint
    compiled = []
    real = torch.compile

    def compile_eager(module, **kwargs):
        compiled.append(type(module).__name__)
        return real(module, backend="eager")
    monkeypatch.setattr(torch, "compile", compile_eager)
    train(config(epochs=1, compile=True), paths(splits, tmp_path), show_progress=False)
    assert len(compiled) == 1
    state = torch.load(tmp_path / "model.pt", weights_only=False)["state_dict"]
    assert not [k for k in state if "_orig_mod" in k]
    load_checkpoint(tmp_path / "model.pt")


def test_fused_adamw_on_gpus():
    from pano360.training.config import TrainParams
    from pano360.training.loop import _build_optimisation
    t = TrainParams.model_validate(config(precision="fp32")["train"])
    for device, fused in ((torch.device("cuda"), True), (torch.device("cpu"), None)):
        assert _build_optimisation(_TwoPart(), t, 1.0, 2, 10, device).optimizer.defaults["fused"] is fused


def test_validation_and_inference_run_channels_last_when_asked():
    """channels_last was applied to training inputs only; validation and inference fed the
    converted model standard-layout tensors (a layout conversion per layer on GPUs)."""
    from pano360.use.inference import predict
    layouts = []

    class Probe(torch.nn.Module):
        def forward(self, x):
            layouts.append(x.is_contiguous(memory_format=torch.channels_last))
            return x.mean((2, 3))
    data = torch.utils.data.TensorDataset(torch.randn(3, 3, 8, 8), torch.zeros(3, 3))
    loader = torch.utils.data.DataLoader(data, batch_size=2)
    predict(Probe(), loader, torch.device("cpu"), show=False, channels_last=True)
    assert layouts == [True, True]


def test_processes_that_see_different_resume_states_stop_with_the_reason(splits, tmp_path, monkeypatch):
    """On several machines without a shared disk, process 0 resumed from the state it wrote
    while the others, not seeing it, started afresh: one DDP group training two different runs.
    Simulated in one process: process 0 announces that it resumes after epoch 1."""
    import pano360.training.loop as loop
    monkeypatch.setattr(loop, "broadcast_int", lambda value, device, world: 0)
    with pytest.raises(TrainingError, match="do not agree on the resume state .*share"):
        train(config(epochs=2), paths(splits, tmp_path), show_progress=False)
    assert not (tmp_path / "model.pt").exists()
