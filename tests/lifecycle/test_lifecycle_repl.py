"""A background renewal during an interactive REPL session prints above the prompt (pipe input)."""

from __future__ import annotations

import datetime as dt
import io
import re
import threading
import time
from pathlib import Path

import pytest
from lifecycle_helpers import DEBUG_ON, ENROLL, local_cert, replay
from prompt_toolkit.data_structures import Size
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output.vt100 import Vt100_Output

from fortishell.clock import Clock
from fortishell.repl import run_repl
from fortishell.shell.device import Device

pytestmark = pytest.mark.timeout(60)
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[=>]|\r")


def test_background_renewal_prints_above_the_prompt(tmp_path: Path, config_path: Path) -> None:
    dev = Device.open(config_path, tmp_path / "state", Clock())
    try:
        replay(dev, ENROLL + "\nconfig vpn certificate local\nedit est-test101\nset auto-regenerate-days 30"
                    "\nnext\nend\n" + DEBUG_ON)
        old = local_cert(dev)
        buf = io.StringIO()
        out = Vt100_Output(buf, lambda: Size(rows=50, columns=200), term="xterm")
        dev.start_background(interval=0.02)
        with create_pipe_input() as inp:
            def user() -> None:
                deadline = time.monotonic() + 20
                while "FortiProxy #" not in _ANSI.sub("", buf.getvalue()) and time.monotonic() < deadline:
                    time.sleep(0.01)
                # time passes while the user sits at the prompt: the certificate becomes due
                dev.clock.set(old.not_valid_after_utc - dt.timedelta(days=31, seconds=0.2))
                while local_cert(dev).serial_number == old.serial_number and time.monotonic() < deadline:
                    time.sleep(0.01)
                while "POST ret:0" not in _ANSI.sub("", buf.getvalue()) and time.monotonic() < deadline:
                    time.sleep(0.01)
                inp.send_text("exit\r")

            typist = threading.Thread(target=user, daemon=True)
            typist.start()
            assert run_repl(dev, history_path=None, input=inp, output=out) == 0
            typist.join(5)
        text = _ANSI.sub("", buf.getvalue())
        assert local_cert(dev).serial_number != old.serial_number
        first_prompt = text.index("FortiProxy #")
        renewed = text.index("[2477] est_simple_reenroll: POST ret:0")
        assert first_prompt < text.index("[1024] reconstruct_est_ctx: Reconstruction succeeded") < renewed
        assert renewed < text.rindex("exit")
    finally:
        dev.close()
