"""Label tables that cannot train a classifier, or probably do not mean what they say:
refused or warned about with what to change."""
from __future__ import annotations

import difflib
from typing import Iterable

import pandas as pd


from pano360.labels.records import Label, LabelError, LabelsParams, class_name, listing

YES_NO_LIKE = frozenset({"yes", "no", "true", "false", "y", "n"})


def export_contents(labels: Iterable[Label], match_on: str) -> dict[str, list[str]]:
    """What the kept labels hold, by kind: question names and object (tool) names."""
    found: dict[str, set[str]] = {"checklist": set(), "radio": set(), "text": set(), "objects": set()}
    for label in labels:
        for q in label.questions:
            found[q.kind].add(q.name or q.value or "?")
        found["objects"] |= {class_name(pair, match_on) or "?" for pair in label.objects}
    return {kind: sorted(names) for kind, names in found.items()}


def _describe(contents: dict[str, list[str]]) -> str:
    parts = [f"{kind} question(s) {listing(repr(n) for n in names)}" if kind != "objects"
             else f"objects named {listing(repr(n) for n in names)}"
             for kind, names in contents.items() if names]
    return "; ".join(parts) if parts else "no classifications and no objects"


def check_degenerate(frame: pd.DataFrame, classes: list[str], contents: dict, opts: "LabelsParams",
                      explicit_classes: bool, path) -> list[str]:
    """Errors for tables that cannot train a classifier, warnings for suspicious classes."""
    found = f"the kept labels hold {_describe(contents)}"
    if not classes:
        hints = []
        if contents["objects"] and opts.source == "classifications":
            hints.append("set labels.source: objects (or both) to use the objects' names as classes")
        if (contents["checklist"] or contents["radio"]) and opts.source == "objects":
            hints.append("set labels.source: classifications (or both) to read the questions")
        if opts.questions is not None:
            hints.append(f"check labels.questions ({opts.questions})")
        if contents["text"] and not (contents["checklist"] or contents["radio"]):
            hints.append("free-text answers are never classes; use a checklist question")
        raise LabelError(f"{path}: no classes found: {found}. "
                         + ("; ".join(hints) if hints else "Label at least one class") + ".")
    if not explicit_classes and not opts.radio_per_class and \
            {c.casefold() for c in classes} <= YES_NO_LIKE:
        raise LabelError(
            f"{path}: the only classes are {classes}: {found}. These look like one yes/no radio "
            f"question per class; set labels.radio_per_class: true to make each radio question a "
            f"class (present when answered yes).")
    values = frame[classes].to_numpy()
    if len(frame) >= 10 and (values == values[0]).all():
        positives = [c for c, v in zip(classes, values[0]) if v]
        raise LabelError(
            f"{path}: all {len(frame)} labelled halves have the same classes ({positives or 'none'}), "
            f"so there is nothing to learn: {found}. Check labels.source, labels.questions and "
            f"labels.radio_per_class.")
    warnings = []
    counts = dict(zip(classes, values.sum(axis=0).tolist()))
    largest = max(counts.values())
    for cls, n in counts.items():
        close = [c for c in difflib.get_close_matches(cls, classes, n=3, cutoff=0.8)
                 if c != cls and counts[c] >= 10 * max(n, 1)]
        if close:
            warnings.append(f"class {cls!r} ({n} halves) looks like a misspelling of {close[0]!r} "
                            f"({counts[close[0]]} halves); fix the answer in LabelBox, or list "
                            f"labels.classes so that unknown answers are reported")
        elif n <= 2 and largest >= 100:
            warnings.append(f"class {cls!r} is ticked on only {n} half(s) while another class has "
                            f"{largest}; too few to learn or evaluate. If it is a stray answer, "
                            f"list labels.classes without it (and labels.unknown_classes: ignore)")
    return warnings
