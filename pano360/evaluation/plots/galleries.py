"""Per-class error galleries: the test halves the tuned threshold decides most wrongly."""
from __future__ import annotations

from pathlib import Path

from pano360.data.dataset import open_rgb
from pano360.data.prepare import stored_names
from pano360.evaluation.plots.evaluation import error_sheet, safe_name
from pano360.evaluation.report import worst_errors
from pano360.io import atomic_dir


def write_galleries(folder, frame, targets, probs, thresholds, classes, images_dir, spec, *,
                    per_class: int, thumbnail: int) -> int:
    """``folder/<class>.png`` for every class (its worst false positives and false negatives,
    ``per_class`` of each); returns the bytes written."""
    worst = worst_errors(targets, probs, classes, per_class)
    rows = {i for pick in worst.values() for side in pick.values() for i in side}
    names = stored_names(frame["image"], spec)
    thumbs = {}
    for i in sorted(rows):  # each half read and shrunk once, however many classes show it
        image = open_rgb(Path(images_dir) / names[i])
        image.thumbnail((thumbnail, thumbnail))
        thumbs[i] = image
    total = 0
    with atomic_dir(folder) as tmp:
        for c, name in enumerate(classes):
            items = {side: [(thumbs[i], probs[i, c]) for i in worst[name][side]] for side in ("fp", "fn")}
            sheet = error_sheet(name, items["fp"], items["fn"], thumbnail, float(thresholds[c]))
            path = tmp / f"{safe_name(name)}.png"
            sheet.save(path, optimize=True)
            total += path.stat().st_size
    return total
