"""How the train stage starts its processes (pano360.training.launch), without training."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pano360.params import ParamsError, load_params
from pano360.training.launch import LAUNCHER_ENV, LaunchError, LaunchParams, first_slurm_host, plan

ROOT = Path(__file__).resolve().parents[1]
TARGET = ["-m", "stages.train"]


def test_one_process_trains_in_place_and_one_machine_starts_standalone_torchrun():
    assert plan(1, LaunchParams(), TARGET, env={}).mode == "single"
    p = plan(2, LaunchParams(), TARGET, env={}, gpus=None)
    assert p.mode == "launch" and "--standalone" in p.command and "--nproc-per-node=2" in p.command
    assert p.command[-2:] == tuple(TARGET)


def test_several_machines_use_a_static_rendezvous_at_node_0():
    launch = LaunchParams(nnodes=2, rdzv_endpoint="node0.cluster:29400")
    p = plan(4, launch, TARGET, env={"PANO360_NODE_RANK": "1"}, gpus=4)
    assert "--standalone" not in p.command
    assert {"--nnodes=2", "--node-rank=1", "--master-addr=node0.cluster", "--master-port=29400"} <= set(p.command)
    # the endpoint from the environment, or from SLURM's node list; the node rank from SLURM
    p = plan(1, LaunchParams(nnodes=2), TARGET, env={"MASTER_ADDR": "10.0.0.5", "MASTER_PORT": "1234"}, gpus=None)
    assert {"--node-rank=0", "--master-addr=10.0.0.5", "--master-port=1234"} <= set(p.command)
    slurm = {"SLURM_JOB_NODELIST": "gpu[07-08]", "SLURM_NODEID": "1"}
    p = plan(1, LaunchParams(nnodes=2), TARGET, env=slurm, gpus=None)
    assert {"--node-rank=1", "--master-addr=gpu07", "--master-port=29500"} <= set(p.command)


@pytest.mark.parametrize("nodelist, first", [("gpu[03-05,07],cpu1", "gpu03"), ("node12", "node12"),
                                             ("a-b[10,2]", "a-b10")])
def test_first_host_of_a_slurm_node_list(nodelist, first, monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")   # no scontrol here: the list is read by hand
    assert first_slurm_host(nodelist) == first


def test_an_outer_launcher_is_joined_not_launched_again():
    """torchrun across nodes or an srun wrapper sets RANK and WORLD_SIZE: the process is then
    a worker (its launcher chose the processes); a note says train.nproc is not used."""
    p = plan(1, LaunchParams(), TARGET, env={"RANK": "3", "WORLD_SIZE": "8", "LOCAL_RANK": "1"})
    assert p.mode == "worker" and "rank 3 of 8" in p.note and "train.nproc" in p.note
    ours = plan(2, LaunchParams(), TARGET, env={"RANK": "1", "WORLD_SIZE": "2", LAUNCHER_ENV: "123"})
    assert ours.mode == "worker" and ours.note == ""


@pytest.mark.parametrize("kwargs, env, gpus, message", [
    ({"nnodes": 2}, {}, None, "needs launch.rdzv_endpoint"),
    ({"nnodes": 2, "rdzv_endpoint": "h:1"}, {"PANO360_NODE_RANK": "2"}, None, "node rank 2 .* is not below"),
    ({"nnodes": 2, "rdzv_endpoint": "h:1"}, {"PANO360_NODE_RANK": "one"}, None, "not a node rank"),
    ({}, {"CUDA_VISIBLE_DEVICES": "0"}, 1, r"train.nproc 2 .* shows 1 GPU"),
])
def test_launch_mistakes_are_named(kwargs, env, gpus, message, monkeypatch):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(LaunchError, match=message):
        plan(2, LaunchParams(**kwargs), TARGET, env=env, gpus=gpus)


def test_nccl_without_gpus_is_named():
    with pytest.raises(LaunchError, match="nccl needs GPUs"):
        plan(2, LaunchParams(), TARGET, env={}, backend="nccl", gpus=None)


def test_launch_params_are_validated(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("launch:\n  nnodes: 2\n  rdzv_endpoint: 'host: 12'\n")
    with pytest.raises(ParamsError, match="launch.rdzv_endpoint"):
        load_params(path, launch=LaunchParams)


def test_a_worker_of_an_outer_launcher_runs_instead_of_exiting_silently(tmp_path):
    """A worker whose parent was not torchrun (srun, a wrapper script) armed the parent-death
    signal, found its parent "dead" and exited 1 without a word."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), RANK="0", LOCAL_RANK="0", WORLD_SIZE="1")
    env.pop(LAUNCHER_ENV, None)
    out = subprocess.run([sys.executable, "-m", "stages.train"], cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 1
    assert "params.yaml does not exist" in out.stderr   # it ran: here, in an empty folder, it says what is missing


def test_gpu_check_stops_at_once_without_a_gpu():
    """bench/gpu_check.sh on a machine without a GPU: exit 1 and say so, before any work (a
    silent CPU run would report CPU figures as GPU ones)."""
    env = dict(os.environ, PY=sys.executable)
    out = subprocess.run(["bash", str(ROOT / "bench/gpu_check.sh")], env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 1 and "no GPU visible" in out.stderr and "swinv2" not in out.stdout
