"""Plots for tune_thresholds and evaluate: the PNGs for people, the tables for `dvc plots`."""
from __future__ import annotations

import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.metrics import precision_recall_curve

from pano360.io import atomic_path, write_csv


def _save(fig, path) -> None:
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)


def _grid(n: int):
    cols = min(4, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.6 * rows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.axis("off")
    return fig, axes.flat


def f1_curve_table(curves: list[dict], classes: list[str]) -> pd.DataFrame:
    rows = [{"class": classes[c["class"]], "threshold": float(t), "f1": float(f)}
            for c in curves for t, f in zip(c["thresholds"], c["f1"])]
    return pd.DataFrame(rows, columns=["class", "threshold", "f1"])


def plot_f1_curves(curves: list[dict], classes: list[str], chosen: np.ndarray, global_t: float | None,
                   path) -> None:
    fig, axes = _grid(len(classes))
    for ax, c in zip(axes, curves):
        ax.step(c["thresholds"], c["f1"], where="post", lw=1.2)
        ax.axvline(chosen[c["class"]], color="C3", ls="--", lw=1, label="chosen")
        if global_t is not None:
            ax.axvline(global_t, color="0.5", ls=":", lw=1, label="global")
        ax.set(xlim=(0, 1), ylim=(0, 1.02), title=f"{classes[c['class']]} (n={c['support']})")
        ax.set_xlabel("threshold", fontsize=8)
        ax.set_ylabel("val F1", fontsize=8)
    axes[0].legend(fontsize=7, loc="lower left")
    fig.suptitle("Validation F1 against threshold per class", fontsize=10)
    _save(fig, path)


def pr_curve_table(targets: np.ndarray, probs: np.ndarray, classes: list[str]) -> pd.DataFrame:
    parts = []
    for c, name in enumerate(classes):
        if targets[:, c].sum() == 0:
            continue  # no positives: no curve (and no AP, see metrics)
        p, r, _ = precision_recall_curve(targets[:, c], probs[:, c])
        parts.append(pd.DataFrame({"class": name, "recall": r[::-1], "precision": p[::-1]}))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["class", "recall", "precision"])


def plot_pr_curves(table: pd.DataFrame, per_class: pd.DataFrame, path) -> None:
    classes = list(dict.fromkeys(table["class"]))
    fig, axes = _grid(len(classes))
    for ax, name in zip(axes, classes):
        sub = table[table["class"] == name]
        row = per_class.set_index("class").loc[name]
        ax.step(sub["recall"], sub["precision"], where="post", lw=1.2)
        ax.plot([row["recall"]], [row["precision"]], "o", color="C3", ms=4, label="at threshold")
        ax.set(xlim=(0, 1.02), ylim=(0, 1.02), title=f"{name}  AP {row['ap']:.3f}")
        ax.set_xlabel("recall", fontsize=8)
        ax.set_ylabel("precision", fontsize=8)
    if classes:
        axes[0].legend(fontsize=7, loc="lower left")
    fig.suptitle("Test precision–recall per class", fontsize=10)
    _save(fig, path)


def plot_per_class_ap(per_class: pd.DataFrame, path) -> None:
    data = per_class.sort_values("ap", na_position="first")
    fig, ax = plt.subplots(figsize=(6, 0.35 * len(data) + 1.2))
    bars = ax.barh(data["class"], data["ap"].fillna(0))
    ax.bar_label(bars, labels=[f"{a:.3f} (n={int(s)})" if np.isfinite(a) else "no positives"
                               for a, s in zip(data["ap"], data["support"])], fontsize=7, padding=2)
    ax.set(xlim=(0, 1.18), xlabel="average precision (test)", title="Per-class AP")
    _save(fig, path)


def confusion_table(per_class: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for _, r in per_class.iterrows():
        for key, outcome in (("tp", "true positive"), ("fn", "false negative"), ("fp", "false positive")):
            rows.append({"class": r["class"], "outcome": outcome, "count": int(r[key])})
    return pd.DataFrame(rows)


def plot_confusion(per_class: pd.DataFrame, path) -> None:
    data = per_class.iloc[::-1]
    fig, ax = plt.subplots(figsize=(6.5, 0.35 * len(data) + 1.2))
    left = np.zeros(len(data))
    for key, label, color in (("tp", "true positive", "#4c9a2a"), ("fn", "false negative", "#e0a100"),
                              ("fp", "false positive", "#c0392b")):
        ax.barh(data["class"], data[key], left=left, color=color, label=label)
        left += data[key].to_numpy()
    ax.set(xlabel="halves (test, at tuned thresholds)", title="Per-class confusion counts")
    ax.legend(fontsize=7, loc="lower right")
    _save(fig, path)


def plot_calibration(table: pd.DataFrame, path) -> None:
    """Reliability diagram: observed share of positives against predicted probability."""
    fig, (ax, count_ax) = plt.subplots(2, 1, figsize=(4.8, 5.2), sharex=True,
                                       gridspec_kw={"height_ratios": [3, 1]})
    ax.plot([0, 1], [0, 1], color="0.6", ls=":", lw=1, label="perfectly calibrated")
    ax.plot(table["predicted"], table["observed"], "o-", color="C0", label="this model")
    ax.set(ylim=(0, 1.02), ylabel="observed share of positives",
           title="Calibration on test (all classes pooled)")
    ax.legend(fontsize=7, loc="upper left")
    count_ax.bar((table["low"] + table["high"]) / 2, table["count"], width=0.09, color="C0")
    count_ax.set(xlim=(0, 1), xlabel="predicted probability", ylabel="(half, class)\npairs")
    count_ax.set_yscale("log")
    _save(fig, path)


def safe_name(name: str) -> str:
    """A class name as a file name (DVC renders image plots by their .png extension)."""
    cleaned = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name)
    return cleaned or "class"


def error_sheet(class_name: str, false_positives: list, false_negatives: list, size: int, threshold: float):
    """One class's contact sheet: its highest-scoring negatives (top row) and lowest-scoring
    positives (bottom row), each with its score; the ones the tuned ``threshold`` decides
    wrongly (false positives, false negatives) are framed in colour, the others in grey.

    Each item is ``(thumbnail, score)``, the thumbnail at most ``size`` square; returns a PIL image."""
    from PIL import Image, ImageDraw, ImageFont
    font = ImageFont.load_default(size=max(10, size // 8))
    per_row = max(len(false_positives), len(false_negatives), 1)
    caption = max(14, size // 6)
    header = caption + 6
    width, height = per_row * (size + 4) + 4, 2 * (header + size + caption) + header + 4
    sheet = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(sheet)
    draw.text((4, 2), f"{class_name}: where the model errs (test, threshold {threshold:.2f})", fill=(0, 0, 0),
              font=font)
    y = header
    for title, items, colour, wrong in (
            ("highest-scoring halves without the class (framed: false positives)", false_positives,
             (192, 57, 43), lambda score: score >= threshold),
            ("lowest-scoring halves with the class (framed: false negatives)", false_negatives,
             (200, 130, 0), lambda score: score < threshold)):
        draw.text((4, y), title if items else f"{title}: none", fill=colour, font=font)
        y += header
        for i, (thumb, score) in enumerate(items):
            x = 4 + i * (size + 4)
            sheet.paste(thumb, (x, y))
            frame = colour if wrong(score) else (190, 190, 190)
            for k in range(3 if wrong(score) else 1):
                draw.rectangle((x + k, y + k, x + thumb.width - 1 - k, y + thumb.height - 1 - k), outline=frame)
            draw.text((x, y + size + 1), f"{score:.2f}", fill=colour if wrong(score) else (0, 0, 0), font=font)
        y += size + caption
    return sheet


def write_test_plots(out_dir, targets, probs, per_class: pd.DataFrame, classes: list[str], calibration) -> None:
    """evaluate's plots, each as a PNG and the CSV table DVC draws it from."""
    out = Path(out_dir)
    pr = pr_curve_table(targets, probs, classes)
    write_csv(out / "pr_curves.csv", pr)
    plot_pr_curves(pr, per_class, out / "pr_curves.png")
    write_csv(out / "per_class_ap.csv", per_class[["class", "ap", "support"]])
    plot_per_class_ap(per_class, out / "per_class_ap.png")
    write_csv(out / "confusion.csv", confusion_table(per_class))
    plot_confusion(per_class, out / "confusion.png")
    write_csv(out / "calibration.csv", calibration)
    plot_calibration(calibration, out / "calibration.png")
