#!/usr/bin/env python3
"""The named peer of ``bench/ssh_load.py``: fake-switches (a Twisted-based switch CLI emulator).

    <python with fake-switches installed> bench/peer_fake_switches.py PORT

Serves one ``cisco_generic`` switch on 127.0.0.1:PORT (user ``root``, password
``root``, enable password ``root``) and prints ``peer on 127.0.0.1:PORT`` once
listening.  Not a project dependency: install it into a separate environment
(``pip install --no-deps fake-switches`` then ``pip install 'twisted[conch]'
tftpy netaddr lxml``; its pinned Twisted 16 does not build on Python 3.11).
"""

import logging
import sys

from fake_switches import switch_factory  # type: ignore[import-not-found]
from fake_switches.transports.ssh_service import SwitchSshService  # type: ignore[import-not-found]
from twisted.internet import reactor  # type: ignore[import-not-found]


def main() -> None:
    port = int(sys.argv[1])
    logging.basicConfig(level="WARNING")
    core = switch_factory.SwitchFactory().get("cisco_generic", "switch", "root")
    SwitchSshService(ip="127.0.0.1", port=port, switch_core=core, users={"root": b"root"}).hook_to_reactor(reactor)
    reactor.callWhenRunning(lambda: print(f"peer on 127.0.0.1:{port}", file=sys.stderr, flush=True))
    reactor.run()


if __name__ == "__main__":
    main()
