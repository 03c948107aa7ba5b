"""Fixtures for the EST engine tests: a lab responder on 127.0.0.1, a CMDB, a traced engine."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from fortishell.clock import Clock
from fortishell.cmdb.model import Cmdb
from fortishell.est.args import CA, parse_generate_args
from fortishell.est.engine import EstEngine
from fortishell.lab.ca import LabCA
from fortishell.lab.server import EstResponder, ResponderConfig
from fortishell.trace import Tracer

LAB_HOST = "testrfc7030.com"


class HostMap:
    """network.resolve(): the lab host name -> the responder's loopback address."""

    def __init__(self, addr: tuple[str, int]) -> None:
        self.addr = addr

    def resolve(self, host: str, port: int) -> tuple[str, int] | None:
        return self.addr if host == LAB_HOST else None


@dataclass
class Rig:
    responder: EstResponder
    cmdb: Cmdb
    engine: EstEngine
    lines: list[str] = field(default_factory=list)
    sleeps: list[float] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"https://{LAB_HOST}:{self.responder.port}"

    def generate(self, *words: str) -> list[str]:
        return self.engine.generate(parse_generate_args(list(words), self.cmdb))

    def trust_lab_ca(self, name: str = "G_CA_Cert_1") -> None:
        with self.cmdb.transaction() as tx:
            tx.put(CA, name, {"ca": LabCA.shipped().cert_pem})


@pytest.fixture
def make_rig(tmp_path: Path) -> Iterator:
    started: list[EstResponder] = []

    def make(trust: bool = True, **config) -> Rig:
        clock = Clock()
        responder = EstResponder(ResponderConfig(state_dir=tmp_path / f"lab{len(started)}", clock=clock,
                                                 **config)).start()
        started.append(responder)
        lines: list[str] = []
        tracer = Tracer(clock, sink=lines.append)
        tracer.enabled = True
        tracer.set_level("est", -1)
        cmdb = Cmdb()
        rig = Rig(responder, cmdb, EstEngine(cmdb, clock, tracer, HostMap((responder.host, responder.port)),
                                             timeout=5.0), lines)
        rig.engine.sleep = rig.sleeps.append
        if trust:
            rig.trust_lab_ca()
        return rig

    yield make
    for r in started:
        r.stop()


@pytest.fixture
def rig(make_rig) -> Rig:
    return make_rig()
