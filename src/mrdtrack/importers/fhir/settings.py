"""The numbers of the FHIR reader, each a frozen field with its meaning (docs/fhir.md, "Speed")."""

from __future__ import annotations

import os
from dataclasses import dataclass, field


def _f(default, doc: str):
    return field(default=default, metadata={"doc": doc})


@dataclass(frozen=True)
class FhirReadSettings:
    """How the FHIR reader splits its work; outputs never depend on these."""

    workers: int = _f(min(os.cpu_count() or 1, 4), "worker processes that parse files or chunks of files")
    chunk_bytes: int = _f(32 << 20, "a Bulk ndjson file larger than this is parsed in chunks of about this size "
                                    "(cut at line ends), so that one big Observation file uses every worker")
    parallel_min_bytes: int = _f(16 << 20, "below this total size the files are parsed in the calling process "
                                           "(starting workers costs more than it saves)")
