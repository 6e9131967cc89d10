"""The settings reference (docs/settings.md) is generated from the settings table and kept current."""

from __future__ import annotations

from pathlib import Path

from vipsfront.config.reference import COMMAND, render
from vipsfront.config.table import VARIABLES

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "settings.md"


def test_the_committed_reference_is_what_the_table_generates() -> None:
    assert DOC.read_text() == render(), f"docs/settings.md is stale: regenerate it with `{COMMAND}`"


def test_the_reference_lists_every_variable_once() -> None:
    text = render()
    for variable in VARIABLES:
        for name in variable.names:
            assert text.count(f"| `{name}`") + text.count(f", else `{name}`") == 1, name
