"""No silent failures in the responder: an unexpected error is answered 500 and logged with its traceback."""

from __future__ import annotations

import logging
import socket

from labkit import client_context, raw_request, read_reply

from fortishell.errors import LabError


def test_unexpected_error_is_logged_with_traceback_and_answered_500(responder, lab_ca, caplog):
    def broken(req):
        raise RuntimeError("handler bug for the test")

    responder.app.handle = broken
    with caplog.at_level(logging.ERROR, logger="fortishell.lab"):
        reply = raw_request(responder.port, client_context(lab_ca), "GET", "/.well-known/est/cacerts")
    assert reply.status == 500 and reply.body == b"Internal Server Error\n"
    (record,) = [r for r in caplog.records if r.name == "fortishell.lab"]
    assert "GET /.well-known/est/cacerts from 127.0.0.1" in record.getMessage()
    assert record.exc_info is not None and isinstance(record.exc_info[1], RuntimeError)


def test_lab_error_is_logged_and_answered_500_with_its_text(responder, lab_ca, caplog):
    def unwritable(req):
        raise LabError("Lab state file /x/state.json is unreadable: test")

    responder.app.handle = unwritable
    with caplog.at_level(logging.ERROR, logger="fortishell.lab"):
        reply = raw_request(responder.port, client_context(lab_ca), "GET", "/.well-known/est/cacerts")
    assert reply.status == 500 and b"unreadable: test" in reply.body
    assert any("unreadable: test" in r.getMessage() for r in caplog.records if r.name == "fortishell.lab")


def test_the_connection_stays_usable_after_a_500(responder, lab_ca):
    calls = []
    handle = responder.app.handle

    def first_call_fails(req):
        calls.append(req.target)
        if len(calls) == 1:
            raise RuntimeError("once")
        return handle(req)

    responder.app.handle = first_call_fails
    ctx = client_context(lab_ca)
    with socket.create_connection(("127.0.0.1", responder.port), timeout=10) as tcp:
        with ctx.wrap_socket(tcp, server_hostname="testrfc7030.com") as tls:
            for want in (500, 200):
                tls.sendall(b"GET /.well-known/est/cacerts HTTP/1.1\r\nHost: testrfc7030.com\r\n\r\n")
                assert read_reply(tls).status == want
    assert len(calls) == 2
