"""The local terminal door: ``fortishell`` with no script runs :func:`run_repl`.

The interact loop itself (shared with the SSH server) is
:class:`fortishell.frontend.interact.Repl`.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from prompt_toolkit.history import History, InMemoryHistory
from prompt_toolkit.input import Input
from prompt_toolkit.output import Output

from .frontend.history import MaskingFileHistory
from .frontend.interact import Repl

if TYPE_CHECKING:
    from .shell.device import Device

__all__ = ["run_repl"]


def run_repl(device: "Device", *, history_path: Path | None, input: Input | None = None,
             output: Output | None = None) -> int:
    """Run the interactive shell until ``exit`` or Ctrl-D at the root prompt."""
    history: History
    if history_path is not None:
        Path(history_path).parent.mkdir(parents=True, exist_ok=True)
        history = MaskingFileHistory(str(history_path))
    else:
        history = InMemoryHistory()
    # the console pages like a real one when it is a terminal; pipes and test I/O never page
    paging = input is None and output is None and sys.stdin.isatty() and sys.stdout.isatty()
    return Repl(device, history=history, input=input, output=output, paging=paging).run()
