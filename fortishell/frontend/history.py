"""Command history with secrets masked.

The history form of a line (secret values as ``*``, or nothing at all) is the
shell's business: :func:`fortishell.shell.histform.history_form`.
"""

from __future__ import annotations

from prompt_toolkit.history import FileHistory

from ..shell.histform import history_form



class MaskingFileHistory(FileHistory):
    """A FileHistory that never writes secrets in clear."""

    def store_string(self, string: str) -> None:
        masked = history_form(string)
        if masked:
            super().store_string(masked)
