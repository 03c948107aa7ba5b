"""Example 1 typed into the real interactive shell in a terminal (tmux).

The installed ``fortishell`` runs in a detached 200x50 tmux pane on a copy of
``lab.conf`` with the guide's clock; the test types the exercise key by key,
with a Tab completion and a ``?`` help listing on the way, pages through the
``get`` output, leaves with ``exit`` and checks the screen and the saved
configuration.  Skipped when tmux is missing, except under CI (then it fails).
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from labexercises import GUIDE_CLOCK, SAMPLES, fortishell_binary

pytestmark = pytest.mark.timeout(90)

GENERATE_REST = (
    "ec-secp256r1 https://testrfc7030.com:8443 CN=firewall-portal1,DC=local,DC=COM "
    "DNS:firewall-portal1.local.ca,IP:172.18.60.184 estuser estpwd G_CA_Cert_1"
)


class Pane:
    """A detached tmux session running one command; keys in, screen text out.

    It runs on a tmux server of its own (a private socket, ``tmux -L``, no user
    configuration), never the user's: :meth:`close` ends that server and makes sure
    the command it started is gone."""

    def __init__(self, command: str, *, cwd: Path) -> None:
        self.name = f"fortishell-lab-{uuid.uuid4().hex[:8]}"
        self.socket = f"fortishell-test-{uuid.uuid4().hex[:12]}"
        self._tmux("new-session", "-d", "-s", self.name, "-x", "200", "-y", "50", "-c", str(cwd), command)
        shown = self._tmux("display-message", "-p", "-t", self.name, "#{pane_pid}").stdout.strip()
        self.pid = int(shown) if shown.isdigit() else None  # the command the pane runs

    def _tmux(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["tmux", "-L", self.socket, "-f", "/dev/null", *args], capture_output=True, text=True,
                              check=False, timeout=10)

    def type(self, text: str) -> None:
        """Literal characters (never taken as key names such as ``End``)."""
        self._tmux("send-keys", "-t", self.name, "-l", text)

    def key(self, *names: str) -> None:
        self._tmux("send-keys", "-t", self.name, *names)

    def screen(self) -> str:
        return self._tmux("capture-pane", "-p", "-t", self.name).stdout

    def history(self) -> str:
        return self._tmux("capture-pane", "-p", "-S", "-", "-t", self.name).stdout

    def alive(self) -> bool:
        return self._tmux("has-session", "-t", self.name).returncode == 0

    def wait(self, ready: Callable[[str], bool], what: str, timeout: float = 20.0, *, history: bool = False) -> str:
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            text = self.history() if history else self.screen()
            if ready(text):
                return text
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}; screen:\n{self.screen()}")

    def last_line(self) -> str:
        lines = [ln for ln in self.screen().splitlines() if ln.strip()]
        return lines[-1] if lines else ""

    def process_alive(self) -> bool:
        if self.pid is None:
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # another user's process took the number
            return False
        try:  # a zombie counts as gone once its parent (the tmux server) has ended
            with open(f"/proc/{self.pid}/stat", encoding="ascii") as f:
                return f.read().rsplit(")", 1)[1].split()[0] != "Z"
        except (OSError, IndexError):
            return True

    def close(self) -> None:
        self._tmux("kill-server")  # this test's own server: its panes get SIGHUP
        deadline = time.monotonic() + 5
        while self.process_alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        if self.process_alive() and self.pid is not None:
            os.kill(self.pid, signal.SIGKILL)  # the command this pane started, by its id


@pytest.fixture()
def pane(tmp_path: Path):
    if shutil.which("tmux") is None:
        if os.environ.get("CI"):
            pytest.fail("tmux is required under CI for the terminal lab test")
        pytest.skip("tmux is not installed")
    config = tmp_path / "lab.conf"
    shutil.copyfile(SAMPLES / "lab.conf", config)
    env = f"env FORTISHELL_STATE_DIR={shlex.quote(str(tmp_path / 'state'))} TERM=xterm-256color"
    cmd = f"{env} {shlex.quote(str(fortishell_binary()))} --config {shlex.quote(str(config))} --clock {shlex.quote(GUIDE_CLOCK)}"
    p = Pane(cmd, cwd=tmp_path)
    p.config = config  # type: ignore[attr-defined]
    try:
        yield p
    finally:
        p.close()


def _command(pane: Pane, text: str, done: Callable[[str], bool], what: str) -> str:
    pane.type(text)
    pane.key("Enter")
    return pane.wait(done, what, history=True)


def test_example1_typed_in_the_interactive_shell(pane: Pane) -> None:
    pane.wait(lambda s: s.rstrip().endswith("FortiProxy #"), "the first prompt")
    # on a tmux server of its own, not the user's default one
    default = subprocess.run(["tmux", "has-session", "-t", pane.name], capture_output=True, timeout=10)
    assert default.returncode != 0 and pane.alive() and pane.pid is not None

    # Step 1: ping the responder.
    _command(pane, "execute ping testrfc7030.com", lambda s: "0% packet loss" in s, "the ping statistics")
    # the first command line is in the scrollback once (not pushed there a second time by a redraw)
    assert pane.history().count("FortiProxy # execute ping testrfc7030.com") == 1, pane.history()

    # Step 2: debugs, the second one typed with an abbreviation.
    pane.type("diagnose debug application est -1")
    pane.key("Enter")
    pane.type("diag debug enable")
    pane.key("Enter")
    pane.wait(lambda s: s.count("FortiProxy #") >= 4, "the debug commands")

    # Step 3: the generate command with Tab completion and ? help on the way.
    pane.type("execute vpn certificate local generate es")  # "e" alone is ambiguous: ec, est
    pane.key("Tab")
    pane.wait(lambda s: pane.last_line().endswith("local generate est"), "Tab to complete 'es' to 'est'")
    pane.type(" est-test101 ?")
    help_screen = pane.wait(lambda s: "<algorithm>" in s, "the ? help listing")
    assert "ec-secp256r1" in help_screen  # the choices of the next argument are listed
    # ? is not echoed: the partial line is offered again, ready to go on.
    pane.wait(lambda s: pane.last_line().endswith("generate est est-test101"), "the line back after ?")
    pane.type(" " + GENERATE_REST)
    pane.key("Enter")
    out = pane.wait(lambda s: "\nDone." in s, "the enrollment to finish", timeout=40, history=True)
    for want in (
        "[2075] __est_get_ca_certs: ============STARTED============",
        "[1728] est_curl_req: URL: https://testrfc7030.com:8443/.well-known/est/simpleenroll",
        "[827] est_cmdb_update_cert: Cert est-test101 updated in CMDB",
        "[2408] est_simple_enroll: POST ret:0",
    ):
        assert want in out, want

    # Step 4: the new certificate, paging through the get output.
    pane.type("conf")
    pane.key("Tab")
    pane.wait(lambda s: pane.last_line().rstrip().endswith("# config"), "Tab to complete 'conf'")
    _command(pane, " vpn certificate local", lambda s: "FortiProxy (local) #" in s, "the (local) prompt")
    pane.type("get est-test101")
    pane.key("Enter")
    deadline = time.monotonic() + 20
    while "auto-regenerate-days-warning" not in pane.history():
        assert time.monotonic() < deadline, pane.screen()
        if pane.last_line().strip() == "--More--":
            pane.key("Space")
        time.sleep(0.1)
    text = pane.history()
    assert "Valid from:  2023-04-06 22:37:34  GMT" in text
    assert "Valid to:    2024-04-05 22:37:34  GMT" in text
    assert "enroll-protocol     : est" in text

    # Leave: end, then exit at the root prompt ends the shell.
    pane.wait(lambda s: pane.last_line().rstrip().endswith("(local) #"), "the prompt after get")
    _command(pane, "end", lambda s: pane.last_line().rstrip() == "FortiProxy #", "the root prompt")
    pane.type("exit")
    pane.key("Enter")
    deadline = time.monotonic() + 10
    while pane.alive():
        assert time.monotonic() < deadline, f"the shell did not exit:\n{pane.screen()}"
        time.sleep(0.1)
    saved = pane.config.read_text()  # type: ignore[attr-defined]
    assert 'edit "est-test101"' in saved and "set enroll-protocol est" in saved
    pane.close()
    assert not pane.process_alive()  # nothing left running (or defunct) behind the test
