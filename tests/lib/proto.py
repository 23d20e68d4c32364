"""The bridge protocol's numbers, read from bridge/br_proto.h (the one
source): message types without their BR_T_ prefix (HELLO, SIO_EMIT, ...),
error codes with E_ for BR_E_ (E_NOT_REGISTERED, ...), and VERSION.

    sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
    from proto import HELLO, WELCOME, E_NOT_REGISTERED

Tests use these instead of copies of their own; tests/unit/proto_agree.test.py
checks that the other copies (sdk/python/siogate/protocol.py, siogate.h, the
man page, the conformance worker) agree with the header.  Standard library
only, no I/O besides reading the header once.
"""
import os
import re

HERE = os.path.dirname(os.path.abspath(__file__))
HEADER = os.path.join(os.environ.get("TOP_SRCDIR") or os.path.join(HERE, "..", ".."),
                      "bridge", "br_proto.h")
if not os.path.exists(HEADER):
    HEADER = os.path.join(HERE, "..", "..", "bridge", "br_proto.h")


def strip_comments(text):
    """C text without /* */ comments."""
    return re.sub(r"/\*.*?\*/", " ", text, flags=re.S)


def parse_enum(text, name):
    """[(NAME, value)] of "enum name { A = 1, B = 2, ... };" in order.
    Every member needs an explicit value (the house rule for wire numbers)."""
    m = re.search(r"\benum\s+%s\s*\{(.*?)\}\s*;" % re.escape(name), strip_comments(text), re.S)
    if m is None:
        raise ValueError("no enum %s" % name)
    out = []
    for item in m.group(1).split(","):
        item = item.strip()
        if not item:
            continue
        mm = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(0x[0-9a-fA-F]+|\d+)", item)
        if mm is None:
            raise ValueError("enum %s: member without a literal value: %r" % (name, item))
        out.append((mm.group(1), int(mm.group(2), 0)))
    return out


def parse_define(text, name):
    m = re.search(r"^#define\s+%s\s+(\d+)\b" % re.escape(name), text, re.M)
    if m is None:
        raise ValueError("no #define %s" % name)
    return int(m.group(1))


with open(HEADER, encoding="utf-8") as _f:
    _text = _f.read()

VERSION = parse_define(_text, "BR_VERSION")
#: {"HELLO": 1, ...}: every message type, without BR_T_.
TYPES = {n[len("BR_T_"):]: v for n, v in parse_enum(_text, "br_type")}
#: {"NOT_REGISTERED": 4, ...}: every error code, without BR_E_.
ERRORS = {n[len("BR_E_"):]: v for n, v in parse_enum(_text, "br_err")}
#: {1: "HELLO", ...} and {4: "NOT_REGISTERED", ...}, for messages in test output.
TYPE_NAMES = {v: n for n, v in TYPES.items()}
ERROR_NAMES = {v: n for n, v in ERRORS.items()}

globals().update(TYPES)
globals().update({"E_" + n: v for n, v in ERRORS.items()})

__all__ = ["VERSION", "TYPES", "ERRORS", "TYPE_NAMES", "ERROR_NAMES"] + list(TYPES) + \
    ["E_" + n for n in ERRORS]
