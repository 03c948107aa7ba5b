"""Start-up stays lazy: a one-line ``run`` and the interactive shell up to its first prompt import
none of the stacks a command needs only when it runs (issue 22, speed; the figures are
``bench/startup.py``'s, never a timed test here).

One subprocess (a clean ``sys.modules``), started on an existing configuration file, runs the
REPL of the local terminal on a pipe (noting the modules when its first prompt is up) and
``exit``, then ``fortishell run`` on ``get system status`` through the entry point, and reports
which modules were imported at the prompt and in all."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from fortishell.clock import Clock
from fortishell.shell.commands import certs_tree, diagnose, execute
from fortishell.shell.device import Device
from fortishell.shell.commands.tree import Lazy, Node

# imported only when a command needs them: the EST, SCEP and ACME stacks, the HTTP client and
# transfer stack, ASN.1, the lab, the handler modules of the certificate commands, the REST door;
# x509 (the configuration's certificates are not parsed at load: cmdb/types.py)
LAZY = (
    "httpx", "httpcore", "h11", "pyasn1", "pyasn1_modules", "tlslite", "tftpy", "rich", "asyncssh",
    "fortishell.est.engine", "fortishell.est.transport", "fortishell.est.flows", "fortishell.est.pki",
    "fortishell.est.args", "fortishell.est.settings", "fortishell.scep", "fortishell.acme", "fortishell.lab",
    "fortishell.certs", "fortishell.rest", "fortishell.shell.filexfer",
    "fortishell.shell.commands.certs", "fortishell.shell.commands.certs_ca", "fortishell.shell.commands.certs_est",
    "fortishell.shell.commands.certs_scep", "fortishell.shell.commands.apiuser", "cryptography.x509",
)

PROBE = textwrap.dedent("""
    import sys
    from pathlib import Path

    from prompt_toolkit.application import Application
    from prompt_toolkit.input import create_pipe_input
    from prompt_toolkit.output import DummyOutput

    state, script, out = (Path(a) for a in sys.argv[1:4])
    at_prompt = []
    run_async = Application.run_async

    async def noting_run_async(self, *args, **kwargs):  # the modules when the first prompt is up
        at_prompt.extend(() if at_prompt else sorted(sys.modules))
        return await run_async(self, *args, **kwargs)

    Application.run_async = noting_run_async
    from fortishell.clock import Clock
    from fortishell.repl import run_repl
    from fortishell.shell.device import Device

    dev = Device.open(state / "fortishell.conf", state, Clock(), journal=True)
    try:
        with create_pipe_input() as inp:
            inp.send_text("exit\\r")
            rc_repl = run_repl(dev, history_path=state / "history", input=inp, output=DummyOutput())
    finally:
        dev.close()

    from fortishell.__main__ import main

    rc = main(["--state-dir", str(state), "run", str(script)])
    out.write_text(f"{rc} {rc_repl}\\n" + " ".join(sorted(sys.modules)) + "\\n" + " ".join(at_prompt) + "\\n")
""")


def _heavy(modules: list[str]) -> list[str]:
    return [m for m in modules if any(m == name or m.startswith(name + ".") for name in LAZY)]


@pytest.fixture(scope="module")
def started(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, list[str], list[str]]:
    tmp = tmp_path_factory.mktemp("startup")
    # a later start, as a newcomer's (the first one writes the configuration file, which the later
    # ones read)
    Device.open(tmp / "state" / "fortishell.conf", tmp / "state", Clock(), journal=True).close()
    script = tmp / "one.cli"
    script.write_text("get system status\n")
    out = tmp / "modules.txt"
    proc = subprocess.run([sys.executable, "-c", PROBE, str(tmp / "state"), str(script), str(out)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "Hostname: FortiProxy" in proc.stdout  # the command really ran
    codes, after_run, after_prompt = out.read_text().splitlines()
    return codes, after_run.split(), after_prompt.split()


def test_one_line_run_imports_no_command_stack(started: tuple[str, list[str], list[str]]) -> None:
    codes, after_run, _ = started
    assert codes == "0 0"
    assert "fortishell.shell.commands.execute" in after_run  # the tree itself is there
    assert _heavy(after_run) == []


def test_first_prompt_imports_no_command_stack(started: tuple[str, list[str], list[str]]) -> None:
    _, _, after_prompt = started
    assert "prompt_toolkit" in after_prompt and "fortishell.frontend.interact" in after_prompt
    assert _heavy(after_prompt) == []
    # the command-line parser (lark and the grammar) waits for the first line typed
    assert "lark" not in after_prompt and "fortishell.cli.parser" not in after_prompt


def _lazies(node: Node) -> list[Lazy]:
    found = [ref for ref in (node.handler, node.args) if isinstance(ref, Lazy)]
    for child in node.children.values():
        found += _lazies(child)
    return found


def test_every_lazy_reference_names_a_function() -> None:
    refs = _lazies(execute.TREE) + _lazies(diagnose.TREE)
    assert {(r.module, r.name) for r in refs} >= {("certs_ca", "do_ca_import_tftp"), ("certs_est", "do_ca_import_est"),
                                                  ("certs_scep", "do_ca_import_auto"), ("certs", "do_generate_rsa")}
    for ref in refs:
        assert callable(ref.target()), ref


def test_tree_curves_are_the_validated_ones() -> None:
    from fortishell.certs import request

    assert certs_tree.CURVES == request.CURVES


def test_plain_start_parses_as_the_parser_would() -> None:
    """``fortishell`` with no arguments builds no argument parser; what it takes is the parser's answer."""
    from fortishell import cli_main

    assert cli_main.parse_global([]) == cli_main._global_parser().parse_args([])
    assert cli_main.parse_global(["run", "x"]).command == "run"


def test_a_plain_line_never_needs_the_scanner() -> None:
    """``needs_more`` on a line without quotes or backslashes answers without the token scanner."""
    from fortishell.cli import parser

    parser._scanner.cache_clear()
    assert parser.needs_more("get system status") is False and parser._scanner.cache_info().currsize == 0
    assert parser.needs_more('set comments "open') is True
