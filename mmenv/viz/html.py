"""Markdown to one self-contained HTML page: math rendered to MathML, figures inlined, no network at view time.

:func:`markdown_to_html` converts the report's markdown (GitHub-style tables, fenced code, headings with
GitHub's anchor ids) with Python-Markdown, renders every ``$...$`` and ``$$...$$`` formula server-side to
MathML with ``latex2mathml`` (browsers display MathML natively: no script, no CDN), and inlines every local
PNG as a base64 data URI. Code spans and fenced code are left untouched. Both libraries are imported lazily.
"""

from __future__ import annotations

import base64
import html
import re
import unicodedata
from pathlib import Path

import markdown
from latex2mathml.converter import convert

__all__ = ["github_slug", "markdown_to_html", "render_math"]

_FENCE = re.compile(r"^(```|~~~).*?^\1[ \t]*$", re.S | re.M)
# Code spans first (kept as they are), then display math, then inline math: $x$ with no blank next to a
# delimiter and no newline inside (so a lone dollar sign in prose is not read as math).
_TOKENS = re.compile(r"(`+)(?:.+?)\1|\$\$(.+?)\$\$|(?<![\\$\w])\$(?=\S)([^$\n]+?)(?<=\S)\$(?![\w$])", re.S)
_CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1100px;margin:2em auto;
padding:0 1em;line-height:1.5;color:#1b1f23}
table{border-collapse:collapse;margin:1em 0;font-size:0.9em}th,td{border:1px solid #ccd;padding:3px 7px}
th{background:#f3f4f8}tr:nth-child(even) td{background:#fafbfd}
pre{background:#f6f8fa;padding:0.8em;overflow-x:auto;font-size:0.85em}code{font-size:0.9em}
img{max-width:100%}.math-display{overflow-x:auto;margin:0.8em 0;text-align:center}
em{color:#333}h2{border-bottom:1px solid #dde;padding-bottom:0.2em;margin-top:2em}
"""


def github_slug(text: str, separator: str = "-") -> str:
    """The anchor id GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens.

    >>> github_slug("IX. Strategy comparison")
    'ix-strategy-comparison'
    """
    text = unicodedata.normalize("NFKC", text).strip().lower()
    text = re.sub(r"<[^>]+>", "", text)
    text = "".join(ch for ch in text if ch.isalnum() or ch in " -_")
    return text.replace(" ", separator)


def render_math(latex: str, display: bool = False) -> str:
    """MathML of one LaTeX formula (``latex2mathml``); a formula it cannot parse raises ValueError naming it."""
    try:
        return convert(latex.strip(), display="block" if display else "inline")
    except Exception as exc:  # the library raises its own exception types
        raise ValueError(f"cannot render the formula {latex!r} to MathML: {exc}") from exc


def _protect_math(md: str) -> tuple[str, dict[str, str]]:
    """Replace every formula outside code by a placeholder token; return the text and token -> HTML."""
    store: dict[str, str] = {}

    def sub(m: re.Match) -> str:
        if m.group(1):  # a code span: unchanged
            return m.group(0)
        display = m.group(2) is not None
        key = f"MMENVMATH{len(store)}X"
        mathml = render_math(m.group(2) if display else m.group(3), display)
        store[key] = f'<div class="math-display">{mathml}</div>' if display else mathml
        return f"\n\n{key}\n\n" if display else key

    out, pos = [], 0
    for fence in _FENCE.finditer(md):
        out.append(_TOKENS.sub(sub, md[pos : fence.start()]))
        out.append(fence.group(0))
        pos = fence.end()
    out.append(_TOKENS.sub(sub, md[pos:]))
    return "".join(out), store


def _inline_images(body: str, base: Path) -> str:
    def sub(m: re.Match) -> str:
        src = html.unescape(m.group(1))
        p = base / src
        if src.startswith(("data:", "http:", "https:")) or not p.is_file():
            return m.group(0)
        mime = "image/svg+xml" if p.suffix.lower() == ".svg" else f"image/{p.suffix.lower().lstrip('.')}"
        return f'src="data:{mime};base64,{base64.b64encode(p.read_bytes()).decode()}"'

    return re.sub(r'src="([^"]+)"', sub, body)


def markdown_to_html(md: str, base: str | Path, title: str = "report") -> str:
    """One self-contained HTML page of ``md``; images are resolved against ``base`` and inlined."""
    text, store = _protect_math(md)
    conv = markdown.Markdown(
        extensions=["tables", "fenced_code", "toc", "sane_lists"],
        extension_configs={"toc": {"slugify": lambda value, separator: github_slug(value, separator)}},
    )
    body = conv.convert(text)
    for key, value in store.items():
        body = body.replace(f"<p>{key}</p>", value).replace(key, value)
    body = _inline_images(body, Path(base))
    return (
        "<!doctype html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<meta name='viewport' content='width=device-width, initial-scale=1'><title>{html.escape(title)}</title>"
        f"<style>{_CSS}</style></head><body>\n{body}\n</body></html>\n"
    )
