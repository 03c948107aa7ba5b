"""Benchmark: parse_script on a generated 100,000-line configuration file.

Compares fortishell's one-pass lark parse with the regex parser of the PyPI
package anyconfig-fortios-backend on the same text, and prints lines/second.
Run:  .venv/bin/python bench/parse_script.py [LINES]
"""

from __future__ import annotations

import sys
import time

PEM = "-----BEGIN CERTIFICATE-----\n" + "\n".join(["MIICXDCCAgagAwIBAgIIQmVzdFRlc3RDZXJ0aWZpY2F0ZUZvckJlbmNobWFya3M="] * 12) + "\n-----END CERTIFICATE-----"


def generate(n: int) -> str:
    """A configuration file of about ``n`` lines: config/edit/set/next/end blocks."""
    out = [
        "#config-version=FGVMK6-7.0.3-FW-build0237-211207:opmode=1:vdom=0:user=admin",
        "#conf_file_ver=282647502847925",
        "#buildno=0237",
        "#global_vdom=1",
    ]
    table = 0
    while len(out) < n:
        out.append(f"config firewall address{table}")
        for e in range(25):
            uid = table * 25 + e
            out.append(f'    edit "host-{uid}.example.net"')
            out.append(f'        set uuid 5b2a{uid:04x}-7a1c-51ee-{uid:04x}-0c29c1d2e3f4')
            out.append(f'        set comment "Server {uid} in rack {e % 7}, owner team-{table}"')
            out.append(f"        set subnet 10.{table % 256}.{e}.{uid % 250} 255.255.255.255")
            out.append(f'        set associated-interface "port{e % 8}"')
            out.append(f"        set color {uid % 32}")
            if e == 3:
                out.append(f'        set certificate "{PEM}"')
            out.append("    next")
        out.append("end")
        table += 1
    return "\n".join(out) + "\n"


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    text = generate(n)
    nlines = text.count("\n")
    from fortishell.cli.parser import parse_script

    parse_script("config system global\nend\n")  # load and cache the grammar
    t0 = time.perf_counter()
    lines = parse_script(text)
    ours = time.perf_counter() - t0
    print(f"fortishell parse_script: {nlines} lines, {len(lines)} commands in {ours:.3f} s "
          f"({nlines / ours:,.0f} lines/s)")
    try:
        from anyconfig_fortios_backend.fortios.parser import parse_show_config_itr
    except ImportError:
        print("anyconfig-fortios-backend not installed: no comparison")
        return
    t0 = time.perf_counter()
    blocks = list(parse_show_config_itr(text.splitlines()))
    peer = time.perf_counter() - t0
    print(f"anyconfig-fortios-backend parse_show_config_itr: {len(blocks)} blocks in {peer:.3f} s "
          f"({nlines / peer:,.0f} lines/s)")
    print(f"ratio peer/ours: {peer / ours:.2f}x")


if __name__ == "__main__":
    main()
