"""The lab: an embedded EST (RFC 7030) responder, its CA and the lab host map.

ca.py       LabCA: the lab root CN=estExampleCA (shipped test material in material/)
server.py   EstResponder / ResponderConfig
cli.py      ``fortishell lab-server`` (main); accesslog.py: its per-request log
estapp.py   request -> reply: routing, auth, PoP, issuing, admin endpoint
tlsio.py    TLS and TLS-SRP on one port (ClientHello peek)
faults.py   Faults: fault knobs for tests and exercises
state.py    LabState: serial counter and issued-certificate index (atomic JSON)
network.py  LabNetwork: lab host map, lazy in-process responder, ``execute ping``
scepapp.py  the lab SCEP responder (request -> reply); scepserver.py serves it on HTTP (scep.lab),
            scepca.py its RA / issuing CA, scepstore.py the requests manual approval holds
"""
