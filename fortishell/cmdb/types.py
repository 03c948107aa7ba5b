"""Attribute types: parse CLI words into values, format values for get and show.

Owns value syntax and the FortiOS error texts of ``set`` (facts section 2).
Values are plain Python values: ``str`` (strings, passwords in clear, options,
IPs, datasource names, PEM text), ``int`` and ``list[str]`` (multi-value).
Each type offers ``parse(spec, words, ctx)``, ``format_get(spec, value)`` and
``format_show(spec, value)``; ``TYPES`` maps the schema's type names to them.

Choices where FortiOS is undocumented:
* out-of-range integers: ``value <v> out of range (<lo>-<hi>)`` / blank /
  ``value parse error before '<v>'`` / rc -651 (same code as a bad integer);
* a bad PEM value: ``invalid <kind>`` / blank / value parse error / rc -1;
* a certificate is read with cryptography's x509 when it is set (``set``, REST); from the
  configuration file, the journal and the engine's results (``ctx.trusted``: values this
  program validated before it stored them) only its PEM armour and base64 body are checked:
  loading the file parses no certificate and does not import x509 (issue 22: start-up).
  A certificate that passes that check and still does not parse (a hand-edited file) is
  refused where it is used, as every reader does with an unreadable one (``get``:
  ``(unreadable certificate)``, the CA store: trusts nothing, renewal: not watched);
* extra words after a single-valued attribute: ``command parse error before
  '<word>'`` / rc -61.
"""

from __future__ import annotations

import binascii
import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import IncompleteCommand, ParseError, ValueParseError, ValueTooLong
from . import secrets
from .schema import AttrSpec, Path, TableSpec, resolve_word
from .spec import INTEGER, VDOM_LIST

from ..cli.quoting import quote


@dataclass
class ParseContext:
    """What a value parser may ask about the rest of the configuration.

    ``exists(path, key)`` checks datasource references; ``trusted`` is set when
    reading a configuration file or storing engine results (read-only fields
    allowed, datasource checks deferred).
    """

    exists: Callable[[Path, str], bool]
    trusted: bool = False


def _single(words: list[str]) -> str:
    if not words:
        raise IncompleteCommand()
    if len(words) > 1:
        raise ParseError(words[1])
    return words[0]


class AttrType:
    name = ""

    def parse(self, spec: AttrSpec, words: list[str], ctx: ParseContext) -> Any:
        raise NotImplementedError

    def format_get(self, spec: AttrSpec, value: Any) -> str:
        return str(value)

    def format_show(self, spec: AttrSpec, value: Any) -> str:
        return str(value)

    def help(self, spec: AttrSpec) -> list[tuple[str, str]]:
        """``?`` help rows (name, description) for the value position."""
        return [("<string>", "please input string value")]


class StringType(AttrType):
    name = "string"

    def parse(self, spec: AttrSpec, words: list[str], ctx: ParseContext) -> Any:
        value = _single(words)
        if spec.size is not None and len(value) > spec.size:
            raise ValueTooLong(value, spec.size)
        return value

    def format_show(self, spec: AttrSpec, value: Any) -> str:
        return quote(value) if value != "" else "''"


class PasswordType(StringType):
    name = "password"

    def format_show(self, spec: AttrSpec, value: Any) -> str:
        return secrets.encrypt(value)

    def help(self, spec: AttrSpec) -> list[tuple[str, str]]:
        return [("<password>", "please input string value")]


class IntegerType(AttrType):
    name = "integer"

    def parse(self, spec: AttrSpec, words: list[str], ctx: ParseContext) -> Any:
        text = _single(words)
        if not text.isdigit() or not text.isascii():
            raise ValueParseError(f"invalid unsigned integer value: {text}", text, -651)
        value = int(text)
        if spec.range is not None and not spec.range[0] <= value <= spec.range[1]:
            lo, hi = spec.range
            raise ValueParseError(f"value {text} out of range ({lo}-{hi})", text, -651)
        return value

    def help(self, spec: AttrSpec) -> list[tuple[str, str]]:
        lo, hi = spec.range or (0, 4294967295)
        return [("<integer>", f"Enter an integer value from <{lo}> to <{hi}> (default = <{spec.default}>).")]


class EpochType(IntegerType):
    name = "epoch"


class OptionType(AttrType):
    """One of ``spec.options``; a unique prefix is accepted (``set enroll-protocol es``)."""

    name = "option"

    def parse(self, spec: AttrSpec, words: list[str], ctx: ParseContext) -> Any:
        text = _single(words)
        value = resolve_word(text, spec.option_values)
        if value is None:
            raise ValueParseError(None, text, -1)
        return value

    def help(self, spec: AttrSpec) -> list[tuple[str, str]]:
        return [(o.value, o.help) for o in spec.options]


class MultiOptionType(OptionType):
    """A list of options; values are kept in the canonical (schema) order.

    ``append`` inserts in canonical order (facts 1.2: ``append allowaccess http``
    on ``ping https ssh fgfm`` gives ``ping https ssh http fgfm``).
    """

    name = "multi-option"

    def parse(self, spec: AttrSpec, words: list[str], ctx: ParseContext) -> Any:
        if not words:
            raise IncompleteCommand()
        chosen: list[str] = []
        for text in words:
            value = resolve_word(text, spec.option_values)
            if value is None:
                raise ValueParseError(None, text, -1)
            if value not in chosen:
                chosen.append(value)
        return self.canonical(spec, chosen)

    @staticmethod
    def canonical(spec: AttrSpec, values: list[str]) -> list[str]:
        """Options in schema order; values that are not options (vdom names) as first given."""
        order = {v: i for i, v in enumerate(spec.option_values)}
        return sorted(dict.fromkeys(values), key=lambda v: order.get(v, len(order)))

    def format_get(self, spec: AttrSpec, value: Any) -> str:
        return " ".join(value)

    def format_show(self, spec: AttrSpec, value: Any) -> str:
        return " ".join(value)


class Ipv4Type(AttrType):
    name = "ipv4"

    def parse(self, spec: AttrSpec, words: list[str], ctx: ParseContext) -> Any:
        text = _single(words)
        try:
            return str(ipaddress.IPv4Address(text))
        except ValueError:
            raise ValueParseError("invalid ip address", text, -8) from None

    def help(self, spec: AttrSpec) -> list[tuple[str, str]]:
        return [("<ip>", "please input IP address")]


class Ipv4ClassnetType(AttrType):
    """An IPv4 network as FortiOS writes it: ``192.0.2.0 255.255.255.0`` (typed that way or as
    ``192.0.2.0/24``); the mask must be contiguous.  Host bits are kept as typed (FortiOS keeps
    them; ``0.0.0.0 0.0.0.0`` is any address)."""

    name = "ipv4-classnet"

    def parse(self, spec: AttrSpec, words: list[str], ctx: ParseContext) -> Any:
        words = " ".join(words).split()  # one JSON string "a.b.c.d m.m.m.m" is the two words
        if not words:
            raise IncompleteCommand()
        if len(words) > 2:
            raise ParseError(words[2])
        text = "/".join(words)
        address = words[0].split("/", 1)[0]
        try:
            ipaddress.IPv4Address(address)
        except ValueError:
            raise ValueParseError("invalid ip address", words[0], -8) from None
        try:
            net = ipaddress.IPv4Network(text, strict=False)
        except ValueError:
            raise ValueParseError("invalid netmask", words[-1], -8) from None
        return f"{address} {net.netmask}"

    def help(self, spec: AttrSpec) -> list[tuple[str, str]]:
        return [("<ip/netmask>", "please input IP address and netmask")]


class Ipv6PrefixType(AttrType):
    """An IPv6 prefix, ``2001:db8::/32`` (host bits kept as typed; ``::/0`` is any address)."""

    name = "ipv6-prefix"

    def parse(self, spec: AttrSpec, words: list[str], ctx: ParseContext) -> Any:
        text = _single(words)
        try:
            net = ipaddress.IPv6Network(text, strict=False)
        except ValueError:
            raise ValueParseError("invalid IPv6 prefix", text, -8) from None
        address = text.split("/", 1)[0]
        return f"{ipaddress.IPv6Address(address).compressed}/{net.prefixlen}"

    def help(self, spec: AttrSpec) -> list[tuple[str, str]]:
        return [("<IPv6 prefix>", "please input IPv6 prefix")]


class DatasourceType(StringType):
    """A name that must exist in one of ``spec.datasource`` (empty clears it)."""

    name = "datasource"

    def parse(self, spec: AttrSpec, words: list[str], ctx: ParseContext) -> Any:
        value = super().parse(spec, words, ctx)
        if value and not ctx.trusted and not any(ctx.exists(p, value) for p in spec.datasource):
            raise ValueParseError("entry not found in datasource", value, -3)
        return value


_PEM_MARKERS = {
    "certificate": ("-----BEGIN CERTIFICATE-----",),
    "private-key": ("-----BEGIN ENCRYPTED PRIVATE KEY-----", "-----BEGIN PRIVATE KEY-----",
                    "-----BEGIN RSA PRIVATE KEY-----", "-----BEGIN EC PRIVATE KEY-----"),
    "csr": ("-----BEGIN CERTIFICATE REQUEST-----", "-----BEGIN NEW CERTIFICATE REQUEST-----"),
    "crl": ("-----BEGIN X509 CRL-----",),
}


class PemType(AttrType):
    """PEM text (certificate, private key, CSR), multi-line inside one quoted value."""

    name = "pem"

    def parse(self, spec: AttrSpec, words: list[str], ctx: ParseContext) -> Any:
        text = _single(words)
        if text == "":
            return ""
        text = text.replace("\r\n", "\n").strip("\n")
        markers = _PEM_MARKERS.get(spec.pem_kind, ())
        ok = text.lstrip().startswith(markers) and "-----END " in text
        if ok and spec.pem_kind == "certificate":
            ok = _armoured(text) if ctx.trusted else _loads_certificate(text)
        if ok and spec.pem_kind == "private-key" and secrets.is_clear_private_key(text):
            ok = secrets.load_clear_private_key(text) is not None  # sealed at commit (model.py)
        if not ok:
            first = text.split("\n", 1)[0]
            raise ValueParseError(f"invalid {spec.pem_kind or 'PEM value'}", first, -1)
        return text

    def format_show(self, spec: AttrSpec, value: Any) -> str:
        return quote(value) if value != "" else "''"


# The vdoms of the emulated device: it runs without multi-vdom mode, so `root` is the only one.
DEVICE_VDOMS: tuple[str, ...] = ("root",)


class VdomListType(AttrType):
    """Names of vdoms, several values (``config system api-user`` / ``set vdom "root"``); each must
    be a vdom of the device (else ``entry not found in datasource``, -3, as a datasource refuses a
    missing name).  A configuration file's names are kept as written (``trusted``)."""

    name = VDOM_LIST

    def parse(self, spec: AttrSpec, words: list[str], ctx: ParseContext) -> Any:
        if not words:
            raise IncompleteCommand()
        for word in words:
            if not ctx.trusted and word not in DEVICE_VDOMS:
                raise ValueParseError("entry not found in datasource", word, -3)
        return list(dict.fromkeys(words))

    def format_get(self, spec: AttrSpec, value: Any) -> str:
        return self.format_show(spec, value)

    def format_show(self, spec: AttrSpec, value: Any) -> str:
        return " ".join(quote(v) for v in value)

    def help(self, spec: AttrSpec) -> list[tuple[str, str]]:
        return [("<name>", "Virtual domain name.")] + [(v, "") for v in DEVICE_VDOMS]


def entry_key(spec: TableSpec, key: str, *, trusted: bool = False) -> str:
    """The key of a new or edited entry as the table takes it: an integer key (``config trusthost``
    / ``edit 1``) must be a number (``edit abc`` is refused as ``set id abc`` would be) and is kept
    in its plain decimal form (``edit 01`` edits ``1``); other keys as typed.  ``trusted`` (a
    configuration file, the journal): a key that is not a number is kept as written (files saved
    when the trusthost id was a string key still load)."""
    attr = spec.attr(spec.key) if spec.key else None
    if attr is None or attr.type != INTEGER or trusted and not numeric_key(spec, key):
        return key
    return str(TYPES[INTEGER].parse(attr, [key], ParseContext(lambda path, name: False)))


def numeric_key(spec: TableSpec, key: str) -> bool:
    """Whether ``key`` is a number (ASCII digits) of a table with an integer key: written bare
    (``edit 7``) and as a JSON number.  A key kept as text from a file (``entry_key``) is not."""
    attr = spec.attr(spec.key) if spec.key else None
    return attr is not None and attr.type == INTEGER and key.isascii() and key.isdigit()


def _armoured(text: str) -> bool:
    """The first PEM block (the one a certificate is read from) has a base64 body: what a stored
    certificate must at least be (module doc)."""
    lines = text.strip().split("\n")
    end = next((i for i, line in enumerate(lines) if line.startswith("-----END ")), 0)
    if end < 2 or not lines[0].startswith("-----BEGIN "):
        return False
    try:
        return bool(binascii.a2b_base64("".join(line.strip() for line in lines[1:end]), strict_mode=True))
    except binascii.Error:
        return False


def _loads_certificate(text: str) -> bool:
    from cryptography import x509

    try:
        x509.load_pem_x509_certificate(text.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        return False
    return True


TYPES: dict[str, AttrType] = {
    t.name: t
    for t in (StringType(), PasswordType(), IntegerType(), EpochType(), OptionType(), MultiOptionType(),
              Ipv4Type(), Ipv4ClassnetType(), Ipv6PrefixType(), DatasourceType(), PemType(), VdomListType())
}


def type_of(spec: AttrSpec) -> AttrType:
    return TYPES[spec.type]
