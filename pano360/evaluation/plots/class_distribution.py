"""Per-class positive share in each split, side by side."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from pano360.io import atomic_path


def table(parts: dict[str, pd.DataFrame], classes: list[str]) -> pd.DataFrame:
    """Long table: class, split, positives, halves, share (= positives / halves in split)."""
    rows = []
    for split, frame in parts.items():
        for c in classes:
            n = int(frame[c].sum()) if len(frame) else 0
            rows.append({"class": c, "split": split, "positives": n, "halves": len(frame),
                         "share": round(n / len(frame), 6) if len(frame) else 0.0})
    return pd.DataFrame(rows)


def plot(data: pd.DataFrame, path) -> None:
    classes = list(dict.fromkeys(data["class"]))
    splits = list(dict.fromkeys(data["split"]))
    width = 0.8 / len(splits)
    x = np.arange(len(classes))
    fig, ax = plt.subplots(figsize=(max(6, 0.7 * len(classes) + 2), 4))
    for i, split in enumerate(splits):
        sub = data[data["split"] == split].set_index("class").loc[classes]
        bars = ax.bar(x + (i - (len(splits) - 1) / 2) * width, sub["share"], width, label=split)
        ax.bar_label(bars, labels=[str(v) for v in sub["positives"]], fontsize=6, padding=1)
    ax.set_xticks(x, classes, rotation=30, ha="right")
    ax.set_ylabel("share of halves with the class")
    ax.set_title("Class distribution per split (bar labels: positive halves)")
    ax.set_ylim(0, min(1.0, data["share"].max() * 1.2 + 0.02))
    ax.legend()
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
