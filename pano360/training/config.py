"""What training reads from params.yaml, and where it reads and writes (shared by the
training modules, below all of them)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Literal, Optional, Union

from pydantic import Field, model_validator, NonNegativeFloat, NonNegativeInt, PositiveFloat, PositiveInt

from pano360.data.dataset import AugmentParams
from pano360.errors import Pano360Error
from pano360.model.backbone import ModelParams
from pano360.model.heads import HeadName, HeadsParams
from pano360.model.losses import AslParams
from pano360.params import Section


class TrainingError(Pano360Error, RuntimeError):
    pass


class TrainParams(Section):
    """params.yaml ``train``: the training loop."""
    seed: int = 0
    # the most epochs: a run normally ends earlier, when val mAP stops improving (early_stop_patience)
    epochs: PositiveInt = 100
    batch_size: PositiveInt = 16         # global batch (split across train.nproc processes)
    lr: PositiveFloat = 0.005
    weight_decay: NonNegativeFloat = 0.05
    # layer-wise lr decay: the backbone's layer k below the head learns at lr × layer_decay^k;
    # 1 = off (transformer finetuning recipes use 0.65-0.85)
    layer_decay: Annotated[float, Field(gt=0, le=1)] = 1.0
    warmup_epochs: NonNegativeFloat = 1
    # plateau: warm-up, then a constant lr, × plateau_decay after plateau_patience epochs without a
    # better val mAP (no epoch count to guess); cosine: warm-up, then cosine decay over train.epochs
    schedule: Literal["plateau", "cosine"] = "plateau"
    plateau_patience: PositiveInt = 4
    plateau_decay: Annotated[float, Field(gt=0, lt=1)] = 0.1
    grad_accum: PositiveInt = 1
    clip_grad: NonNegativeFloat = 1.0    # max gradient norm; 0 = off
    loss: Literal["bce", "asl"] = "bce"
    asl: AslParams = AslParams()         # options of loss: asl
    ema: bool = False
    ema_decay: Annotated[float, Field(gt=0, lt=1)] = 0.998
    early_stop_patience: NonNegativeInt = 10  # epochs without a better val mAP; 0 = off
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"
    channels_last: bool = True           # GPU only
    compile: bool = False                # torch.compile the training forward pass (GPU; minutes of compiling first)
    sync_batchnorm: bool = False         # DDP on GPUs: batch-norm statistics over all processes' batches
    workers: NonNegativeInt = 0          # DataLoader processes per training process
    nproc: PositiveInt = 1               # training processes (DDP) on this machine
    backend: Literal["auto", "nccl", "gloo"] = "auto"   # DDP backend; auto: nccl on GPU
    cache_images: Union[Literal["auto"], bool] = "auto"   # decoded halves in RAM; auto: if they fit in 2 GB
    monitor_system: bool = True          # CPU/RAM/GPU curves in dvclive
    augment: AugmentParams = AugmentParams()

    @model_validator(mode="after")
    def _decays_before_stopping(self):
        if self.schedule == "plateau" and 0 < self.early_stop_patience <= self.plateau_patience:
            raise ValueError(f"train.early_stop_patience {self.early_stop_patience} is not above "
                             f"train.plateau_patience {self.plateau_patience}: training would stop before the "
                             f"learning rate ever decays; raise early_stop_patience (e.g. to "
                             f"{2 * self.plateau_patience + 2}) or lower plateau_patience")
        return self


class TrainingConfig(Section):
    """What training reads from params.yaml: ``head``, ``heads``, ``model``, ``train``."""
    head: HeadName = "csra"
    heads: HeadsParams = HeadsParams()
    model: ModelParams = ModelParams()
    train: TrainParams = TrainParams()


@dataclass
class Paths:
    train_csv: str
    val_csv: str
    image_dir: str            # the prepared halves (or, without ``prepared``, the halves as they are)
    prepared: Optional[str] = None   # the prepare stage's settings file (data/interim/prepared.json)
    label_schema: Optional[str] = None   # where each class comes from in the export (load_labels)
    best: str = "models/model.pt"
    last: str = "models/last.pt"
    resume_dir: str = "models/.resume"
    live_dir: str = "dvclive"
    metrics: Optional[str] = None   # JSON with the best val mAP and the epochs run (the stage: metrics/train.json)
    # What the resume fingerprint covers besides the config; None: the splits, the images and
    # the pano360 package. The train stage passes its dvc.yaml deps.
    deps: Optional[list[str]] = field(default=None)
