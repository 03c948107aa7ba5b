"""Rewrite the lab configuration backups in this directory.

    .venv/bin/python sample-configs/regenerate.py

``factory.conf``: the factory-default configuration (no lab CA: the failing
exercise).  ``lab.conf``: the same plus the shipped lab root CA
(``fortishell/lab/material/ca.pem``, CN=estExampleCA) imported as the user CA
certificate ``G_CA_Cert_1`` that the guide's Example 1 names.  Run it again
after ``python -m fortishell.lab.ca --regenerate``.  Secrets (``ENC ...``) are
encrypted afresh on every run, as on a real device.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from fortishell.cmdb import factory, store  # noqa: E402
from fortishell.cmdb.schema import CA  # noqa: E402
from fortishell.lab.ca import LabCA  # noqa: E402

LAB_CA_NAME = "G_CA_Cert_1"


def main() -> int:
    cmdb = factory.factory_cmdb()
    store.save(cmdb, HERE / "factory.conf")
    with cmdb.transaction() as tx:
        tx.put(CA, LAB_CA_NAME, {"ca": LabCA.shipped().cert_pem, "range": "global", "source": "user"})
    store.save(cmdb, HERE / "lab.conf")
    for name in ("factory.conf", "lab.conf"):
        (HERE / name).chmod(0o644)  # shipped files: readable by every student
        print(f"written {HERE / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
