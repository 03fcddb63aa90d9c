"""Text the pages show: the library's plain messages made safe to render as Markdown.

Streamlit renders errors, warnings and captions as Markdown, where the underscores of the file-name rule
`{label}_{speaker}_{take}.wav` turn into italics and `[`, `$` or `~` start links, formulas and strikes.
A message that names a file, a path or a value the user typed goes through `plain` first. (`:` and
`{}` are left alone: with `[` escaped, `:red[...]` is no directive.)
"""

from __future__ import annotations

import re

_MARKDOWN = re.compile(r"([\\`*_\[\]<>#|~$])")


def plain(text: str) -> str:
    """`text` with every Markdown character escaped, so it renders exactly as written."""
    return _MARKDOWN.sub(r"\\\1", str(text))


def bullets(lines) -> str:
    """Plain lines as a Markdown list."""
    return "\n".join(f"- {plain(line)}" for line in lines)
