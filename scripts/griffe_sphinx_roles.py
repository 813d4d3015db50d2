"""Griffe extension for the API reference: Sphinx roles in docstrings become links.

The docstrings keep the Sphinx spelling that ``help()`` and IDEs read well
(``:class:`~sc_neurocore.core.spec.Scale```); on the rendered pages each role becomes a
cross-reference to the object's entry (an optional mkdocs-autorefs reference: a name with no
entry of its own renders as code, never as a broken link or a build warning).
"""

from __future__ import annotations

import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:py:)?(?:class|func|meth|mod|attr|data|exc|obj|const):`(~?)\.?([^`<>]+)`")


def _identifier(obj: griffe.Object, name: str) -> str:
    """The full path of ``name`` as seen from ``obj``'s module, else ``name`` itself."""
    if name.startswith("sc_neurocore"):
        return name
    scope: Any = obj if obj.is_module or obj.is_class else obj.parent
    head, _, rest = name.partition(".")
    while scope is not None:
        try:
            resolved = scope.resolve(head)
        except (griffe.NameResolutionError, AttributeError, KeyError):
            scope = scope.parent
            continue
        return f"{resolved}.{rest}" if rest else str(resolved)
    return name


def link_roles(obj: griffe.Object, text: str) -> str:
    def replace(match: re.Match[str]) -> str:
        short, name = match.group(1), match.group(2).strip()
        title = name.rsplit(".", 1)[-1] if short else name
        identifier = _identifier(obj, name)
        return f'<autoref identifier="{identifier}" optional><code>{title}</code></autoref>'

    return ROLE.sub(replace, text)


class SphinxRoles(griffe.Extension):
    """Rewrites the roles of every loaded object's docstring."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = link_roles(obj, obj.docstring.value)
