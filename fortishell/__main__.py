"""Command line entry point: argument parsing and wiring only.

    fortishell [GLOBAL OPTIONS]                      interactive shell
    fortishell [GLOBAL OPTIONS] run [--keep-going] [--expect FILE] SCRIPT...
    fortishell lab-server [--host H] [--port P] [--state-dir DIR] [faults]

Global options go before the subcommand and apply to the REPL and replay alike.
"""

from __future__ import annotations

import os
import sys

def main(argv: list[str] | None = None) -> int:
    if argv is None and __name__ == "__main__":
        from fortishell import _bootstrap

        # requirements: pyproject.toml; .venv taken on in this process when it is this interpreter's
        _bootstrap.ensure_venv(["-m", "fortishell", *sys.argv[1:]], adopt=True)
    from fortishell.cli_main import run_main

    try:
        return run_main(sys.argv[1:] if argv is None else argv)
    except BrokenPipeError:
        # `fortishell run script | head`: the reader went away; end quietly like other CLI tools
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - stdout must stay writable for shutdown
        except OSError:
            pass
        return 141
    except KeyboardInterrupt:
        print("", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
