"""The gateway's calls go down its layers (issue 13): every module of
gateway/ is in a layer of tools/include-graph.py's LAYERS table, and no
module names a function of a higher layer (a lower layer reaches a higher
one only through handler tables and hooks the higher one registered).
One TAP test per layer, so a new upward call says which layer it breaks
and names the functions.  Standard library only."""
import importlib.util
import os
import sys

TOP = os.environ.get("TOP_SRCDIR") or os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                   "..", "..")
spec = importlib.util.spec_from_file_location("include_graph",
                                              os.path.join(TOP, "tools", "include-graph.py"))
ig = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ig)

files = ig.load(os.path.join(TOP, "gateway"))
owner, defs = ig.modules(files)
nodes = set(owner.values())
used = {}
calls = ig.graph_calls(files, owner, defs, used)
rank = {m: i for i, (_, mods) in enumerate(ig.LAYERS) for m in mods.split()}

n = failed = 0


def ok(cond, what, detail=()):
    global n, failed
    n += 1
    failed += not cond
    print(("ok" if cond else "not ok") + " %d - %s" % (n, what), flush=True)
    if not cond:
        for line in detail:
            print("#   " + line, flush=True)


print("1..%d" % (len(ig.LAYERS) + 2), flush=True)
ok(len(nodes) > 20 and len(calls) > 50, "the tool reads gateway/ (%d modules, %d call edges)"
   % (len(nodes), len(calls)))
loose = sorted(m for m in nodes if m not in rank and not m.endswith(".h"))
ok(not loose, "every module of gateway/ is in a layer", ["not in LAYERS: " + m for m in loose])
for i, (layer, _) in enumerate(ig.LAYERS):
    up = sorted((a, b) for a, b in calls
                if rank.get(a) == i and b in rank and rank[b] > i)
    ok(not up, "layer %d (%s) calls no higher layer" % (i, layer),
       ["%s -> %s (%s): %s" % (a, b, ig.LAYERS[rank[b]][0], " ".join(sorted(used[(a, b)])))
        for a, b in up])
sys.exit(1 if failed else 0)
