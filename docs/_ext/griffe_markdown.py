"""Griffe extension for the docs site: the docstrings' reStructuredText habits read as Markdown.

The docstrings write references the Sphinx way (``:func:`mmenv.outdir.staged` ``, ``:mod:`~mmenv.sim.fills` ``).
Markdown has no roles, so this extension rewrites each one, when the package has been loaded, into an
*optional* autorefs link: a link to the object's API entry when the site renders it, plain code otherwise
(an object outside the API reference, e.g. ``numpy.ndarray``, or a name the extension cannot resolve).
A relative name is looked up from the object that holds the docstring outward (its class, its module, the
package). Two more rewrites, outside inline code: a subscript written in prose (``metrics[market][strategy]``)
becomes inline code, where Markdown would read a reference link; a literal-block marker ``text::`` becomes
``text:`` (the indented block after it is a code block in Markdown too). Nothing is written back to the
Python sources.

Loaded by ``mkdocs.yml`` (``plugins: mkdocstrings: handlers: python: options: extensions``).
"""

from __future__ import annotations

import html
import re
from typing import Any

import griffe

SUBSCRIPT = re.compile(r"(?<![\w`\]])[A-Za-z_][\w.]*(?:\[[^\[\]`\s]+\]){2,}")
CODE_SPAN = re.compile(r"(``?).+?\1", re.S)
ROLE = re.compile(r":(?:py:)?(?:mod|class|func|meth|attr|data|obj|exc|const):`(?P<target>[^`]+)`")


def _lookup(collection: Any, path: str) -> str | None:
    """The canonical path of ``path`` in the loaded modules, or None."""
    try:
        obj = collection[path]
    except (KeyError, ValueError, griffe.AliasResolutionError, griffe.CyclicAliasError):
        return None
    try:
        return obj.final_target.path if obj.is_alias else obj.path
    except (griffe.AliasResolutionError, griffe.CyclicAliasError):
        return obj.path


def _resolve(obj: griffe.Object, name: str) -> str:
    """The identifier of ``name`` as seen from ``obj``: absolute if found, else ``name`` as written."""
    collection = obj.modules_collection
    found = _lookup(collection, name)
    if found:
        return found
    scope: griffe.Object | None = obj
    while scope is not None:
        found = _lookup(collection, f"{scope.path}.{name}")
        if found:
            return found
        scope = scope.parent
    return name


def _rewrite(obj: griffe.Object, text: str) -> str:
    def repl(match: re.Match[str]) -> str:
        target = match["target"].strip()
        if "<" in target and target.endswith(">"):  # :func:`title <path>`
            title, target = target[: target.index("<")].strip(), target[target.index("<") + 1 : -1].strip()
        else:
            short = target.startswith("~")
            target = target.lstrip("~")
            title = target.rsplit(".", 1)[-1] if short else target
        target = target.lstrip(".").removesuffix("()")
        identifier = _resolve(obj, target)
        return (
            f'<autoref identifier="{html.escape(identifier)}" optional>'
            f"<code>{html.escape(title)}</code></autoref>"
        )

    return ROLE.sub(repl, text)


def _outside_code(text: str, fix) -> str:
    """``fix`` applied to the parts of ``text`` outside inline code spans."""
    out, pos = [], 0
    for span in CODE_SPAN.finditer(text):
        out += [fix(text[pos : span.start()]), span.group(0)]
        pos = span.end()
    return "".join([*out, fix(text[pos:])])


def _markdown(text: str) -> str:
    text = _outside_code(text, lambda part: SUBSCRIPT.sub(lambda m: f"`{m.group(0)}`", part))
    return re.sub(r"(?<=\S)::$", ":", text, flags=re.M)


def _walk(obj: griffe.Object) -> None:
    if obj.docstring is not None:
        obj.docstring.value = _rewrite(obj, _markdown(obj.docstring.value))
    for member in obj.members.values():
        if not member.is_alias:
            _walk(member)


class DocstringMarkdown(griffe.Extension):
    """Rewrite the docstrings of a package once it is loaded (roles, subscripts, literal-block markers)."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        _walk(pkg)
