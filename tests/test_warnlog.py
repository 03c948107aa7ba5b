"""fortishell/warnlog.py: nothing fortishell or a library logs reaches a shell user's terminal."""

from __future__ import annotations


def test_fortishells_own_logs_go_to_the_device_debug_log_not_stderr(tmp_path, capfd) -> None:  # noqa: ANN001
    """While a local shell or run has its device open, an error a lab server or the challenge
    responder logs (the ``fortishell`` logger tree) lands in that device's debug.log; without it,
    logging's last-resort handler wrote it to the user's terminal."""
    import logging

    from fortishell.clock import Clock
    from fortishell.shell.device import Device
    from fortishell.warnlog import library_logs_to

    device = Device.open(tmp_path / "fortishell.conf", tmp_path, Clock(), journal=True)
    tree = logging.getLogger("fortishell")
    before = list(tree.handlers)
    try:
        with library_logs_to(device.log):
            logging.getLogger("fortishell.lab").error("lab responder: GET /x failed\nTraceback ...")
    finally:
        device.close()
    assert tree.handlers == before  # detached with the device
    assert capfd.readouterr().err == ""
    assert "lab responder: GET /x failed" in (tmp_path / "debug.log").read_text()
