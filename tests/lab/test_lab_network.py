"""The lab host map and ``execute ping`` output."""

from __future__ import annotations

import re

import pytest
from labkit import client_context, raw_request

from fortishell.errors import LabError
from fortishell.lab.network import LabNetwork

PING_LINE = re.compile(r"^64 bytes from 54\.70\.32\.33: icmp_seq=(\d) ttl=31 time=\d+\.\d ms$")


@pytest.fixture()
def network(tmp_path, clock):
    n = LabNetwork(state_dir=tmp_path, clock=clock)
    yield n
    n.close()


def test_resolve_starts_the_responder_lazily(network, lab_ca):
    assert network.responder is None
    assert network.resolve("example.com", 443) is None
    assert network.responder is None
    host, port = network.resolve("testrfc7030.com", 8443)
    assert host == "127.0.0.1" and network.responder is not None
    assert network.resolve("TESTRFC7030.COM.", 8443) == (host, port)
    assert network.resolve("54.70.32.33", 8443) == (host, port)
    # the caller connects there and verifies the ORIGINAL name
    assert raw_request(port, client_context(lab_ca), "GET", "/.well-known/est/csrattrs",
                       server_hostname="testrfc7030.com").status == 200
    assert (network.state_dir / "est-lab").is_dir()


def test_lab_server_url_maps_to_the_shared_responder(make_responder):
    shared = make_responder()
    n = LabNetwork(lab_server_url=shared.url)
    try:
        assert n.resolve("testrfc7030.com", 8443) == ("127.0.0.1", shared.port)
        assert n.responder is None
        assert n.ping("testrfc7030.com", 2)[-2] == "2 packets transmitted, 2 packets received, 0% packet loss"
    finally:
        n.close()


@pytest.mark.parametrize("url", ["http://127.0.0.1:8443", "127.0.0.1:8443", "https://:8443"])
def test_bad_lab_server_url(url):
    with pytest.raises(LabError):
        LabNetwork(lab_server_url=url)


def test_ping_lab_host_in_the_guides_style(network):
    lines = network.ping("testrfc7030.com")
    assert lines[0] == "PING testrfc7030.com (54.70.32.33): 56 data bytes"
    assert [int(PING_LINE.match(line).group(1)) for line in lines[1:6]] == [0, 1, 2, 3, 4]
    assert lines[6:9] == ["", "--- testrfc7030.com ping statistics ---",
                          "5 packets transmitted, 5 packets received, 0% packet loss"]
    lo, avg, hi = map(float, re.fullmatch(r"round-trip min/avg/max = (\S+)/(\S+)/(\S+) ms", lines[9]).groups())
    assert lo <= avg <= hi
    assert len(lines) == 10


def test_ping_count_and_lab_address(network):
    lines = network.ping("54.70.32.33", count=2)
    assert lines[0] == "PING 54.70.32.33 (54.70.32.33): 56 data bytes"
    assert lines[-2] == "2 packets transmitted, 2 packets received, 0% packet loss"


def test_ping_unknown_name(network):
    assert network.ping("no-such-host.example") == ["Unable to resolve hostname."]
    assert network.responder is None


def test_ping_outside_address_loses_everything_without_traffic(network):
    lines = network.ping("8.8.8.8")
    assert lines == ["PING 8.8.8.8 (8.8.8.8): 56 data bytes", "", "--- 8.8.8.8 ping statistics ---",
                     "5 packets transmitted, 0 packets received, 100% packet loss"]
    assert network.responder is None


def test_ping_loopback(network):
    lines = network.ping("127.0.0.1", 1)
    assert lines[1] == "64 bytes from 127.0.0.1: icmp_seq=0 ttl=64 time=0.0 ms"
    assert lines[-1] == "round-trip min/avg/max = 0.0/0.0/0.0 ms"


def test_close_stops_the_responder(network):
    _, port = network.resolve("testrfc7030.com", 8443)
    network.close()
    assert network.responder is None
    import socket

    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
