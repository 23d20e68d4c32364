"""Every copy of the bridge protocol's numbers and keys agrees with
bridge/br_proto.h, the one source (issue 13): the codec's name tables and
schema (br_codec.c), the C SDK's error enum (siogate.h), the Python module
(sdk/python/siogate/protocol.py), the message table, error codes and
message sections of siogate-protocol(7), and any Python file in tests/,
examples/ or sdk/ that assigns a protocol name a number (the conformance
worker keeps its own copy on purpose: it proves the documented protocol is
enough).  Whatever types exist today are checked: a type added to the
header and forgotten elsewhere fails here.  TAP; standard library only."""
import ast
import os
import re
import sys

TOP = os.environ.get("TOP_SRCDIR") or os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                   "..", "..")
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
import proto  # noqa: E402  (parses br_proto.h)

_n = 0
_failed = 0


def ok(cond, what, detail=None):
    global _n, _failed
    _n += 1
    if not cond:
        _failed += 1
    print(("ok" if cond else "not ok") + " %d - %s" % (_n, what), flush=True)
    if not cond and detail:
        for line in str(detail).splitlines():
            print("#   " + line, flush=True)
    return cond


def read(*path):
    with open(os.path.join(TOP, *path), encoding="utf-8") as f:
        return f.read()


def diff(want, got):
    """Lines saying how dict got differs from dict want."""
    out = []
    for k in sorted(set(want) | set(got), key=str):
        if k not in got:
            out.append("missing: %s = %s" % (k, want[k]))
        elif k not in want:
            out.append("not in br_proto.h: %s = %s" % (k, got[k]))
        elif want[k] != got[k]:
            out.append("%s: br_proto.h says %r, this says %r" % (k, want[k], got[k]))
    return "\n".join(out)


def py_assignments(text):
    """{NAME: int} of module-level NAME = int and A, B = 1, 2 (also = range(a, b))."""
    out = {}
    for node in ast.parse(text).body:
        if not isinstance(node, ast.Assign):
            continue
        for target in node.targets:
            names = [target] if isinstance(target, ast.Name) else \
                list(target.elts) if isinstance(target, (ast.Tuple, ast.List)) else []
            value = node.value
            if isinstance(value, ast.Constant) and len(names) == 1:
                vals = [value.value]
            elif isinstance(value, (ast.Tuple, ast.List)):
                vals = [v.value if isinstance(v, ast.Constant) else None for v in value.elts]
            elif isinstance(value, ast.Call) and getattr(value.func, "id", "") == "range" and \
                    all(isinstance(a, ast.Constant) for a in value.args):
                vals = list(range(*[a.value for a in value.args]))
            else:
                continue
            if len(vals) != len(names):
                continue
            for n, v in zip(names, vals):
                if isinstance(n, ast.Name) and isinstance(v, int) and not isinstance(v, bool):
                    out[n.id] = v
    return out


def main():
    types, errors = proto.TYPES, proto.ERRORS
    header = read("bridge", "br_proto.h")

    # ---- the header itself ----
    ok(len(set(types.values())) == len(types), "br_proto.h: no two message types share a number",
       [n for n in types if list(types.values()).count(types[n]) > 1])
    ok(len(set(errors.values())) == len(errors), "br_proto.h: no two error codes share a number")
    ok(proto.VERSION == 1, "br_proto.h: BR_VERSION is %d" % proto.VERSION)

    # ---- br_codec.c: names and schema ----
    codec = read("bridge", "br_codec.c")
    names = dict(re.findall(r'case BR_T_(\w+): return "(\w+)";', codec))
    ok(names == {n: n for n in types},
       "br_type_name() names every type of br_proto.h, and only those",
       diff({n: n for n in types}, names))
    enames = dict(re.findall(r'case BR_E_(\w+): return "(\w+)";', codec))
    ok(enames == {n: n for n in errors},
       "br_err_name() names every error code of br_proto.h, and only those",
       diff({n: n for n in errors}, enames))
    schema = codec_schema(codec)
    unknown = sorted(t for t in schema if t not in types and t != "HS")
    ok(not unknown, "br_codec.c's schema names only types of br_proto.h", unknown)

    # ---- siogate.h: the SDK's copy of the error codes ----
    sdk = {n[len("SIOGATE_BR_"):]: v for n, v in
           proto.parse_enum(read("sdk", "siogate.h"), "siogate_bridge_error")}
    ok(sdk == errors, "siogate.h enum siogate_bridge_error = br_proto.h enum br_err",
       diff(errors, sdk))

    # ---- sdk/python/siogate/protocol.py ----
    pytext = read("sdk", "python", "siogate", "protocol.py")
    py = py_assignments(pytext)
    ok({n: py.get(n) for n in types} == types,
       "protocol.py defines every message type with br_proto.h's number",
       diff(types, {n: py[n] for n in types if n in py}))
    pye = {n[2:]: v for n, v in py.items() if n.startswith("E_")}
    ok(pye == errors, "protocol.py E_* = br_proto.h enum br_err", diff(errors, pye))
    ok(py.get("VERSION") == proto.VERSION, "protocol.py VERSION = BR_VERSION")
    for name, cname in (("DEFAULT_CREDIT", "BR_DEFAULT_CREDIT"), ("DEFAULT_HB_MS", "BR_DEFAULT_HB_MS"),
                        ("DEAD_AFTER_MISSED", "BR_DEAD_AFTER_MISSED")):
        ok(py.get(name) == proto.parse_define(header, cname), "protocol.py %s = %s" % (name, cname))
    m = re.search(r"^ERROR_NAMES = \{(.*?)\}", pytext, re.M | re.S)
    pairs = dict(re.findall(r'E_(\w+): "(\w+)"', m.group(1))) if m else {}
    ok(pairs == {n: n for n in errors}, "protocol.py ERROR_NAMES names every error code",
       diff({n: n for n in errors}, pairs))

    # ---- siogate-protocol(7) ----
    man = read("man", "siogate-protocol.7")
    table = man_table(man)
    ok({n: v for n, (v, _, _) in table.items()} == types,
       "siogate-protocol(7) MESSAGE TYPES lists every type with its number",
       diff(types, {n: v for n, (v, _, _) in table.items()}))
    credited = {n for n, (_, _, c) in table.items() if c.startswith("yes")}
    m = re.search(r"^CREDITED = frozenset\(\((.*?)\)\)", pytext, re.M | re.S)
    pycred = set(re.findall(r"\b([A-Z][A-Z_]+)\b", m.group(1))) if m else set()
    ok(pycred == credited, "protocol.py CREDITED = the types the man page says cost credit",
       "man: %s\nprotocol.py: %s" % (sorted(credited), sorted(pycred)))
    mcodes = dict((n, int(v)) for v, n in re.findall(r"^\.It (\d+) Dv (\w+)$", man, re.M))
    ok(mcodes == errors, "siogate-protocol(7) ERROR CODES lists every code with its number",
       diff(errors, mcodes))
    sections = man_sections(man)
    missing = sorted(n for n in types if n not in sections)
    ok(not missing, "siogate-protocol(7) has a section \"NAME (number)\" for every type", missing)
    wrong = sorted("%s (%s)" % (n, sections[n][0]) for n in types
                   if n in sections and sections[n][0] != types[n])
    ok(not wrong, "... with br_proto.h's number", wrong)
    lacking = []
    for t, keys in sorted(schema.items()):
        if t not in sections:
            continue
        documented = sections[t][1]
        for k in sorted(keys):
            if k not in documented:
                lacking.append("%s: key %s" % (t, k))
    ok(not lacking, "every key br_codec.c checks is documented in its type's section", lacking)

    # ---- every other Python copy ----
    copies = 0
    bad = []
    for d in ("tests", "examples", os.path.join("sdk", "python")):
        for root, dirs, files in os.walk(os.path.join(TOP, d)):
            dirs[:] = [x for x in dirs if x not in ("node_modules", "__pycache__")]
            for f in sorted(files):
                if not f.endswith(".py"):
                    continue
                path = os.path.join(root, f)
                try:
                    with open(path, encoding="utf-8") as fh:
                        got = py_assignments(fh.read())
                except (SyntaxError, UnicodeDecodeError):
                    continue
                mine = {n: v for n, v in got.items() if n in types}
                if mine:
                    copies += 1
                rel = os.path.relpath(path, TOP)
                bad += ["%s: %s = %s (br_proto.h: %s)" % (rel, n, v, types[n])
                        for n, v in sorted(mine.items()) if v != types[n]]
                bad += ["%s: E_%s = %s (br_proto.h: %s)" % (rel, n[2:], v, errors[n[2:]])
                        for n, v in sorted(got.items())
                        if n.startswith("E_") and n[2:] in errors and v != errors[n[2:]]]
    ok(not bad, "the %d Python files with their own copy of type numbers agree" % copies, "\n".join(bad))
    print("1..%d" % _n, flush=True)
    return 1 if _failed else 0


def codec_schema(codec):
    """{TYPE: {keys}} of br_codec.c's br_fields table (macros expanded)."""
    macros = {}
    for name, key in re.findall(r'#define (SIO_\w+)\(t, name(?:, req)?\) \\\s*\{ t, "(\w+)"', codec):
        macros[name] = key
    m = re.search(r"br_fields\[\] = \{(.*?)\n\};", codec, re.S)
    body = m.group(1) if m else ""
    out = {}
    for t, key in re.findall(r'\{\s*BR_T_(\w+),\s*"(\w+)"', body):
        out.setdefault(t, set()).add(key)
    for mac, t in re.findall(r'\b(SIO_[A-Z]+)\(BR_T_(\w+),', body):
        if mac in macros:
            out.setdefault(t, set()).add(macros[mac])
    return out


def man_table(man):
    """{NAME: (number, direction, credit)} of the MESSAGE TYPES table."""
    m = re.search(r"^\.Sh MESSAGE TYPES\n(.*?)^\.El", man, re.M | re.S)
    out = {}
    for line in (m.group(1) if m else "").splitlines():
        cells = line[len(".It "):].split(" Ta ") if line.startswith(".It ") else []
        if len(cells) == 4 and cells[1].isdigit():
            out[cells[0]] = (int(cells[1]), cells[2], cells[3])
    return out


def man_sections(man):
    """{NAME: (number, {keys})}: a heading ".Ss NAME (n)..." or ".It Sy NAME (n)"
    (several names on one heading share it), with the keys named by ".It Cm key"
    (or ".It Cm a , b") until the next heading; a type with no heading but a
    mention "NAME (n)" in the text gets that number and no keys."""
    head = re.compile(r"^(?:\.Ss|\.It Sy) ([A-Z][A-Z_]+ \(\d+\).*)$", re.M)
    pair = re.compile(r"\b([A-Z][A-Z_]+) \((\d+)\)")
    marks = list(head.finditer(man))
    out = {}
    for i, m in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(man)
        sub = re.search(r"^\.S[hs] ", man[m.end():end], re.M)
        if sub:
            end = m.end() + sub.start()
        body = man[m.end():end]
        keys = set()
        for line in re.findall(r"^\.It Cm (.*)$", body, re.M):
            line = line.split(" Pq ")[0]
            keys |= {w for w in re.split(r"[ ,]+", line) if re.fullmatch(r"[a-z_][a-z0-9_.]*", w)
                     and w not in ("Cm", "No", "or", "and")}
        for name, num in pair.findall(m.group(1)):
            out.setdefault(name, (int(num), keys))
    for name, num in pair.findall(man):
        out.setdefault(name, (int(num), set()))
    return out


if __name__ == "__main__":
    sys.exit(main())
