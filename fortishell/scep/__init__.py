"""SCEP (RFC 8894): the device's client (``flows.py`` sans-IO, ``driver.py`` thin) and the
pkiMessage layer both sides share (``message.py``)."""
