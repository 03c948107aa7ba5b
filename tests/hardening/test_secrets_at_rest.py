"""Secrets at rest: the saved configuration, the history file and the debug output.

* the saved configuration holds passwords only as ``ENC <base64>`` and private
  keys only as ``ENCRYPTED PRIVATE KEY`` PEM (also a clear key typed with
  ``set private-key``, and the key of a real EST enrollment on the lab);
* the REPL history file never holds a password or a private key in clear,
  however the attribute is abbreviated, nor the password positions of
  ``execute vpn certificate local generate est``;
* the debug output of an enrollment shows a password only where the guide's
  own ``est_ctx`` dump does (``http_password:``, ``srp_password:``, ``passwd:``).
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from fortishell.clock import Clock
from fortishell.cmdb import store
from fortishell.replay import transcript
from fortishell.repl import run_repl
from fortishell.shell.device import Device
from fortishell.shell.session import Session

pytestmark = pytest.mark.timeout(40)

LAB_TIME = dt.datetime(2023, 4, 6, 22, 37, 34, tzinfo=dt.timezone.utc)
LAB_CONF = Path(__file__).resolve().parents[2] / "sample-configs" / "lab.conf"
LOCAL = ("vpn", "certificate", "local")
CLEAR_KEY_MARKERS = ("BEGIN PRIVATE KEY", "BEGIN EC PRIVATE KEY", "BEGIN RSA PRIVATE KEY")


def clear_key_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode().strip()


def lab_device(tmp: Path) -> Device:
    conf = tmp / "fortishell.conf"
    conf.write_text(LAB_CONF.read_text("utf-8"), "utf-8")
    return Device.open(conf, tmp / "state", Clock(fixed=LAB_TIME))


def assert_no_clear(text: str, secrets: list[str], where: str) -> None:
    for secret in secrets:
        assert secret not in text, f"{secret!r} in clear in {where}"
    for marker in CLEAR_KEY_MARKERS:
        assert f"-----{marker}-----" not in text, f"a clear private key in {where}"


def private_keys(text: str) -> list[str]:
    return re.findall(r'set private-key "(-----BEGIN [A-Z ]+-----)', text)


def test_saved_configuration_has_enc_passwords_and_encrypted_keys(tmp_path: Path) -> None:
    dev = lab_device(tmp_path)
    try:
        sess = Session(dev)
        pem = clear_key_pem()
        lines = [
            "config vpn certificate local", "edit sec1",
            "set est-http-username estuser", "set est-http-password HttpPw-Secret-1",
            "set est-srp-username srpuser", 'set est-srp-password "Srp Pw Secret 2"',
            "set enroll-protocol scep", "set scep-password ScepPw-Secret-3",
            f'set private-key "{pem}"', "next",
            "edit sec2", f'set private-key "{pem}"', "set password KeyPw-Secret-4", "end",
            "config vpn certificate setting", "set proxy-password ProxyPw-Secret-5", "end",
        ]
        for line in lines:
            r = sess.execute(line)
            assert r.rc == 0, (line, r.lines)
        text = dev.config_path.read_text("utf-8")
        secrets = ["HttpPw-Secret-1", "Srp Pw Secret 2", "ScepPw-Secret-3", "KeyPw-Secret-4", "ProxyPw-Secret-5"]
        assert_no_clear(text, secrets, "the saved configuration")
        for attr in ("est-http-password", "est-srp-password", "scep-password", "proxy-password"):
            assert re.search(rf"set {attr} ENC [A-Za-z0-9+/=]+\n", text), attr
        keys = private_keys(text)
        assert keys and all(k == "-----BEGIN ENCRYPTED PRIVATE KEY-----" for k in keys), keys
        # `show` prints the same at-rest forms
        shown = "\n".join(sess.execute("show vpn certificate local").lines)
        assert_no_clear(shown, secrets, "show")
        # the stored key is the imported one, under the entry's password (the given one for sec2)
        loaded = store.load(dev.config_path)
        assert loaded == dev.cmdb
        want = serialization.load_pem_private_key(pem.encode(), None).private_numbers()
        for name, password in (("sec1", None), ("sec2", "KeyPw-Secret-4")):
            entry = loaded.entry(LOCAL, name)
            assert entry is not None
            if password is not None:
                assert entry.get("password") == password
            key = serialization.load_pem_private_key(entry.get("private-key").encode(),
                                                     entry.get("password").encode())
            assert key.private_numbers() == want
        # a clear key that does not load is refused, nothing stored
        before = dev.config_path.read_bytes()
        r = sess.execute("config vpn certificate local")
        r = sess.execute("edit sec3")
        r = sess.execute('set private-key "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----"')
        assert r.rc != 0 and r.lines[-1].startswith("Command fail")
        sess.execute("abort")
        assert dev.config_path.read_bytes() == before
    finally:
        dev.close()


def test_enrollment_keeps_secrets_out_of_the_file_and_the_debug_output(tmp_path: Path) -> None:
    dev = lab_device(tmp_path)
    try:
        script = "\n".join([
            "diagnose debug application est -1",
            "diagnose debug enable",
            "execute vpn certificate local generate est est-sec9 ec-secp256r1 https://testrfc7030.com:8443 "
            "CN=fw9,DC=local DNS:fw9.local estuser estpwd G_CA_Cert_1 \"\" KeyPw-Zq81-Secret",
            "diagnose debug disable",
        ]) + "\n"
        rc, out = transcript(script, dev, keep_going=True)
        assert rc == 0, out[-3000:]
        entry = dev.cmdb.entry(LOCAL, "est-sec9")
        assert entry is not None and entry.get("certificate"), out[-3000:]
        text = dev.config_path.read_text("utf-8")
        assert_no_clear(text, ["estpwd", "KeyPw-Zq81-Secret"], "the saved configuration")
        assert private_keys(text) and set(private_keys(text)) == {"-----BEGIN ENCRYPTED PRIVATE KEY-----"}
        # debug output: secrets only in the guide's est_ctx fields
        allowed = re.compile(r"^\s*(?:http_password|srp_password|passwd):")
        prompt_lines = tuple(p for p in ("FortiProxy # ", "FortiProxy (") )
        for line in out.splitlines():
            if line.startswith(prompt_lines):
                continue  # the command as typed
            if "estpwd" in line or "KeyPw-Zq81-Secret" in line:
                assert allowed.match(line), f"secret in debug output: {line!r}"
        assert any(re.match(r"^\s*http_password:estpwd", ln) for ln in out.splitlines())
    finally:
        dev.close()


def test_repl_history_never_holds_secrets(tmp_path: Path) -> None:
    dev = Device.open(tmp_path / "fortishell.conf", tmp_path / "state", Clock(fixed=LAB_TIME))
    history = tmp_path / "state" / "history"
    pem = clear_key_pem()
    typed = [
        "config vpn certificate local", "edit h1",
        "set est-http-password HistPw-One", "set est-http-p HistPw-Two", 'set est-srp-pass "Hist Pw Three"',
        "set passw HistPw-Four", f'set priv "{pem}"', "next", "end",
        "config vpn certificate setting", "set proxy-pa HistPw-Five", "end",
        "exec vpn cert loc gen es h2 ec-secp256r1 https://127.0.0.1:1 CN=h2 DNS:h2.local huser HistPw-Six "
        '"" "" HistPw-Seven "" "" srpu HistPw-Eight',
        "config vpn certificate local", "edit h1",
        'set est-http-password "HistPw-Nine\rcontinued on a second line"',  # Enter inside a quote continues
        "end",
        "exit",
    ]
    try:
        with create_pipe_input() as inp:
            inp.send_text("".join(t + "\r" for t in typed))
            rc = run_repl(dev, history_path=history, input=inp, output=DummyOutput())
        assert rc == 0
        text = history.read_text("utf-8")
        assert "edit h1" in text and "set est-http-p *" in text  # the history was written
        secrets = [f"HistPw-{n}" for n in ("One", "Two", "Four", "Five", "Six", "Seven", "Eight", "Nine")]
        assert_no_clear(text, secrets + ["Hist Pw Three"], "the history file")
        # what reached the configuration is encrypted too
        assert_no_clear(dev.config_path.read_text("utf-8"), secrets + ["Hist Pw Three"], "the configuration")
        assert dev.cmdb.entry(LOCAL, "h1").get("est-http-password") == "HistPw-Nine\ncontinued on a second line"
    finally:
        dev.close()
