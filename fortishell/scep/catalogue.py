"""The SCEP trace catalogue (``diagnose debug application scep -1``): data only.

The device's SCEP client descends from sscep and prints its lines without a
bracketed line number (``func: text``; one published line carries the number
after the function: ``pkcs7_wrap:1120 creating inner PKCS#7``).  Published lines
(KB 262267, KB 404520; ``enrollment-protocols.md``) are marked ``# published``;
every other line is our choice, written in the same style and listed as such in
ARCHITECTURE.md ("SCEP trace").  Line numbers of plain lines are only catalogue
keys: they are never printed.
"""

from __future__ import annotations

from fortishell.trace import TracePoint


def _p(line: int, func: str, template: str) -> TracePoint:
    return TracePoint(line, func, template, form="plain")


APP = "scep"

# GetCACert (KB 404520)
START = _p(101, "__scep_get_ca_cert", "starting sscep, version 20030417")  # published
HOSTNAME = _p(102, "__scep_get_ca_cert", "hostname: {host}")
DIRECTORY = _p(103, "__scep_get_ca_cert", "directory: {directory}")  # published
PORT = _p(104, "__scep_get_ca_cert", "port: {port}({scheme})")  # published
GETCA = _p(110, "__get_ca_cert_req", "SCEP_OPERATION_GETCA")  # published
GETCAPS = _p(111, "__get_ca_caps_req", "SCEP_OPERATION_GETCAPS")
CAPS = _p(112, "__get_ca_caps_req", "server capabilities: {caps}")
SEND = _p(120, "__send_recv", "dest ip {ip}, port {port}, use_ssl {ssl}, source_ip {source_ip}")  # published
REQUEST = _p(121, "__send_recv", "{method} {target} HTTP/1.0")
SEND_FAILED = _p(122, "__send_recv", "request failed: {error}")
STATUS = _p(130, "scep_parse_header", "server returned status code {status}")  # published
MIME = _p(131, "scep_parse_header", "MIME header: {mime}")  # published
REPLY_TYPE = _p(140, "__process_ca_cert_reply", "Reply type {kind}")  # published
LOADED_CA = _p(141, "__read_ca_cert_cb", "loaded CA")  # published
LOADED_RA = _p(142, "__read_ca_cert_cb", "loaded RA")

# PKCSReq / RenewalReq / CertPoll (KB 262267)
TRANSACTION = _p(200, "new_scep_transaction", "transaction id: {tid}")  # published
INNER = TracePoint(1120, "pkcs7_wrap", "creating inner PKCS#7", form="func_line")  # published
PAYLOAD = _p(1121, "pkcs7_wrap", "data payload size: {size} bytes")  # published
ENVELOPE = _p(1122, "pkcs7_wrap", "envelope size: {size} bytes")  # published
ATTR_STRING = _p(1130, "__add_attribute_string", "adding string attribute {attr}")  # published
ATTR_OCTET = _p(1131, "__add_attribute_octet", "adding octet attribute {attr}")  # published
WRITTEN = _p(1140, "pkcs7_wrap", "PKCS#7 data written successfully")  # published
SEND_PKI = _p(1150, "__send_pki_operation", "sending {kind} ({method}), {size} bytes")
UNWRAP = _p(1200, "pkcs7_unwrap", "reading outer PKCS#7 ({size} bytes)")
SIGNER = _p(1201, "pkcs7_unwrap", "signature verified: {subject}")
PKI_STATUS = _p(1202, "pkcs7_unwrap", "pkistatus: {status}")
FAIL_INFO = _p(1203, "pkcs7_unwrap", "failinfo: {name} ({text})")
DECRYPTED = _p(1204, "pkcs7_unwrap", "decrypted inner PKCS#7 ({size} bytes)")
RECEIVED = _p(1210, "__scep_enroll", "received certificate: {subject} (serial {serial})")
PENDING = _p(1220, "__scep_enroll", "request is pending, polling every {seconds} seconds")
POLL = _p(1221, "__scep_poll", "polling transaction {tid} (GetCertInitial)")
SAVED = _p(1230, "__scep_enroll", "certificate {name} saved")
FAILED = _p(1240, "__scep_enroll", "enrollment of {name} failed: {reason}")

# the renewal service's lines for an SCEP certificate (renewal.py; ours, like its EST ones)
EXPIRY_WARNING = _p(1300, "__scep_cert_expiry_check",
                    "Certificate {name} will expire in {days} days ({not_after} GMT)")
RENEWAL_FAILED = _p(1310, "__scep_auto_regen", "Failed to renew certificate {name}: {reason}. Retry in {minutes} minutes.")
