"""A reference outside the pipeline: a small plain-PyTorch CNN with global max-pooling.

Four 3×3 conv blocks (batch norm, ReLU, 2×2 max-pool; 32-64-128-160 channels), global max
pooling over positions (a small object anywhere still fires its channel), one linear layer:
0.28 M parameters. Adam, BCE, no augmentation; the epoch with the best validation mAP is
kept. It reads the same prepared halves and split tables as the pipeline, through its own
minimal loader, so what it learns owes nothing to pano360's training code.

    python bench/reference_cnn.py DATA_DIR [--epochs 30] [--img-size 128]

DATA_DIR holds train.csv, val.csv, test.csv and prepared/ (as bench/hard_recipe.py writes them).
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image
from torch import nn

from pano360.evaluation.metrics import mean_ap  # the metric the pipeline reports, so the two compare like for like

CLASS_START = 2  # split tables: image, panorama, then one 0/1 column per class


class MaxPoolCNN(nn.Module):
    def __init__(self, num_classes: int, widths=(32, 64, 128, 160)):
        super().__init__()
        layers, channels = [], 3
        for width in widths:
            layers += [nn.Conv2d(channels, width, 3, padding=1, bias=False), nn.BatchNorm2d(width),
                       nn.ReLU(inplace=True), nn.MaxPool2d(2)]
            channels = width
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(channels, num_classes)

    def forward(self, x):
        return self.classifier(self.features(x).amax(dim=(2, 3)))


def load_split(data_dir: Path, name: str, img_size: int, file_name) -> tuple[torch.Tensor, np.ndarray]:
    frame = pd.read_csv(data_dir / f"{name}.csv", dtype={"image": str})
    images = []
    for image in frame["image"]:
        with Image.open(data_dir / "prepared" / file_name(image)) as img:
            img = img.convert("RGB").resize((img_size, img_size), Image.Resampling.BICUBIC)
            images.append(np.asarray(img))
    x = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float().div(255)
    x = (x - 0.5) / 0.25
    return x, frame.iloc[:, CLASS_START:].to_numpy(np.float32)


@torch.no_grad()
def scores(model: nn.Module, x: torch.Tensor) -> np.ndarray:
    model.eval()
    return torch.cat([torch.sigmoid(model(x[i:i + 128])) for i in range(0, len(x), 128)]).numpy()


def train_reference(data_dir, epochs: int = 30, img_size: int = 128, batch: int = 32, lr: float = 1e-3,
                    seed: int = 0, file_name=lambda image: Path(image).stem + ".jpg") -> dict:
    data_dir = Path(data_dir)
    torch.manual_seed(seed)
    t0 = time.perf_counter()
    x_train, y_train = load_split(data_dir, "train", img_size, file_name)
    x_val, y_val = load_split(data_dir, "val", img_size, file_name)
    x_test, y_test = load_split(data_dir, "test", img_size, file_name)
    model = MaxPoolCNN(y_train.shape[1])
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.BCEWithLogitsLoss()
    targets = torch.from_numpy(y_train)
    best, best_state, curve = -1.0, None, []
    generator = torch.Generator().manual_seed(seed)
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(x_train), generator=generator)
        losses = []
        for i in range(0, len(order), batch):
            idx = order[i:i + batch]
            loss = loss_fn(model(x_train[idx]), targets[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        val_map = mean_ap(y_val, scores(model, x_val))
        curve.append({"epoch": epoch + 1, "train_loss": float(np.mean(losses)), "val_mAP": val_map})
        if val_map > best:
            best, best_state = val_map, {k: v.clone() for k, v in model.state_dict().items()}
    model.load_state_dict(best_state)
    return {"model": "reference CNN (max-pool, 0.28 M)", "parameters": sum(p.numel() for p in model.parameters()),
            "best_val_mAP": best, "test_mAP": mean_ap(y_test, scores(model, x_test)),
            "seconds": time.perf_counter() - t0, "curve": curve}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("data_dir")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--img-size", type=int, default=128)
    args = ap.parse_args()
    result = train_reference(args.data_dir, args.epochs, args.img_size)
    print(json.dumps({k: v for k, v in result.items() if k != "curve"}, indent=2))


if __name__ == "__main__":
    main()
