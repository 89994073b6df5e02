"""The docs stand on their own: every relative link in the README, docs/ and the simulator's API
page resolves inside the repository, anchors included (GitHub's heading slugs)."""

import re
from pathlib import Path

import pytest

from tests.processes import ROOT

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "sim/src/pbxsim/API.md"]


def _anchors(page: Path) -> set[str]:
    text = page.read_text()
    found = set(re.findall(r'<a id="([^"]+)"', text))
    for heading in re.findall(r"^#+\s+(.*)$", text, re.M):
        found.add(re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-"))
    return found


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(page: Path):
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)  # code is not a link
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+://|mailto:", target):
            continue
        path, _, anchor = target.partition("#")
        destination = (page.parent / path) if path else page
        if (
            not destination.exists()
            or not destination.resolve().is_relative_to(ROOT)
            or (anchor and destination.suffix == ".md" and anchor not in _anchors(destination))
        ):
            broken.append(target)
    assert broken == []


def test_nothing_points_outside_the_repository():
    for page in PAGES:
        assert "../shared" not in page.read_text() and "PROCEDURES.md" not in page.read_text()
