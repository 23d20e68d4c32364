#!/usr/bin/python3
"""include-graph.py: who includes, and who calls, whom in gateway/.

    tools/include-graph.py [--dot] [--edges] [--calls] [DIR]     (default: gateway/)
    tools/include-graph.py --layers [DIR]     calls that go up the layer table below
    make include-graph                                           (the same, summary only)

Nodes are modules: foo.c together with foo.h.  A header without a .c of
its stem (gw.h, sio.h) and a .c without a header (gw_main.c) are modules of
their own.

Three graphs, printed as counts, and as edges with --edges (the include
or calls graph as a Graphviz digraph with --dot, back-edges in red):

  include   module A -> module B when a file of A #includes a header of B;
  header    file A.c -> file B.c when A.c #includes (directly) a header that
            declares a function B.c defines: what A.c is given the names of
            (the figure the issue's "14-file include circle" counts);
  calls     module A -> module B when a .c of A names a non-static function
            defined in a .c of B (a call or a function pointer): what A
            really uses.

For each graph: nodes, edges, the strongly connected components with more
than one module (the include circles) and the number of modules in them,
the edges inside those components, and the back-edges of a depth-first
search in name order (the edges to drop, or turn into registration, for
the graph to become layered).  Back-edges depend on the visiting order;
the order here is fixed (sorted names), so two runs on one tree agree and
figures of two trees compare.  Only the standard library; no compiler.
"""
import os
import re
import sys

# The gateway's layers, lowest first.  A module may call modules of its own
# layer and of the layers below it; a lower layer reaches a higher one only
# through what the higher one registered (a handler table, a hook), so
# --layers lists every call that names a function of a higher layer.
LAYERS = [
    ("base", "gw_util gw_buf gw_log gw_map gw_ip gw_sha1 gw_tlist ws_scan gw_curve http gw_inbox"),
    ("transport", "gw_conn gw_http gw_listen"),
    ("engine.io", "eio_packet eio_v3 eio_ws eio_poll eio_v3_io eio_session"),
    ("bridge", "gw_bridge gw_ledger eio_bridge"),
    ("socket.io", "sio_packet sio_socket sio_conn sio_order sio_room sio_recover sio_v3 sio_bridge sio_eio"),
    ("cluster", "gw_cluster_msg gw_cluster"),
    ("process", "gw_loops gw_metrics gw_conf gw_super gw_main"),
]

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
# A definition in house style: the name at column 0, then "(", the return
# type on the line above; "static" on that line makes it file-local.
DEFN = re.compile(r'^([A-Za-z_][A-Za-z0-9_]*)\(', re.M)
# A prototype in a header: "name(...);" (macros are left out first).
PROTO = re.compile(r'\b([A-Za-z_][A-Za-z0-9_]*)\s*\([^;{]*\)\s*;', re.S)
IDENT = re.compile(r'\b[A-Za-z_][A-Za-z0-9_]*\b')
COMMENT = re.compile(r'/\*.*?\*/|//[^\n]*', re.S)
STRING = re.compile(r'"(?:\\.|[^"\\\n])*"')


def strip(text):
    """Text without comments and string literals (keeps #include lines)."""
    includes = "\n".join('#include "%s"' % h for h in INCLUDE.findall(text))
    return includes + "\n" + STRING.sub('""', COMMENT.sub(" ", text))


def load(d):
    files = {}
    for name in sorted(os.listdir(d)):
        if name.endswith((".c", ".h")):
            with open(os.path.join(d, name), encoding="utf-8", errors="replace") as f:
                files[name] = strip(f.read())
    return files


def defined(text):
    """Non-static functions defined in a .c file."""
    out = set()
    for m in DEFN.finditer(text):
        start = text.rfind("\n", 0, m.start() - 1) + 1
        before = text[start:m.start()]
        if "static" not in before.split() and not before.strip().endswith(("=", ",")):
            out.add(m.group(1))
    return out


def modules(files):
    """{file: module name}: foo.c and foo.h are module foo; a header without
    a .c of its stem (gw.h, sio.h) is a module of its own."""
    defs = {f: defined(t) for f, t in files.items() if f.endswith(".c")}
    owner = {}
    for f in files:
        stem = f[:-2]
        owner[f] = stem if f.endswith(".c") or stem + ".c" in files else f
    return owner, defs


def graph_include(files, owner):
    edges = set()
    for f, text in files.items():
        for h in INCLUDE.findall(text):
            if h in files and owner[h] != owner[f]:
                edges.add((owner[f], owner[h]))
    return edges


def declared(text):
    """Functions a header declares."""
    body = "\n".join(l for l in text.split("\n") if not l.lstrip().startswith("#"))
    return {m.group(1) for m in PROTO.finditer(body)}


def graph_provides(files, defs):
    """.c -> .c: A includes (directly) a header declaring a function of B."""
    prov = {h: [c for c, d in defs.items() if d & declared(t)]
            for h, t in files.items() if h.endswith(".h")}
    edges = set()
    for c in defs:
        for h in INCLUDE.findall(files[c]):
            for p in prov.get(h, []):
                if p != c:
                    edges.add((c, p))
    return edges


def graph_calls(files, owner, defs, used=None):
    where = {}
    for c, names in defs.items():
        for n in names:
            where.setdefault(n, c)
    edges = set()
    for c in defs:
        a = owner[c]
        for ident in set(IDENT.findall(files[c])):
            d = where.get(ident)
            if d is not None and owner[d] != a:
                edges.add((a, owner[d]))
                if used is not None:
                    used.setdefault((a, owner[d]), set()).add(ident)
    return edges


def layers(nodes, edges, names):
    """Print the calls that go up LAYERS; return how many module edges do."""
    rank = {}
    for i, (_, mods) in enumerate(LAYERS):
        for m in mods.split():
            rank[m] = i
    unranked = sorted(n for n in nodes if n not in rank and not n.endswith(".h"))
    up = sorted((a, b) for a, b in edges if a in rank and b in rank and rank[b] > rank[a])
    for i, (layer, mods) in enumerate(LAYERS):
        print("  %d %-10s %s" % (i, layer, mods))
    for n in unranked:
        print("  not in a layer: %s" % n)
    print("calls up the layers: %d" % len(up))
    for a, b in up:
        print("  %s (%s) -> %s (%s): %s" % (a, LAYERS[rank[a]][0], b, LAYERS[rank[b]][0],
                                          " ".join(sorted(names[(a, b)]))))
    return len(up) + len(unranked)


def sccs(nodes, edges):
    """Tarjan, iterative; components with more than one node, sorted."""
    adj = {n: sorted(b for a, b in edges if a == n) for n in nodes}
    index, low, on, stack, out, counter = {}, {}, set(), [], [], [0]
    for root in sorted(nodes):
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            v, i = work.pop()
            if i == 0:
                index[v] = low[v] = counter[0]
                counter[0] += 1
                stack.append(v)
                on.add(v)
            if i < len(adj[v]):
                work.append((v, i + 1))
                w = adj[v][i]
                if w not in index:
                    work.append((w, 0))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
            if work:
                u = work[-1][0]
                low[u] = min(low[u], low[v])
    return sorted(out, key=lambda c: (-len(c), c))


def back_edges(nodes, edges):
    """Edges to a node on the DFS stack, visiting in sorted order."""
    adj = {n: sorted(b for a, b in edges if a == n) for n in nodes}
    state, back = {}, []
    for root in sorted(nodes):
        if root in state:
            continue
        state[root] = 1
        work = [(root, iter(adj[root]))]
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is None:
                state[v] = 2
                work.pop()
            elif w not in state:
                state[w] = 1
                work.append((w, iter(adj[w])))
            elif state[w] == 1:
                back.append((v, w))
    return sorted(back)


def report(title, nodes, edges, args, unit="modules"):
    comps = sccs(nodes, edges)
    inside = {n for c in comps for n in c}
    within = sorted((a, b) for a, b in edges if a in inside and b in inside and
                    any(a in c and b in c for c in comps))
    back = back_edges(nodes, edges)
    print("%s graph: %d %s, %d edges" % (title, len(nodes), unit, len(edges)))
    print("  cycles (strongly connected components of 2+ %s): %d, %d %s in them"
          % (unit, len(comps), len(inside), unit))
    for c in comps:
        print("    [%d] %s" % (len(c), " ".join(c)))
    print("  edges inside them: %d" % len(within))
    print("  back-edges (DFS in name order): %d" % len(back))
    if args.get("edges"):
        for a, b in back:
            print("    back %s -> %s" % (a, b))
        for a, b in sorted(edges):
            print("  %s -> %s" % (a, b))


def dot(title, nodes, edges):
    back = set(back_edges(nodes, edges))
    print("digraph \"%s\" {" % title)
    for n in sorted(nodes):
        print('  "%s";' % n)
    for a, b in sorted(edges):
        print('  "%s" -> "%s"%s;' % (a, b, " [color=red]" if (a, b) in back else ""))
    print("}")


def main(argv):
    args = {"layers": "--layers" in argv, "dot": "--dot" in argv, "edges": "--edges" in argv, "calls": "--calls" in argv}
    rest = [a for a in argv if not a.startswith("--")]
    d = rest[0] if rest else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                          "gateway")
    if not os.path.isdir(d):
        sys.stderr.write("include-graph: no directory %s\n" % d)
        return 2
    files = load(d)
    owner, defs = modules(files)
    nodes = set(owner.values())
    inc = graph_include(files, owner)
    names = {}
    calls = graph_calls(files, owner, defs, names)
    if args["layers"]:
        return 1 if layers(nodes, calls, names) else 0
    prov = graph_provides(files, defs)
    if args["dot"]:
        dot("calls" if args["calls"] else "include", nodes, calls if args["calls"] else inc)
        return 0
    print("%s: %d files, %d modules" % (os.path.normpath(d), len(files), len(nodes)))
    report("include", nodes, inc, args)
    report("header", set(defs), prov, args, ".c files")
    report("calls", nodes, calls, args)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
