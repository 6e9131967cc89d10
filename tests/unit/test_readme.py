"""The README and docs/ stay true: the set-up commands are what CI runs, the example URLs parse, the
relative links resolve, the code examples run as written, and the README stays a page."""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from vipsfront.url.policy import Policy
from vipsfront.url.query import parse_query
from vipsfront.url.route import route

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
PAGES = [README, *DOCS]
URL_PAGES = [README, ROOT / "docs" / "url-api.md"]  # the pages whose example URLs must parse

RUN_COMMAND = "python3 -m venv .venv && . .venv/bin/activate && pip install -e '.[serve]' && vipsfront serve"
TEST_COMMAND = (
    "python3 -m venv .venv && . .venv/bin/activate && pip install -e '.[dev]' && npm ci --no-audit --no-fund"
    " && python3 -m pytest"
)
MAX_README_LINES = 250
EXAMPLE_HOSTS = ("127.0.0.1:8080", "cdn.example.com")
RESERVED = ("/_vf/health", "/_vf/info/", "/_vf/demo", "/_vf/openapi.json")
PRESETS = {"thumb": {"w": "200", "h": "200", "fm": "auto"}}  # the example preset the docs use


def text(page: Path) -> str:
    return page.read_text(encoding="utf-8")


def blocks(page: Path, *languages: str) -> list[str]:
    pattern = rf"```(?:{'|'.join(languages)})\n(.*?)```"
    return re.findall(pattern, text(page), flags=re.S)


def example_urls(page: Path) -> list[str]:
    hosts = "|".join(re.escape(host) for host in EXAMPLE_HOSTS)
    return re.findall(rf"https?://(?:{hosts})(/[^\s'\"`<>)]+)", text(page))


def relative_links(page: Path) -> list[str]:
    targets = re.findall(r"\]\(([^)\s]+)\)", text(page))
    return [t for t in targets if not re.match(r"[a-z]+:", t) and not t.startswith("#")]


def ids(pages: list[Path]) -> list[str]:
    return [str(p.relative_to(ROOT)) for p in pages]


def test_readme_is_a_page() -> None:
    lines = len(text(README).splitlines())
    assert lines < MAX_README_LINES, f"README.md has {lines} lines; move detail to docs/"


def test_readme_has_the_two_set_up_commands() -> None:
    commands = [b.strip() for b in blocks(README, "sh")]
    assert RUN_COMMAND in commands
    assert TEST_COMMAND in commands


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert TEST_COMMAND in [line.strip() for line in ci.splitlines()]


@pytest.mark.parametrize("page", PAGES, ids=ids(PAGES))
def test_relative_links_resolve(page: Path) -> None:
    missing = [t for t in relative_links(page) if not (page.parent / unquote(t.split("#")[0])).exists()]
    assert not missing, f"{page.name} links to files that do not exist: {missing}"


@pytest.mark.parametrize("page", URL_PAGES, ids=ids(URL_PAGES))
def test_example_urls_parse(page: Path) -> None:
    urls = example_urls(page)
    assert urls, f"{page.name} has no example URL"
    policy = Policy.create(presets=PRESETS)
    for url in urls:
        parts = urlsplit(url)
        if parts.path.startswith("/_vf/"):
            assert parts.path.startswith(RESERVED), url
            continue
        route(parts.path, parts.query, "image/avif,image/webp", policy, now=time.time())


@pytest.mark.parametrize("page", URL_PAGES, ids=ids(URL_PAGES))
def test_example_queries_parse_to_what_the_text_says(page: Path) -> None:
    for query in re.findall(r"`\?([^`\s]+)`", text(page)):
        parse_query(query, presets=PRESETS)
    claims = re.findall(r"`\??([a-z]+=[^`\s]*)` is (?:the variant )?`([^`\s]+)`", text(page))
    for query, canonical in claims:
        assert parse_query(query, presets=PRESETS).spec.canonical() == canonical, query


PYTHON = [(page, code) for page in PAGES for code in blocks(page, "python")]
JS = [(page, code) for page in PAGES for code in blocks(page, "js")]


@pytest.mark.parametrize(("page", "code"), PYTHON, ids=[p.name for p, _ in PYTHON])
def test_python_examples_run_and_print_what_they_say(page: Path, code: str) -> None:
    namespace: dict[str, object] = {}
    for statement in ast.parse(code).body:
        source = ast.get_source_segment(code, statement) or ""
        line = code.splitlines()[(statement.end_lineno or statement.lineno) - 1]
        expected = re.search(r'#\s*("[^"]*")\s*$', line)
        if isinstance(statement, ast.Expr):
            value = eval(compile(ast.Expression(statement.value), page.name, "eval"), namespace)  # noqa: S307
            assert isinstance(value, str) and value, source
            if expected:
                assert value == ast.literal_eval(expected.group(1)), source
        else:
            exec(compile(ast.Module([statement], []), page.name, "exec"), namespace)  # noqa: S102


@pytest.mark.parametrize(("page", "code"), JS, ids=[p.name for p, _ in JS])
def test_js_examples_run_under_node(page: Path, code: str) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed (the JavaScript examples need it)")
    # Relative imports resolve from the repository root, as they would from a page there.
    result = subprocess.run(
        [node, "--input-type=module", "-e", code],
        cwd=ROOT,
        env={**os.environ, "SECRET": "0123456789abcdef-readme"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
