"""params.yaml is the one configuration surface; this module reads and validates it.

Each section's schema lives beside the code it configures (``SplitParams`` in
``panorama.py``, ``TrainParams`` in ``train.py``, ...), as a pydantic model: a key that is
not an option, a wrong type or an out-of-range value fails naming the key (and, for an
unknown key, the closest valid name). Defaults live only in those models; a test checks
that params.yaml spells out the same values.

We use pydantic (a maintained, widely used validation library) rather than hand-written
checks: it gives typed, nested, frozen settings objects and precise error locations for
free, and its models document every option in one place.

A stage asks only for the sections it reads (``load_params(split=SplitParams)``), and for
single values of other sections by their dotted key (``"model.img_size"``), so its own
modules are all it depends on. Every stage still rejects an unknown top-level section.
"""
from __future__ import annotations

import difflib
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError
from pano360.errors import Pano360Error

PARAMS_FILE = "params.yaml"
# Every top-level key params.yaml may hold (the schemas live in the modules that use them).
SECTIONS = ("split", "labels", "partition", "prepare", "head", "heads", "model", "train",
            "launch", "thresholds", "evaluate")


class ParamsError(Pano360Error, ValueError):
    """params.yaml cannot be used as written; the message names the key and what to do."""


class Section(BaseModel):
    """Base of every params section: unknown keys are errors, values are frozen."""
    model_config = ConfigDict(extra="forbid", frozen=True)


def read_yaml(path: str | Path = PARAMS_FILE) -> dict:
    path = Path(path)
    if not path.is_file():
        raise ParamsError(f"{path} does not exist; run from the project root (where params.yaml is)")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ParamsError(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ParamsError(f"{path} must be a mapping of sections, got {type(data).__name__}")
    return data


def _closest(name: str, options) -> str:
    match = difflib.get_close_matches(str(name), [str(o) for o in options], n=1, cutoff=0.5)
    return f"; did you mean {match[0]!r}?" if match else ""


def _fields_at(model: type[BaseModel] | None, loc: tuple) -> list[str]:
    """Field names of the (nested) model at ``loc``, for suggestions."""
    for part in loc:
        if model is None:
            return []
        field = model.model_fields.get(part)
        annotation = getattr(field, "annotation", None)
        model = annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
    return list(model.model_fields) if model is not None else []


def _format_errors(section: str, exc: ValidationError, schema, path) -> str:
    lines = []
    for err in exc.errors():
        loc = tuple(str(p) for p in err["loc"])
        key = ".".join((section,) + loc) if section else ".".join(loc)
        if err["type"] == "extra_forbidden":
            valid = _fields_at(schema, loc[:-1]) if isinstance(schema, type) else []
            lines.append(f"{key} is not an option{_closest(loc[-1], valid)} "
                         f"(valid: {', '.join(valid)})")
        else:
            value = err.get("input")
            shown = "" if isinstance(value, dict) else f" (got {value!r})"
            msg = err["msg"].removeprefix("Value error, ")   # a validator's own sentence
            lines.append(f"{key}: {msg}{shown}")
    return f"{path}: " + ("\n  ".join(lines) if len(lines) == 1 else "\n  " + "\n  ".join(lines))


def validate_section(name: str, schema, value, path: str | Path = PARAMS_FILE):
    """Validate one section's raw value with ``schema`` (a Section subclass or a type)."""
    try:
        if isinstance(schema, type) and issubclass(schema, BaseModel):
            return schema.model_validate({} if value is None else value)
        return TypeAdapter(schema).validate_python(value)
    except ValidationError as exc:
        raise ParamsError(_format_errors(name, exc, schema, path)) from None


def check_sections(raw: dict, path: str | Path = PARAMS_FILE) -> None:
    unknown = [k for k in raw if k not in SECTIONS]
    if unknown:
        key = unknown[0]
        raise ParamsError(f"{path}: {key!r} is not a params section{_closest(key, SECTIONS)} "
                          f"(sections: {', '.join(SECTIONS)})")


class Params(SimpleNamespace):
    """Validated params: ``params.train`` for a section, ``params["model.img_size"]`` for a
    single value of another section (any key, dotted or not)."""

    def __getitem__(self, key: str):
        return getattr(self, key)


def lookup(raw: dict, dotted: str, path: str | Path = PARAMS_FILE):
    """The raw value at ``section.key.subkey``; a missing key is a ParamsError."""
    value = raw
    for i, part in enumerate(dotted.split(".")):
        if not isinstance(value, dict) or part not in value:
            raise ParamsError(f"{path}: {dotted} is missing ({'.'.join(dotted.split('.')[:i + 1])} "
                              f"is not set); add it (the default params.yaml has every key)")
        value = value[part]
    return value


def load_params(path: str | Path = PARAMS_FILE, **schemas) -> Params:
    """The requested sections or single values of params.yaml, validated:
    ``load_params(prepare=PrepareParams, **{"model.img_size": int})``.

    A whole section missing from the file takes the schema's defaults; a single (dotted) value
    must be there. The raw values read are kept in ``_raw`` so a stage can check at its end
    that nobody changed them meanwhile (:func:`check_unchanged`)."""
    raw = read_yaml(path)
    check_sections(raw, path)
    out, kept = {}, {}
    for name, schema in schemas.items():
        if name.split(".")[0] not in SECTIONS:
            raise KeyError(f"{name!r} is not a params section")
        if "." in name:
            try:
                value = lookup(raw, name, path)
            except ParamsError:  # absent: fine where the value may be empty (None), else the error
                try:
                    validate_section(name, schema, None, path)
                except ParamsError:
                    raise ParamsError(f"{path}: {name} is missing; add it (the default params.yaml "
                                      f"has every key)") from None
                value = None
        else:
            value = raw.get(name)
            if value is None and not (isinstance(schema, type) and issubclass(schema, BaseModel)):
                raise ParamsError(f"{path}: the top-level key {name!r} is missing")
        out[name] = validate_section(name, schema, value, path)
        kept[name] = value
    return Params(**out, _raw=kept, _path=str(path))


def flatten(params: dict, prefix: str = "") -> dict:
    """Nested sections as dotted keys: ``{"train": {"lr": 1}}`` -> ``{"train.lr": 1}``."""
    flat = {}
    for key, value in params.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def check_unchanged(params: SimpleNamespace) -> None:
    """Fail if params.yaml's sections that a running stage read have changed since it started.

    ``dvc exp run -S`` rewrites params.yaml even when DVC then refuses to run because another
    run holds the lock; the running stage would otherwise be recorded (dvc.lock, run-cache)
    under the new values."""
    now = read_yaml(params._path)
    changed = []
    for name, before in params._raw.items():
        try:
            after = lookup(now, name, params._path)
        except ParamsError:
            after = None
        changed += [f"{name}{key}: {a!r} -> {b!r}" for key, a, b in _diff(before, after)]
    if changed:
        raise ParamsError(
            f"{params._path} changed while this stage ran (" + "; ".join(changed[:8])
            + (" ..." if len(changed) > 8 else "") + "). The results were computed with the old "
            "values, so nothing was written. Run `dvc repro` again once no other run is editing "
            "params.yaml (queue experiments with `dvc exp run --queue`).")


def _diff(a: Any, b: Any, prefix: str = ""):
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b), key=str):
            yield from _diff(a.get(key), b.get(key), f"{prefix}.{key}")
    elif a != b:
        yield prefix, a, b


def dump(model: BaseModel) -> dict:
    """Plain JSON-ready values of a section (for logging and checkpoints)."""
    return model.model_dump(mode="json")
