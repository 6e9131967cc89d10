"""The settings reference (``docs/settings.md``), generated from ``vipsfront.config.table``.

Regenerate with ``python3 -m vipsfront.config.reference > docs/settings.md``; a test checks that the
committed file is what this prints.
"""

from __future__ import annotations

import sys

from vipsfront.config.settings import Settings, field_value
from vipsfront.config.table import SECTIONS, Variable

COMMAND = "python3 -m vipsfront.config.reference > docs/settings.md"

INTRO = f"""\
# Settings

<!-- Generated from shared/vipsfront/config/table.py by `{COMMAND}`: edit the table, not this file. -->

The origin reads these environment variables once at start-up (`Settings.from_env`). A bad value stops it
with a message naming the variable (and, for a number, the range it must be in); so does a `VIPSFRONT_*`
variable that is not below, naming the closest one that is (`VIPSFRONT_SIGNING_KEY`: did you mean
`VIPSFRONT_SIGNING_KEYS`?). The CDK stack renders the function's environment with `Settings.to_env`, so a
deployment is checked by the same rules. An empty variable is the same as an unset one.
"""

CHECKS = """\
## Checks between settings

- `VIPSFRONT_SHARED_MAX_AGE` must not exceed `VIPSFRONT_VARIANTS_EXPIRY_DAYS` (CloudFront would keep
  variants the purge can no longer list); unset, it is a week or the expiry, whichever is shorter.
- Each of `VIPSFRONT_EAGER_PRESETS` must be a preset of `VIPSFRONT_PRESETS`.
"""


def render() -> str:
    """The reference as Markdown: a table per section, then the checks between settings."""
    default = Settings()
    parts = [INTRO]
    for section in SECTIONS:
        rows = [f"## {section.title}", ""] + ([section.note, ""] if section.note else [])
        rows += ["| variable | default | takes | meaning |", "| --- | --- | --- | --- |"]
        rows += [_row(variable, default) for variable in section.variables]
        parts.append("\n".join(rows) + "\n")
    parts.append(CHECKS)
    return "\n".join(parts)


def _row(variable: Variable, default: Settings) -> str:
    names = ", else ".join(f"`{name}`" for name in variable.names)
    return f"| {names} | {_default(variable, default)} | {variable.kind.takes} | {variable.doc} |"


def _default(variable: Variable, default: Settings) -> str:
    if variable.default:
        return variable.default
    value = field_value(default, variable.path)
    if value is None:
        return "unset"
    text = variable.kind.render(value)
    return f"`{text}`" if text else "none"


if __name__ == "__main__":
    sys.stdout.write(render())
