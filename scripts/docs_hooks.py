"""MkDocs hook: the API reference's table of call forms, computed from the call forms.

The 18 call forms are objects built in a loop-like tuple assignment, which the reference's
static reading does not list; this hook writes one row per name of
``sc_neurocore.training.__all__`` that is a call form, with its signature, path and
formula line, under the anchor ``sc_neurocore.training.<name>``.
"""

from __future__ import annotations

import inspect
from typing import Any

MARKER = "<!-- call forms -->"


def call_form_table() -> str:
    import sc_neurocore.training as training
    from sc_neurocore.core.bound import CallForm

    rows = ["| call form | signature | path | surrogate gradient |", "|---|---|---|---|"]
    for name in training.__all__:
        form = getattr(training, name)
        if not isinstance(form, CallForm):
            continue
        doc = (form.__doc__ or "").split("\n\n")
        formula = (
            doc[1].strip().removeprefix("g(x): ").split("  Reference")[0] if len(doc) > 1 else ""
        )
        anchor = f'<a id="sc_neurocore.training.{name}"></a>'
        path = form.path or "default"
        rows.append(
            f"| {anchor}`{name}` | `{name}{inspect.signature(form)}` | {path} | {formula} |"
        )
    return "\n".join(rows)


def on_page_markdown(markdown: str, page: Any, **kwargs: Any) -> str:
    if MARKER in markdown:
        return markdown.replace(MARKER, call_form_table())
    return markdown
