"""The documentation holds together: every page is in the site's navigation, every relative
link in README.md and docs/ resolves (file and anchor), and every file the code's docstrings
and comments cite exists. Pure Python, no MkDocs: `nox -s docs` builds the site itself."""

from __future__ import annotations

import ast
import glob
import io
import re
import tokenize
import unicodedata
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
CODE_DIRS = ("bench", "suites", "implementations", "scripts", "tests")

LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
FENCE = re.compile(r"^\s*(```|~~~)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*$")
EXPLICIT_ID = re.compile(r"\{#([\w-]+)\}\s*$")


def pages() -> list[Path]:
    return sorted(DOCS.rglob("*.md"))


def markdown_files() -> list[Path]:
    return [ROOT / "README.md", *pages()]


def rel(path: Path) -> str:
    """A path as the messages show it: from the repository's root (a file outside: its name)."""
    return path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else path.name


def prose_lines(text: str) -> list[str]:
    """The lines outside fenced code blocks, with inline code and HTML comments removed."""
    text = re.sub(r"<!--.*?-->", "", text, flags=re.S)
    out, fenced = [], False
    for line in text.splitlines():
        if FENCE.match(line):
            fenced = not fenced
            continue
        out.append("" if fenced else re.sub(r"`[^`]*`", "", line))
    return out


def slug(title: str) -> str:
    """Python-Markdown's toc slug, which MkDocs uses for heading anchors."""
    value = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    value = re.sub(r"[^\w\s-]", "", value).strip().lower()
    return re.sub(r"[-\s]+", "-", value)


@cache
def anchors(path: Path) -> frozenset[str]:
    """Every heading's anchor in a Markdown file: its explicit {#id}, else its slug."""
    found = set()
    for line in prose_lines(path.read_text()):
        heading = HEADING.match(line)
        if not heading:
            continue
        title = heading.group(2)
        explicit = EXPLICIT_ID.search(title)
        found.add(explicit.group(1) if explicit else slug(re.sub(r"[*_]", "", title)))
    return frozenset(found)


def nav_pages() -> set[str]:
    """The .md files mkdocs.yml's nav lists, relative to docs/."""
    text = (ROOT / "mkdocs.yml").read_text()
    nav = text.split("\nnav:", 1)[1] if "\nnav:" in text else ""
    nav = re.split(r"\n\S", nav, maxsplit=1)[0]  # up to the next top-level key
    return set(re.findall(r"([\w./-]+\.md)\s*$", nav, flags=re.M))


def test_every_page_is_in_the_navigation():
    listed = nav_pages()
    missing = [rel(p) for p in pages() if p.relative_to(DOCS).as_posix() not in listed]
    assert not missing, f"pages missing from mkdocs.yml's nav: {missing}"
    absent = sorted(page for page in listed if not (DOCS / page).is_file())
    assert not absent, f"mkdocs.yml's nav lists pages that do not exist: {absent}"


def broken_links(path: Path) -> list[str]:
    broken = []
    for number, line in enumerate(prose_lines(path.read_text()), 1):
        for target in LINK.findall(line):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
                continue
            file_part, _, anchor = target.partition("#")
            resolved = (path.parent / file_part).resolve() if file_part else path
            where = f"{rel(path)}:{number}: {target}"
            if not resolved.exists():
                broken.append(f"{where} (no such file)")
            elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
                broken.append(f"{where} (no heading with this anchor)")
    return broken


@pytest.mark.parametrize("path", markdown_files(), ids=rel)
def test_relative_links_resolve(path):
    broken = broken_links(path)
    assert not broken, "broken links:\n" + "\n".join(broken)


def test_the_link_checker_sees_a_broken_link_and_anchor(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# Title\n\n[a](missing.md) [b](#title) [c](#nowhere) [d](https://x.org)\n"
                    "```\n[e](also-missing.md)\n```\n")
    assert [b.split(": ", 1)[1] for b in broken_links(page)] == [
        "missing.md (no such file)", "#nowhere (no heading with this anchor)"]


# --- what the code cites ----------------------------------------------------------------------

#: A path into the repository: it must exist (a * matches as in a shell glob).
REPO_PATH = re.compile(r"(?<![\w./-])((?:docs|scripts|bench|suites|implementations|tests|\.github)"
                       r"/[\w*./-]*\w)(#[\w-]+)?")
#: A document by its capitalised name, such as the README: it must exist at the root.
DOCUMENT = re.compile(r"(?<![\w./-])([A-Z][A-Z_]+\.md)\b")
#: A section of the README by its title, or something the README holds: the README is the
#: front door, and what the code cites lives in docs/.
README_SECTION = re.compile(r"README(?:\.md)?(?:,\s*\"[^\"]+\"|'s\s+\w+)")


def commentary(path: Path) -> list[tuple[int, str]]:
    """(line, text) of a Python file's comments and docstrings."""
    source = path.read_text()
    found = []
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            found.append((token.start[0], token.string))
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                start = body[0].lineno
                lines = body[0].value.value.split("\n")
                found += [(start + i, line) for i, line in enumerate(lines)]
    return found


def code_files() -> list[Path]:
    return sorted(p for d in CODE_DIRS for p in (ROOT / d).rglob("*.py")
                  if ".nox" not in p.parts and "__pycache__" not in p.parts)


def unresolved_citations(path: Path) -> list[str]:
    problems = []
    for number, text in commentary(path):
        where = f"{rel(path)}:{number}"
        for cited, anchor in REPO_PATH.findall(text):
            cited = cited.rstrip(".")
            matches = glob.glob(str(ROOT / cited)) if "*" in cited else \
                [str(ROOT / cited)] if (ROOT / cited).exists() else []
            if not matches and not Path(cited).suffix:  # a file-name prefix, as a --prefix takes
                matches = glob.glob(str(ROOT / cited) + "*")
            if not matches:
                problems.append(f"{where}: {cited} does not exist")
            elif anchor and cited.endswith(".md") and anchor[1:] not in anchors(ROOT / cited):
                problems.append(f"{where}: {cited}{anchor}: no such heading")
        for document in DOCUMENT.findall(text):
            if not (ROOT / document).exists():
                problems.append(f"{where}: {document} is not in the repository; cite docs/")
        for section in README_SECTION.findall(text):
            problems.append(f"{where}: {section}: cite the docs page that holds it")
    return problems


def test_every_file_the_code_cites_exists():
    problems = [p for path in code_files() for p in unresolved_citations(path)]
    assert not problems, (f"{len(problems)} citations in docstrings and comments do not "
                          "resolve:\n" + "\n".join(problems))


def test_the_citation_checker_sees_a_missing_file_section_and_anchor(tmp_path):
    fake = tmp_path / "fake.py"
    fake.write_text('"""See docs/models.md#dcgan and docs/nowhere.md, MODELS.md."""\n'
                    '# README, "Timings that hold"; docs/models.md#no-such-family\n'
                    "X = 'docs/strings-are-not-citations.md'\n")
    problems = unresolved_citations(fake)
    assert [p.split(": ", 1)[1] for p in problems] == [
        "docs/models.md#no-such-family: no such heading",
        "README, \"Timings that hold\": cite the docs page that holds it",
        "docs/nowhere.md does not exist",
        "MODELS.md is not in the repository; cite docs/",
    ]
