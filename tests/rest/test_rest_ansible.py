"""The ``fortinet.fortios`` Ansible collection over ``httpapi`` against ``serve --https-port``:
one ``ansible-playbook`` run (tests/rest/ansible/rotation.yml) on two hosts of the same device,
one logging in with an API token, one with a password.  Each host imports a CA, creates a local
certificate entry and deletes it; the token host also updates it, applies the same values again
(not changed), reads it back with ``fortios_configuration_fact`` and deletes it again (not
changed).  The playbook's own ``assert`` tasks check each outcome, the recap the counts.

Ansible lives in its own venv, ``.venv-ansible`` at the top of the checkout (``.ci/run`` makes it:
ansible-core and the collections fortinet.fortios, ansible.netcommon, ansible.utils taken from
the PyPI ``ansible`` bundle); ``FORTISHELL_ANSIBLE_VENV`` names another.  Without it the test is
skipped, unless ``FORTISHELL_CI`` is set (CI must run it).
"""

from __future__ import annotations

import os
import subprocess
import textwrap
from pathlib import Path

import pytest
from certs_material import MiniCa, pem
from rest_helpers import Served

HERE = Path(__file__).parent
VENV = Path(os.environ.get("FORTISHELL_ANSIBLE_VENV") or HERE.parents[1] / ".venv-ansible")
PLAYBOOK = VENV / "bin" / "ansible-playbook"
COLLECTIONS = VENV / "collections"


def _ansible() -> Path:
    if PLAYBOOK.exists() and (COLLECTIONS / "ansible_collections" / "fortinet" / "fortios").is_dir():
        return PLAYBOOK
    why = f"no Ansible venv with fortinet.fortios at {VENV} (.ci/run makes it)"
    if os.environ.get("FORTISHELL_CI"):
        pytest.fail(why)
    pytest.skip(why)


def _play(box: Served, tmp_path: Path, playbook: str, hosts: str) -> dict[str, str]:
    """Run ``ansible/<playbook>`` against ``box`` with the inventory lines ``hosts``; the recap by host."""
    exe = _ansible()
    (tmp_path / "ca.pem").write_bytes(pem(MiniCa.make("Ansible Rotation Root").cert))
    (tmp_path / "hosts").write_text("[fortishell]\n" + hosts + textwrap.dedent(f"""\
        [fortishell:vars]
        ansible_host=127.0.0.1
        ansible_network_os=fortinet.fortios.fortios
        ansible_connection=httpapi
        ansible_httpapi_use_ssl=true
        ansible_httpapi_validate_certs=false
        ansible_httpapi_port={box.server.https_port}
        ansible_python_interpreter={VENV / "bin" / "python"}
        ca_file={tmp_path / "ca.pem"}
        """))
    env = {**os.environ, "ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS), "ANSIBLE_NOCOLOR": "1",
           "ANSIBLE_LOCAL_TEMP": str(tmp_path / "tmp"), "ANSIBLE_HOME": str(tmp_path / "home"),
           "ANSIBLE_PERSISTENT_CONTROL_PATH_DIR": str(tmp_path / "pc"), "ANSIBLE_RETRY_FILES_ENABLED": "0",
           "ANSIBLE_MODULE_COMPRESSION": "ZIP_STORED"}  # stored, not deflated: a second less per task
    out = subprocess.run([str(exe), "-i", str(tmp_path / "hosts"), str(HERE / "ansible" / playbook)],
                         env=env, capture_output=True, text=True, timeout=170, check=False, cwd=tmp_path)
    log = out.stdout + out.stderr
    assert out.returncode == 0, log[-4000:]
    names = [line.split()[0] for line in hosts.splitlines()]
    recap = {line.split()[0]: line for line in log.splitlines() if line.split()[:1] and line.split()[0] in names
             and " : ok=" in line}
    assert set(recap) == set(names), log[-2000:]
    return recap


@pytest.mark.timeout(180)
def test_ansible_playbook_token_and_password_login(served, tmp_path: Path) -> None:
    box: Served = served(users_toml='[users.admin]\npassword = ""\n[users.ansible]\npassword = "pw-ansible"\n')
    token = box.token()
    recap = _play(box, tmp_path, "rotation.yml",
                  f"token ansible_httpapi_session_key='{{\"access_token\": \"{token}\"}}'\n"
                  "password ansible_user=ansible ansible_password=pw-ansible\n")
    # changed: the CA, the new entry, (token:) its update, its deletion; the repeats are ok
    assert "changed=4" in recap["token"] and "failed=0" in recap["token"], recap
    assert "changed=3" in recap["password"] and "failed=0" in recap["password"], recap
    # the device holds the CAs and no local entry any more
    shown = "\n".join(box.cli("show vpn certificate ca"))
    assert "rot-ca-token" in shown and "rot-ca-password" in shown
    assert "rot-web" not in "\n".join(box.cli("show vpn certificate local"))
    logins = box.server.registry.logins.path.read_text()
    assert "login ok user=ansible" in logins and "method=https" in logins


@pytest.mark.timeout(180)
@pytest.mark.skipif(not os.environ.get("FORTISHELL_ANSIBLE_FULL"),
                    reason="the other modules' run takes the suite 10 s more: FORTISHELL_ANSIBLE_FULL=1 runs it")
def test_ansible_global_setting_crl_and_api_user_modules(box: Served, tmp_path: Path) -> None:
    """fortios_system_global, _vpn_certificate_setting, _vpn_certificate_crl and _system_api_user
    (with a trusthost table): each change reported, each repeat not (the playbook's asserts)."""
    token = box.token()
    recap = _play(box, tmp_path, "settings.yml", f"token ansible_httpapi_session_key='{{\"access_token\": \"{token}\"}}'\n")
    assert "changed=4" in recap["token"] and "failed=0" in recap["token"], recap
    shown = "\n".join(box.cli("show system api-user rotation-bot"))
    assert "set ipv4-trusthost 127.0.0.0 255.0.0.0" in shown
    assert 'set alias "rotated"' in "\n".join(box.cli("show system global"))
