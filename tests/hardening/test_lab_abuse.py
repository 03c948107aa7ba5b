"""The lab EST responder under abuse, over real TLS on 127.0.0.1.

Oversized bodies, slow-loris clients, the connection cap, hostile label paths,
old TLS versions, a burst of bad requests next to good ones, and a property
test: no Authorization header other than the right credentials ever enrolls.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import select
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fortishell.clock import Clock
from fortishell.lab.ca import LabCA
from fortishell.lab.estapp import REALM
from fortishell.lab.server import EstResponder, ResponderConfig

LAB_TIME = dt.datetime(2023, 4, 6, 22, 37, 34, tzinfo=dt.timezone.utc)
EST = "/.well-known/est/"
HOST = "testrfc7030.com"
USER, PASSWORD = "estuser", "estpwd"


# ---------------------------------------------------------------------- a raw keep-alive client
def _csr_body() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "firewall-portal1")]))
           .sign(key, hashes.SHA256()))
    return base64.b64encode(csr.public_bytes(serialization.Encoding.DER)) + b"\n"


CSR = _csr_body()


def tls_context() -> ssl.SSLContext:
    return ssl.create_default_context(cadata=LabCA.shipped().cert_pem)


class Client:
    """One TLS connection; ``request`` writes raw bytes and reads one HTTP reply."""

    def __init__(self, port: int, ctx: ssl.SSLContext | None = None, timeout: float = 5.0) -> None:
        tcp = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock = (ctx or tls_context()).wrap_socket(tcp, server_hostname=HOST)
        self.buf = b""

    def send_head(self, method: str, target: str, headers: list[tuple[str, str]]) -> None:
        head = f"{method} {target} HTTP/1.1\r\nHost: {HOST}\r\n"
        data = head.encode("latin-1") + b"".join(f"{k}: {v}\r\n".encode("latin-1") for k, v in headers) + b"\r\n"
        self.sock.sendall(data)

    def request(self, method: str, target: str, headers: list[tuple[str, str]] = (), body: bytes = b"") -> tuple[int, dict[str, str], bytes]:
        hdrs = list(headers)
        if method == "POST":
            hdrs.append(("Content-Length", str(len(body))))
        self.send_head(method, target, hdrs)
        if body:
            self.sock.sendall(body)
        return self.reply()

    def reply(self) -> tuple[int, dict[str, str], bytes]:
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError(f"closed before a reply ({self.buf[:80]!r})")
            self.buf += chunk
        head, _, rest = self.buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        length = int(headers.get("content-length", "0"))
        while len(rest) < length:
            chunk = self.sock.recv(65536)
            if not chunk:
                break
            rest += chunk
        body, self.buf = rest[:length], rest[length:]
        return int(lines[0].split()[1]), headers, body

    def poll(self) -> str:
        """Without blocking: "data" (a reply is coming), "closed", or "" (nothing yet).
        TLS 1.3 session tickets make the socket readable with no application data."""
        if not select.select([self.sock], [], [], 0)[0]:
            return ""
        self.sock.setblocking(False)
        try:
            data = self.sock.recv(65536)
        except ssl.SSLWantReadError:
            return ""
        except (ConnectionError, ssl.SSLError, OSError):
            return "closed"
        finally:
            self.sock.setblocking(True)
        self.buf += data
        return "data" if data else "closed"

    def closed_within(self, seconds: float) -> float | None:
        """Seconds until the server closed the connection (None: still open after ``seconds``)."""
        start = time.monotonic()
        self.sock.settimeout(seconds)
        try:
            while self.sock.recv(4096):
                pass
        except TimeoutError:
            return None
        except (ConnectionError, ssl.SSLError, OSError):
            pass
        return time.monotonic() - start

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


def enroll(port: int, auth: str | None = None) -> int:
    c = Client(port)
    try:
        headers = [("Content-Type", "application/pkcs10")]
        headers.append(("Authorization", auth or "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()))
        return c.request("POST", EST + "simpleenroll", headers, CSR)[0]
    finally:
        c.close()


@contextmanager
def lab(tmp_path: Path, **kw) -> Iterator[EstResponder]:
    kw.setdefault("clock", Clock(fixed=LAB_TIME))
    r = EstResponder(ResponderConfig(**kw)).start()
    try:
        yield r
    finally:
        r.stop()


@pytest.fixture
def responder(tmp_path: Path) -> Iterator[EstResponder]:
    with lab(tmp_path, io_timeout=2.0) as r:
        yield r


# ---------------------------------------------------------------------- oversized bodies
def test_announced_oversized_body_is_refused_before_it_is_sent(responder: EstResponder) -> None:
    """Content-Length 10 MB: 413 comes back although only the head (and 1 KiB) was sent."""
    c = Client(responder.port)
    c.send_head("POST", EST + "simpleenroll", [("Content-Type", "application/pkcs10"),
                                              ("Content-Length", str(10_000_000))])
    c.sock.sendall(b"A" * 1024)
    t0 = time.monotonic()
    status, headers, body = c.reply()
    assert status == 413 and body == b"Payload Too Large\n"
    assert time.monotonic() - t0 < 3.0  # bounded (not the 10 MB upload); generous for a loaded host
    assert c.closed_within(2.0) is not None  # and the connection is not kept
    c.close()


def test_chunked_oversized_body_is_cut_off_near_the_limit(responder: EstResponder) -> None:
    """No Content-Length: the running total decides; the server stops well before 10 MB."""
    c = Client(responder.port)
    c.send_head("POST", EST + "simpleenroll", [("Content-Type", "application/pkcs10"),
                                              ("Transfer-Encoding", "chunked")])
    chunk = b"%x\r\n%s\r\n" % (8192, b"B" * 8192)
    sent = 0
    status = None
    while sent < 10_000_000:
        try:
            c.sock.sendall(chunk)
        except OSError:
            break
        sent += 8192
        if c.poll():
            status = c.reply()[0]
            break
    if status is None:
        status = c.reply()[0]
    assert status == 413
    assert sent < 8 * 1024 * 1024, sent  # 64 KiB read; the rest sat in loopback socket buffers
    # the server does not swallow the rest: sending on fails (reset) or stalls (nobody reads)
    c.sock.settimeout(3.0)
    with pytest.raises(OSError):
        for _ in range(10_000_000 // 8192):
            c.sock.sendall(chunk)
    c.close()


def test_body_at_the_limit_is_read(tmp_path: Path) -> None:
    """Exactly max_body bytes is not "too large": the CSR check answers (400)."""
    with lab(tmp_path, max_body=4096) as r:
        c = Client(r.port)
        status, _, _ = c.request("POST", EST + "simpleenroll",
                                 [("Content-Type", "application/pkcs10"),
                                  ("Authorization", "Basic " + base64.b64encode(b"estuser:estpwd").decode())],
                                 b"A" * 4096)
        assert status == 400
        status, _, _ = Client(r.port).request("POST", EST + "simpleenroll",
                                              [("Content-Type", "application/pkcs10")], b"A" * 4097)
        assert status == 413


def test_oversized_head_is_400(responder: EstResponder) -> None:
    c = Client(responder.port)
    c.sock.sendall(b"GET " + EST.encode() + b"cacerts HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"p" * 40000 + b"\r\n\r\n")
    assert c.reply()[0] == 400
    c.close()


# ---------------------------------------------------------------------- slow-loris
@pytest.fixture
def quick(tmp_path: Path) -> Iterator[EstResponder]:
    with lab(tmp_path, io_timeout=0.5) as r:
        yield r


def test_silent_connection_is_closed(quick: EstResponder) -> None:
    with socket.create_connection(("127.0.0.1", quick.port), timeout=3) as s:
        t0 = time.monotonic()
        assert s.recv(10) == b""
        assert time.monotonic() - t0 < 3.0  # io_timeout 0.5 s; generous for a loaded host


def test_trickled_client_hello_is_cut_off(quick: EstResponder) -> None:
    with socket.create_connection(("127.0.0.1", quick.port), timeout=3) as s:
        t0 = time.monotonic()
        s.sendall(bytes([0x16, 0x03, 0x01, 0x02, 0x00]))  # a record header announcing 512 bytes
        closed = None
        for _ in range(40):
            try:
                s.sendall(b"\x01")
            except OSError:
                closed = time.monotonic() - t0
                break
            if select.select([s], [], [], 0.1)[0]:
                try:
                    data = s.recv(10)
                except OSError:
                    data = b""
                if not data:
                    closed = time.monotonic() - t0
                    break
        assert closed is not None and closed < 1.5, closed


def test_trickled_request_head_is_cut_off(quick: EstResponder) -> None:
    """One byte every 0.1 s (each well within io_timeout): the whole request still must
    arrive within io_timeout (0.5 s); the connection is closed soon after."""
    c = Client(quick.port)
    head = b"GET " + EST.encode() + b"cacerts HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"s" * 200
    t0 = time.monotonic()
    closed = None
    for byte in head:
        try:
            c.sock.sendall(bytes([byte]))
        except OSError:
            closed = time.monotonic() - t0
            break
        time.sleep(0.1)
        if c.poll() == "closed":
            closed = time.monotonic() - t0
            break
    assert closed is not None and closed < 1.5, closed
    c.close()


def test_trickled_body_is_cut_off(quick: EstResponder) -> None:
    c = Client(quick.port)
    c.send_head("POST", EST + "simpleenroll", [("Content-Type", "application/pkcs10"), ("Content-Length", "1000")])
    t0 = time.monotonic()
    for _ in range(30):
        try:
            c.sock.sendall(b"A")
        except OSError:
            break
        time.sleep(0.1)
        if c.poll():
            break
    assert c.closed_within(3.0) is not None
    assert time.monotonic() - t0 < 4.0
    c.close()


def test_idle_keepalive_is_closed_but_a_prompt_client_is_served(quick: EstResponder) -> None:
    c = Client(quick.port)
    assert c.request("GET", EST + "cacerts")[0] == 200
    assert c.request("GET", EST + "csrattrs")[0] == 200  # keep-alive works
    waited = c.closed_within(2.0)
    assert waited is not None and 0.3 < waited < 1.5, waited
    c.close()


# ---------------------------------------------------------------------- connection cap
def test_connections_beyond_the_cap_are_refused_quickly(tmp_path: Path) -> None:
    with lab(tmp_path, max_connections=3, io_timeout=5.0) as r:
        held = [Client(r.port) for _ in range(3)]
        for c in held:
            assert c.request("GET", EST + "cacerts")[0] == 200
        t0 = time.monotonic()
        with pytest.raises((ConnectionError, ssl.SSLError, OSError)):
            Client(r.port, timeout=5.0).request("GET", EST + "cacerts")
        assert time.monotonic() - t0 < 3.0  # refused, not left waiting for the 5 s client timeout
        assert r.refused >= 1
        held.pop().close()
        deadline = time.monotonic() + 2.0
        while True:  # the freed slot is reused as soon as the server noticed the close
            try:
                assert enroll(r.port) == 200
                break
            except (ConnectionError, ssl.SSLError, OSError):
                assert time.monotonic() < deadline
                time.sleep(0.05)
        for c in held:
            c.close()


# ---------------------------------------------------------------------- label paths
@pytest.mark.parametrize("target, statuses", [
    (EST + "../cacerts", {404}),
    (EST + "./cacerts", {404}),
    (EST + "%2e%2e/cacerts", {404}),
    (EST + "..%2fcacerts", {404}),
    (EST + "a/../cacerts", {404}),
    (EST + "/cacerts", {404}),
    (EST + "lab/../../cacerts", {404}),
    (EST + "x" * 65 + "/cacerts", {404}),
    (EST + "x" * 10000 + "/cacerts", {404}),
    (EST + "lab%00/cacerts", {404}),
    (EST + "lab;x/cacerts", {404}),
    (EST + "caf\xe9/cacerts", {400, 404}),
    (EST + "simpleenroll/cacerts", {404}),
    (EST + "a/b/cacerts", {404}),
    (EST + "cacerts/", {404}),
    ("/.well-known/est/../../etc/passwd", {404}),
    ("*", {404}),
    ("http://evil/.well-known/est/cacerts", {404}),
])
def test_bad_label_paths(responder: EstResponder, target: str, statuses: set[int]) -> None:
    c = Client(responder.port)
    try:
        c.sock.sendall(f"GET {target} HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode("latin-1"))
        assert c.reply()[0] in statuses
    finally:
        c.close()


@pytest.mark.parametrize("label", ["arbitraryLabel1", "x" * 64, "a.b-c_d~e", "...", ".x"])
def test_good_labels_are_served(responder: EstResponder, label: str) -> None:
    c = Client(responder.port)
    try:
        assert c.request("GET", f"{EST}{label}/cacerts")[0] == 200
    finally:
        c.close()


# ---------------------------------------------------------------------- TLS versions
@pytest.mark.parametrize("version", ["TLSv1", "TLSv1_1"])
def test_openssl_clients_below_tls12_are_refused(responder: EstResponder, version: str) -> None:
    import warnings

    ctx = tls_context()
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = getattr(ssl.TLSVersion, version)
        ctx.maximum_version = getattr(ssl.TLSVersion, version)
    with pytest.raises((ssl.SSLError, ConnectionError)):
        Client(responder.port, ctx)


@pytest.mark.parametrize("version", ["TLSv1_2", "TLSv1_3"])
def test_tls12_and_13_are_served(responder: EstResponder, version: str) -> None:
    ctx = tls_context()
    ctx.minimum_version = ctx.maximum_version = getattr(ssl.TLSVersion, version)
    c = Client(responder.port, ctx)
    assert c.sock.version() == version.replace("_", ".")
    assert c.request("GET", EST + "cacerts")[0] == 200
    c.close()


def test_srp_below_tls12_is_refused(responder: EstResponder) -> None:
    from tlslite.api import HandshakeSettings, TLSConnection

    with socket.create_connection(("127.0.0.1", responder.port), timeout=5) as s:
        conn = TLSConnection(s)
        settings = HandshakeSettings()
        settings.minVersion = (3, 1)
        settings.maxVersion = (3, 2)
        with pytest.raises(Exception) as info:
            conn.handshakeClientSRP("srpuser", "srppwd", settings=settings)
        assert not isinstance(info.value, AssertionError)
        assert conn.version != (3, 2) or conn.closed


# ---------------------------------------------------------------------- load
BAD_KINDS = ("wrong-password", "no-auth", "garbage-csr", "404", "oversized", "not-tls", "half-open", "bad-http")


def _bad(port: int, kind: str) -> None:
    if kind in ("not-tls", "half-open"):
        with socket.create_connection(("127.0.0.1", port), timeout=3) as s:
            if kind == "not-tls":
                s.sendall(b"GET / HTTP/1.1\r\n\r\n")
                s.recv(100)
            return
    c = Client(port, timeout=3)
    try:
        if kind == "wrong-password":
            assert enroll(port, "Basic " + base64.b64encode(b"estuser:nope").decode()) == 401
        elif kind == "no-auth":
            assert c.request("POST", EST + "simpleenroll", [("Content-Type", "application/pkcs10")], CSR)[0] == 401
        elif kind == "garbage-csr":
            auth = "Basic " + base64.b64encode(b"estuser:estpwd").decode()
            assert c.request("POST", EST + "simpleenroll", [("Content-Type", "application/pkcs10"),
                                                           ("Authorization", auth)], b"@@@@")[0] == 400
        elif kind == "404":
            assert c.request("GET", EST + "../../x")[0] == 404
        elif kind == "oversized":
            c.send_head("POST", EST + "simpleenroll", [("Content-Length", "99999999")])
            assert c.reply()[0] == 413
        elif kind == "bad-http":
            c.sock.sendall(b"\x00\x01garbage\r\n\r\n")
            assert c.reply()[0] == 400
    finally:
        c.close()


def test_burst_of_bad_requests_leaves_good_ones_served(tmp_path: Path) -> None:
    with lab(tmp_path, io_timeout=1.0, max_connections=16) as r:
        errors: list[BaseException] = []
        stop = threading.Event()

        def hammer(seed: int) -> None:
            i = seed
            while not stop.is_set() and i < seed + 40:
                try:
                    _bad(r.port, BAD_KINDS[i % len(BAD_KINDS)])
                except (ConnectionError, ssl.SSLError, OSError):
                    pass  # refused by the cap or cut off: allowed for the bad ones
                except AssertionError as exc:
                    errors.append(exc)
                i += 1

        threads = [threading.Thread(target=hammer, args=(n * 7,)) for n in range(8)]
        for t in threads:
            t.start()
        good, latencies = 0, []
        for _ in range(5):  # good enrollments while the burst goes on (retried if refused by the cap)
            t0 = time.monotonic()
            for _attempt in range(20):
                try:
                    assert enroll(r.port) == 200
                    good += 1
                    break
                except (ConnectionError, ssl.SSLError, OSError):
                    time.sleep(0.05)
            latencies.append(time.monotonic() - t0)
        for t in threads:
            t.join(30)
        stop.set()
        assert not errors, errors[:3]
        assert good == 5, latencies
        assert enroll(r.port) == 200  # and after it
        assert max(latencies) < 5.0, latencies


# ---------------------------------------------------------------------- authorization property
def _b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8", "surrogatepass")).decode()


header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF, blacklist_characters="\x7f"),
                      max_size=80).map(str.strip)
credential = st.tuples(st.text(max_size=20), st.text(max_size=20)).filter(lambda up: up != (USER, PASSWORD))
wrong_pair = st.one_of(
    credential,
    st.tuples(st.just(USER), st.text(max_size=20).filter(lambda p: p != PASSWORD)),
    st.tuples(st.sampled_from([USER.upper(), USER + " ", " " + USER, "estuser\x00"]), st.just(PASSWORD)),
    st.tuples(st.just(USER), st.sampled_from([PASSWORD.upper(), PASSWORD + " ", PASSWORD + "\x00", "", "estpw"])),
)
scheme = st.sampled_from(["Basic", "basic", "BASIC", "Digest", "Bearer", "Negotiate", "", "Basic\t"])
basic_headers = st.one_of(
    st.builds(lambda s, up: f"{s} {_b64(up[0] + ':' + up[1])}".strip(), scheme, wrong_pair),
    st.builds(lambda s, t: f"{s} {t}".strip(), scheme, header_text),  # malformed base64 / random text
    st.builds(lambda up: "Basic " + _b64(up[0] + up[1]), wrong_pair),  # no colon
    st.builds(lambda t: "Basic " + _b64(t), header_text),
    st.just("Basic " + _b64(f"{USER}:{PASSWORD}")[:-2]),  # the right credentials, truncated
    st.just("Basic " + _b64(f"{USER}:{PASSWORD}") + "!"),
    st.just("Digest " + _b64(f"{USER}:{PASSWORD}")),  # right credentials, wrong scheme
    st.just(f"{USER}:{PASSWORD}"),
    header_text,
)


def _digest_for(user: str, password: str, nonce: str, *, uri: str = EST + "simpleenroll",
                realm: str = REALM, method: str = "POST", nc: str = "00000001", cnonce: str = "abc") -> str:
    def h(s: str) -> str:
        return hashlib.md5(s.encode("utf-8", "surrogatepass")).hexdigest()

    ha1, ha2 = h(f"{user}:{realm}:{password}"), h(f"{method}:{uri}")
    resp = h(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}")
    return (f'Digest username="{user}", realm="{realm}", nonce="{nonce}", uri="{uri}", '
            f'algorithm=MD5, qop=auth, nc={nc}, cnonce="{cnonce}", response="{resp}"')


def refusal(auth: str | None) -> set[int]:
    """What a wrong Authorization header may get: 401; also 400 when the header carries
    control characters (not valid HTTP field text; h11 may refuse it before auth)."""
    if auth is not None and any((ord(ch) < 0x20 and ch != "\t") or ord(ch) == 0x7F for ch in auth):
        return {400, 401}
    return {401}


class AuthProbe:
    """Sends enrollments with a given Authorization header, reconnecting when needed."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.client: Client | None = None
        self.nonce = ""

    def status(self, auth: str | None) -> int:
        headers = [("Content-Type", "application/pkcs10")]
        if auth is not None:
            headers.append(("Authorization", auth))
        for _ in range(2):
            if self.client is None:
                self.client = Client(self.port)
            try:
                status, hdrs, _ = self.client.request("POST", EST + "simpleenroll", headers, CSR)
            except (ConnectionError, ssl.SSLError, OSError):
                self.client.close()
                self.client = None
                continue
            challenge = hdrs.get("www-authenticate", "")
            if 'nonce="' in challenge:
                self.nonce = challenge.split('nonce="', 1)[1].split('"', 1)[0]
            return status
        raise AssertionError(f"connection dropped twice for Authorization {auth!r}")


@pytest.fixture(scope="module")
def basic_lab(tmp_path_factory) -> Iterator[AuthProbe]:
    with lab(tmp_path_factory.mktemp("basic"), auth="basic") as r:
        probe = AuthProbe(r.port)
        assert probe.status("Basic " + _b64(f"{USER}:{PASSWORD}")) == 200  # the probe can enroll
        yield probe


@pytest.fixture(scope="module")
def digest_lab(tmp_path_factory) -> Iterator[AuthProbe]:
    with lab(tmp_path_factory.mktemp("digest"), auth="digest") as r:
        probe = AuthProbe(r.port)
        assert probe.status(None) == 401 and probe.nonce
        assert probe.status(_digest_for(USER, PASSWORD, probe.nonce)) == 200  # the probe can enroll
        yield probe


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(auth=st.one_of(st.none(), basic_headers))
def test_no_wrong_basic_authorization_enrolls(basic_lab: AuthProbe, auth: str | None) -> None:
    assert basic_lab.status(auth) in refusal(auth)


digest_params = st.dictionaries(
    st.sampled_from(["username", "realm", "nonce", "uri", "response", "qop", "nc", "cnonce", "algorithm", "opaque"]),
    header_text, max_size=9)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_no_wrong_digest_authorization_enrolls(digest_lab: AuthProbe, data) -> None:
    nonce = digest_lab.nonce
    kind = data.draw(st.sampled_from(["wrong-pair", "garbage-params", "random", "basic-right", "tampered"]))
    if kind == "wrong-pair":
        user, pwd = data.draw(wrong_pair)
        user = user.replace('"', "").encode("latin-1", "replace").decode("latin-1")  # header text is latin-1
        auth = _digest_for(user, pwd, nonce)
    elif kind == "garbage-params":
        params = data.draw(digest_params)
        auth = "Digest " + ", ".join(f'{k}="{v.replace(chr(34), "")}"' for k, v in params.items())
    elif kind == "random":
        auth = data.draw(st.one_of(basic_headers, header_text.map(lambda t: "Digest " + t)))
    elif kind == "basic-right":
        auth = "Basic " + _b64(f"{USER}:{PASSWORD}")
    else:  # the right password, something else changed
        change = data.draw(st.sampled_from(["nonce", "uri", "realm", "method", "stamp"]))
        if change == "nonce":
            auth = _digest_for(USER, PASSWORD, nonce[:-1] + ("0" if nonce[-1] != "0" else "1"))
        elif change == "uri":
            auth = _digest_for(USER, PASSWORD, nonce, uri=EST + "simplereenroll")
        elif change == "realm":
            auth = _digest_for(USER, PASSWORD, nonce, realm="other")
        elif change == "method":
            auth = _digest_for(USER, PASSWORD, nonce, method="GET")
        else:  # a nonce stamped an hour ago (HMAC unknown to the client): forged
            stamp, _, mac = nonce.partition(".")
            auth = _digest_for(USER, PASSWORD, f"{int(stamp) - 3600}.{mac}")
    assert digest_lab.status(auth) in refusal(auth), auth
