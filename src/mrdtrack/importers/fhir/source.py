"""Which files make a FHIR source (FHIR door, docs/fhir.md "Sources").

A FHIR source is a folder holding Bulk Data files (``*.ndjson``, ``*.ndjson.gz``: one resource
per line, several files per type allowed) or Bundle files (``*.json`` whose ``resourceType`` is
``Bundle``), or one such file. A Bulk Data manifest (``manifest.json``, or any ``*.json`` with an
``output`` list and a ``transactionTime``) beside the files is read: files it lists that are
missing are logged. This module only finds and classifies files; it never parses resources.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from mrdtrack.errors import UserError

#: bytes read from the start of a ``*.json`` file to tell a Bundle from a manifest or anything else
_PEEK_BYTES = 4096
_BUNDLE = re.compile(rb'"resourceType"\s*:\s*"Bundle"')


@dataclass
class FhirFiles:
    """The files of a FHIR source: Bulk ndjson files, Bundle files, the manifest (if any), and
    log lines about the files themselves (dicts: code, severity, file, message)."""

    ndjson: list[Path] = field(default_factory=list)
    bundles: list[Path] = field(default_factory=list)
    manifest: dict | None = None
    notes: list[dict] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.ndjson and not self.bundles


def is_ndjson(path: Path) -> bool:
    name = path.name.lower()
    return name.endswith(".ndjson") or name.endswith(".ndjson.gz")


def _json_kind(path: Path) -> str:
    """'bundle', 'manifest' or 'other' for a ``*.json`` file, judged from its first bytes."""
    with path.open("rb") as f:
        head = f.read(_PEEK_BYTES)
    if _BUNDLE.search(head):
        return "bundle"
    if b'"transactionTime"' in head and b'"output"' in head:
        return "manifest"
    return "other"


def is_fhir_source(path: str | Path) -> bool:
    """Whether ``path`` is a FHIR source (the COHORT dispatch asks this before reading)."""
    path = Path(path)
    if path.is_file():
        return is_ndjson(path) or (path.suffix.lower() == ".json" and _json_kind(path) == "bundle")
    if not path.is_dir():
        return False
    if any(is_ndjson(p) for p in path.iterdir() if p.is_file()):
        return True
    return any(_json_kind(p) == "bundle" for p in sorted(path.glob("*.json")) if p.is_file())


def _read_manifest(path: Path, out: FhirFiles, folder: Path) -> None:
    """Read a Bulk Data manifest; a listed output file that is not in the folder is logged."""
    try:
        manifest = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise UserError(f"{path}: the Bulk Data manifest is not valid JSON ({exc})") from None
    out.manifest = manifest
    for item in manifest.get("output") or ():
        name = str(item.get("url", "")).rstrip("/").rsplit("/", 1)[-1]
        if name and not (folder / name).is_file():
            out.notes.append({"code": "FHIR_MANIFEST_FILE_MISSING", "severity": "warning", "file": name,
                              "message": f"the manifest lists {name} ({item.get('type')}), which is not in the folder"})


def find_fhir_files(source: str | Path) -> FhirFiles:
    """The Bulk and Bundle files of a FHIR source in name order (the order never changes output)."""
    source = Path(source)
    if not source.exists():
        raise UserError(f"FHIR source '{source}' not found (expected a folder of *.ndjson or Bundle *.json files)")
    out = FhirFiles()
    paths = [source] if source.is_file() else sorted(p for p in source.iterdir() if p.is_file())
    for p in paths:
        if is_ndjson(p):
            out.ndjson.append(p)
        elif p.suffix.lower() == ".json":
            kind = _json_kind(p)
            if kind == "bundle":
                out.bundles.append(p)
            elif kind == "manifest":
                _read_manifest(p, out, source if source.is_dir() else source.parent)
    if out.empty:
        raise UserError(f"{source}: no FHIR resources found (expected *.ndjson, *.ndjson.gz or Bundle *.json files)")
    return out
