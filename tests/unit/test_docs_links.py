"""Every relative link in the project's Markdown points at a file that exists."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
SKIPPED_DIRS = {".venv", ".git", "node_modules", ".pytest_cache", "test-artifacts", ".hypothesis"}


def markdown_files() -> list[Path]:
    return [path for path in ROOT.rglob("*.md") if not SKIPPED_DIRS & set(path.relative_to(ROOT).parts)]


def dead_links(path: Path) -> list[str]:
    dead = []
    for target in LINK.findall(path.read_text()):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            continue  # a URL (http:, mailto:) or an anchor in the same page
        if not (path.parent / target.split("#")[0]).exists():
            dead.append(target)
    return dead


MENTION = re.compile(r"(?<![\w/.:-])([\w./-]+\.md)\b")


def dead_mentions(path: Path, known_names: set[str]) -> list[str]:
    """A Markdown file named in the text (`docs/edge.md`, interfaces.md) that is not in the repo:
    a reader cannot follow it."""
    return [name for name in MENTION.findall(LINK.sub("", path.read_text()))
            if not ((path.parent / name).exists() or (ROOT / name).exists() or Path(name).name in known_names)]


def test_every_relative_link_in_the_markdown_resolves():
    assert len(markdown_files()) >= 5
    found = {str(path.relative_to(ROOT)): dead for path in markdown_files() if (dead := dead_links(path))}
    assert found == {}


def test_every_markdown_file_named_in_the_text_is_in_the_repo():
    files = markdown_files()
    known = {path.name for path in files}
    found = {str(path.relative_to(ROOT)): dead for path in files if (dead := dead_mentions(path, known))}
    assert found == {}


def test_a_dead_link_is_found(tmp_path):
    page = tmp_path / "page.md"
    (tmp_path / "there.md").write_text("x")
    page.write_text("[ok](there.md) [anchor](there.md#a) [web](https://example.com) [gone](missing.md#b)")
    assert dead_links(page) == ["missing.md#b"]
    assert dead_mentions(page, {"there.md"}) == []
    page.write_text("see `shared/DESIGN.md` and interfaces.md, or there.md")
    assert dead_mentions(page, {"there.md"}) == ["shared/DESIGN.md", "interfaces.md"]
