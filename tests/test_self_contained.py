"""The repository is self-contained: every `*.md` a docstring, doc, template or output names exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MD = re.compile(r"(?<![\w*])((?:\.\./|\./)?(?:[\w-]+/)*[\w-]+\.md)(?![\w])")


def _sources():
    yield ROOT / "README.md"
    for folder in ("src", "docs", "examples", "benchmarks"):
        for p in (ROOT / folder).rglob("*"):
            if p.is_file() and p.suffix in {".py", ".md", ".j2", ".toml", ".R", ".css"}:
                yield p


def _resolves(ref: str, where: Path) -> bool:
    """A reference resolves beside the file that names it, from the repository root, or in docs/."""
    candidates = [where.parent / ref, ROOT / ref, ROOT / "docs" / ref]
    return any(c.resolve().is_file() for c in candidates)


def test_every_markdown_reference_resolves():
    broken = []
    for path in _sources():
        text = path.read_text(encoding="utf-8", errors="replace")
        for m in MD.finditer(text):
            if not _resolves(m.group(1), path):
                line = text.count("\n", 0, m.start()) + 1
                broken.append(f"{path.relative_to(ROOT)}:{line}: {m.group(1)}")
    assert not broken, "unresolved references:\n" + "\n".join(broken)


def test_nothing_points_outside_the_repository():
    outside = []
    for path in _sources():
        text = path.read_text(encoding="utf-8", errors="replace")
        for needle in ("../shared", "shared/spec", "spec/"):
            if needle in text:
                outside.append(f"{path.relative_to(ROOT)}: {needle}")
    assert not outside, "\n".join(outside)


def test_the_configuration_cites_only_repository_documents():
    from mrdtrack.config import Config

    sources = {f.metadata.get("source", "") for f in Config.__dataclass_fields__.values()}
    for s in sources:
        for ref in MD.findall(s):
            assert (ROOT / ref).is_file(), s
