"""The deployment bundle's reference runner: panoramas in, the tables ``pano360 predict``
writes out, with numpy, Pillow and onnxruntime alone (no PyTorch, no timm, no pano360).

The export stage copies this file into the bundle as ``predict.py``, beside ``pixels.py``
(every pixel step the pipeline takes), ``model.onnx`` and ``bundle.json``; on a deployment
machine::

    pip install numpy pillow onnxruntime
    python models/bundle/predict.py PANORAMAS... --out predictions.csv

``pano360 predict --model models/bundle`` runs the same bundle through :class:`Bundle` and
:func:`score_panoramas`, so the two cannot drift apart. It imports only the standard library,
numpy, Pillow and onnxruntime (tests/test_bundle.py runs it where importing torch fails).
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from pathlib import Path
from typing import NamedTuple

import numpy as np

try:
    from pano360.data import pixels
except ImportError:  # inside a bundle: the copy of pano360/data/pixels.py beside this file
    sys.dont_write_bytecode = True  # no __pycache__ in the bundle: DVC tracks the folder as exported
    import pixels

BUNDLE_FORMAT, BUNDLE_VERSION = "pano360-bundle", 1
BUNDLE_FILE, MODEL_FILE = "bundle.json", "model.onnx"


class BundleError(ValueError):
    """A bundle that cannot be used as it is; the message names the file and what to do."""


def is_bundle(path) -> bool:
    """A folder (a bundle, or meant as one), or a bundle's ``bundle.json`` / ``model.onnx``."""
    path = Path(path)
    return path.is_dir() or path.name in (BUNDLE_FILE, MODEL_FILE)


class Bundle:
    """``bundle.json`` read and checked, and the ONNX model behind :meth:`probabilities`."""

    def __init__(self, path, threads: int = 0):
        folder = Path(path)
        if folder.name in (BUNDLE_FILE, MODEL_FILE):
            folder = folder.parent
        spec_path = folder / BUNDLE_FILE
        try:
            spec = json.loads(spec_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise BundleError(f"{spec_path} does not exist; a bundle is the folder the export stage writes "
                              f"(`dvc repro export` → models/bundle)") from None
        except ValueError as exc:
            raise BundleError(f"{spec_path} is not JSON ({exc}); export the bundle again (`dvc repro export`)") from None
        if not isinstance(spec, dict) or spec.get("format") != BUNDLE_FORMAT:
            raise BundleError(f"{spec_path} is not a pano360 bundle description")
        if spec.get("version") != BUNDLE_VERSION:
            raise BundleError(f"{spec_path} is a version {spec.get('version')} bundle; this runner reads version "
                              f"{BUNDLE_VERSION}. Export it again with this pano360 (`dvc repro export`).")
        try:
            self.classes = list(spec["classes"])
            self.thresholds = np.array([spec["thresholds"][c] for c in self.classes], dtype=float)
            pre = spec["preprocessing"]
            self.prepare = pre["prepare"]
            self.name_pattern = pre["split"]["name_pattern"]
            net = pre["input"]
            self.size, self.interpolation = int(net["size"]), net["interpolation"]
            self.mean, self.std = net["mean"], net["std"]
            self.input_name, self.output_name = spec["model"]["input"], spec["model"]["output"]
            model_path = folder / spec["model"]["file"]
        except (KeyError, TypeError) as exc:
            raise BundleError(f"{spec_path} lacks {exc}; export the bundle again (`dvc repro export`)") from None
        self.folder, self.spec = folder, spec
        self.label_schema = spec.get("label_schema")
        if not model_path.is_file():
            raise BundleError(f"{model_path} does not exist; the bundle is incomplete (`dvc pull` or "
                              f"`dvc repro export`)")
        import onnxruntime  # here, so reading a bundle's description needs no runtime
        options = onnxruntime.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        try:
            self.session = onnxruntime.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise BundleError(f"onnxruntime cannot load {model_path}: {exc}") from None

    def probabilities(self, images, batch_size: int = 32) -> np.ndarray:
        """Class probabilities (float64, images × classes) of prepared halves (PIL RGB)."""
        out = []
        for start in range(0, len(images), batch_size):
            batch = np.stack([pixels.network_input(image, self.size, self.interpolation, self.mean, self.std)
                              for image in images[start:start + batch_size]])
            out.append(self.session.run([self.output_name], {self.input_name: batch})[0])
        return np.concatenate(out).astype(np.float64) if out else np.zeros((0, len(self.classes)))


class Panorama(NamedTuple):
    """An input panorama and its subfolders below the folder it was found in (``{folder}``)."""
    path: Path
    folder: tuple = ()

    def __fspath__(self) -> str:
        return str(self.path)

    def __str__(self) -> str:
        return str(self.path)


def as_panorama(item, root=None) -> Panorama:
    """``item`` as a Panorama; a plain path below ``root`` gets its subfolders there."""
    if isinstance(item, Panorama):
        return item
    path = Path(item)
    if root is not None:
        try:
            return Panorama(path, path.parent.resolve().relative_to(Path(root).resolve()).parts)
        except ValueError:
            pass
    return Panorama(path)


def folder_images(folder: Path) -> list[Panorama]:
    """The panoramas in ``folder`` and its subfolders (hidden ones left out), sorted."""
    return [Panorama(p, p.parent.relative_to(folder).parts)
            for p in sorted(folder.rglob("*")) if p.is_file() and p.suffix.lower() in pixels.IMAGE_SUFFIXES
            and not any(part.startswith(".") for part in p.relative_to(folder).parts)]


def list_inputs(items, root=None) -> list[Panorama]:
    """Panorama files and folders (searched recursively), in the order given, each once; a
    folder's panoramas get their subfolders there as ``{folder}``, a file its folder below
    ``root`` when it lies there."""
    found, problems = [], []
    for item in items:
        path = Path(item)
        if path.is_dir():
            images = folder_images(path)
            if not images:
                problems.append(f"{path} holds no panoramas")
            found.extend(images)
        elif not path.is_file():
            problems.append(f"{path} does not exist")
        elif path.suffix.lower() not in pixels.IMAGE_SUFFIXES:
            problems.append(f"{path} is not a panorama ({', '.join(sorted(pixels.IMAGE_SUFFIXES))})")
        else:
            found.append(as_panorama(path, root))
    if problems:
        raise BundleError("; ".join(problems))
    return unique_inputs(found)


def unique_inputs(found) -> list[Panorama]:
    """Each file once (the first time it was given)."""
    seen, out = set(), []
    for item in found:
        key = Path(item.path).resolve()
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out


def name_clash(inputs, pattern: str) -> str | None:
    """Two panoramas that would give the same half names (cameras reuse names: two site
    folders each holding R0010001.JPG, without {folder} in the pattern): the first such pair,
    as an error message; None when every half name is unique."""
    seen: dict[str, Panorama] = {}
    for item in map(as_panorama, inputs):
        name = half_name(item.path.stem, "left", item.path.suffix, pattern, item.folder)
        other = seen.setdefault(name, item)
        if other is not item:
            hint = ("put {folder} in the name pattern (e.g. --name-pattern '{folder}_{stem}_{side}{ext}', as in "
                    "split.name_pattern) or rename one of them" if "{folder}" not in pattern else "rename one of them")
            return f"{other.path} and {item.path} would both give the half {name}; {hint}"
    return None


def half_name(stem: str, side: str, ext: str, pattern: str, folder=()) -> str:
    """pano360.data.naming.half_name without its checks (tests/test_bundle.py holds them equal)."""
    return pattern.replace(_folder_field(pattern), "", 1).format(
        stem=panorama_id(stem, folder, pattern), side=side, ext=ext)


def _folder_field(pattern: str) -> str:
    """``{folder}`` and the separator after it, or "" when the pattern has none."""
    if "{folder}" not in pattern:
        return ""
    return "{folder}" + pattern.split("{folder}", 1)[1].split("{stem}", 1)[0]


def panorama_id(stem: str, folder, pattern: str) -> str:
    """pano360.data.naming.panorama_id: what stands for ``{folder}…{stem}`` in the half names."""
    separator = _folder_field(pattern)[len("{folder}"):]
    return separator.join(folder) + separator + stem if separator and folder else stem


def score_panoramas(paths, score, prepare: dict | None, name_pattern: str, chunk: int = 64, on_panorama=None):
    """Split every panorama, prepare its halves as the prepare stage does, and ``score`` them
    (a list of PIL halves → probabilities), ``chunk`` panoramas at a time so memory stays
    bounded with 8K inputs. Returns ``(rows, probabilities, failed)``: one row per half
    (image, panorama, side, source), and ``(path, why)`` for every unreadable panorama."""
    clash = name_clash(paths, name_pattern)
    if clash:
        raise BundleError(clash)
    rows, probs, failed = [], [], []
    for start in range(0, len(paths), chunk):
        halves = []
        for item in map(as_panorama, paths[start:start + chunk]):
            path = item.path
            try:
                encoded, _ = pixels.encode_halves(path)
                prepared = [(side, pixels.prepared_half(data, prepare)) for side, data, _ in encoded]
            except Exception as exc:  # reported per file; the others are still scored
                failed.append((str(path), f"{type(exc).__name__}: {exc}"))
                prepared = []
            for side, image in prepared:
                rows.append({"image": half_name(path.stem, side, path.suffix, name_pattern, item.folder),
                             "panorama": panorama_id(path.stem, item.folder, name_pattern),
                             "side": side, "source": str(path)})
                halves.append(image)
            if on_panorama:
                on_panorama()
        if halves:
            probs.append(np.asarray(score(halves), dtype=np.float64))
    n_classes = probs[0].shape[1] if probs else 0
    return rows, (np.concatenate(probs) if probs else np.zeros((0, n_classes))), failed


def panorama_scores(rows, probs):
    """One row per panorama (in first-seen order): its score per class is the max of its halves."""
    order, best, names = [], {}, {}
    for row, p in zip(rows, probs):
        source = row["source"]
        if source not in best:
            order.append(source)
            names[source] = row["panorama"]
            best[source] = p.copy()
        else:
            best[source] = np.maximum(best[source], p)
    ids = [{"panorama": names[source], "source": source} for source in order]
    return ids, (np.stack([best[s] for s in order]) if order else np.zeros((0, probs.shape[1])))


def decision_rows(ids, probs, thresholds, classes):
    """``pano360 predict``'s columns: the ids, ``p_<class>`` (6 decimals), 0/1 decisions
    (probability >= threshold) and ``predicted`` (the decided classes, ``;``-joined)."""
    out = []
    for row, p in zip(ids, probs):
        decided = p >= thresholds
        record = dict(row)
        record.update({f"p_{c}": float(np.round(v, 6)) for c, v in zip(classes, p)})
        record.update({c: int(d) for c, d in zip(classes, decided)})
        record["predicted"] = ";".join(c for c, d in zip(classes, decided) if d)
        out.append(record)
    return out


def write_csv(records, columns, path: Path) -> None:
    """The table, written whole to a temporary file and then renamed into place."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows({k: repr(v) if isinstance(v, float) else v for k, v in r.items()} for r in records)
    os.replace(tmp, path)


def panorama_table_path(out: Path) -> Path:
    return out.with_name(f"{out.stem}_panoramas{out.suffix}")


def main(argv=None) -> int:
    here = Path(__file__).resolve().parent
    ap = argparse.ArgumentParser(prog="predict.py", description="Classify the halves of panoramas with a pano360 "
                                 "bundle; writes the tables `pano360 predict` writes.")
    ap.add_argument("panoramas", nargs="+", help="panorama files or folders (searched recursively)")
    ap.add_argument("--bundle", default=str(here) if (here / BUNDLE_FILE).is_file() else None,
                    help="the bundle folder (default: the folder of this script)")
    ap.add_argument("--out", default="predictions.csv",
                    help="half-level CSV; the panorama table goes beside it as *_panoramas.csv")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--threads", type=int, default=0, help="onnxruntime threads; 0 = its default (all cores)")
    ap.add_argument("--quiet", action="store_true", help="no progress lines")
    args = ap.parse_args(argv)
    out = Path(args.out)
    try:
        if args.bundle is None:
            raise BundleError("give --bundle: the folder holding bundle.json and model.onnx")
        if out.suffix.lower() != ".csv" or out.is_dir():
            raise BundleError(f"--out {out} must be a .csv file name")
        bundle = Bundle(args.bundle, threads=args.threads)
        inputs = list_inputs(args.panoramas)
        out.parent.mkdir(parents=True, exist_ok=True)
    except (BundleError, OSError) as exc:
        print(f"predict.py: error: {exc}", file=sys.stderr)
        return 1
    done = [0]

    def report():
        done[0] += 1
        if not args.quiet and done[0] % 50 == 0 and done[0] < len(inputs):  # the last line says the rest
            print(f"predict.py: {done[0]}/{len(inputs)} panoramas", file=sys.stderr)

    try:
        rows, probs, failed = score_panoramas(inputs, lambda images: bundle.probabilities(images, args.batch_size),
                                              bundle.prepare, bundle.name_pattern, on_panorama=report)
    except BundleError as exc:   # two panoramas that would give one half name, found before any work
        print(f"predict.py: error: {exc}", file=sys.stderr)
        return 1
    for path, why in failed:
        print(f"predict.py: could not read {path}: {why}", file=sys.stderr)
    if not rows:
        print(f"predict.py: error: no panorama could be read; {out} was not written", file=sys.stderr)
        return 1
    scores = [f"p_{c}" for c in bundle.classes] + list(bundle.classes) + ["predicted"]
    write_csv(decision_rows(rows, probs, bundle.thresholds, bundle.classes),
              ["image", "panorama", "side", "source"] + scores, out)
    ids, pano_probs = panorama_scores(rows, probs)
    write_csv(decision_rows(ids, pano_probs, bundle.thresholds, bundle.classes),
              ["panorama", "source"] + scores, panorama_table_path(out))
    print(f"predict.py: {len(ids)} panoramas ({len(rows)} halves) → {out} and {panorama_table_path(out)}"
          + (f"; {len(failed)} failed" if failed else ""))
    return 2 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
