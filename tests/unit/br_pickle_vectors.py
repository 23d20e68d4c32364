#!/usr/bin/python3
"""br_pickle_vectors.py: test vectors for tests/unit/br_pickle_test.c.

Real pickles made by Python's pickle, each line:
    NAME <TAB> MAXDEPTH <TAB> ok <TAB> HEX(pickle) <TAB> HEX(msgpack.packb(value))
    NAME <TAB> MAXDEPTH <TAB> err <TAB> HEX(pickle) <TAB> what the error must say
The expected msgpack is python3-msgpack's; the pub/sub messages are the
dicts python-socketio's PubSubManager publishes (RedisManager pickles them
with pickle.dumps, Python's default protocol).

With --corpus DIR, also write a seed corpus for tests/fuzz/fuzz_pickle.c.
"""
import os
import pickle
import pickletools
import sys

import msgpack
import socketio

DEPTH = 32
out = []

# Opcodes the decoder reads; the first other one in a pickle names the
# error (Python's own disassembler is the oracle).
PLAIN = set('''MARK STOP POP POP_MARK DUP FLOAT INT BININT BININT1 LONG BININT2
NONE BINSTRING SHORT_BINSTRING BINUNICODE APPEND DICT EMPTY_DICT APPENDS GET
BINGET LONG_BINGET LIST EMPTY_LIST PUT BINPUT LONG_BINPUT SETITEM TUPLE
EMPTY_TUPLE SETITEMS BINFLOAT PROTO TUPLE1 TUPLE2 TUPLE3 NEWTRUE NEWFALSE LONG1
LONG4 BINBYTES SHORT_BINBYTES SHORT_BINUNICODE BINUNICODE8 BINBYTES8 MEMOIZE
FRAME BYTEARRAY8'''.split())
REFUSED = {
    'GLOBAL': 'refers to code (GLOBAL)',
    'STACK_GLOBAL': 'refers to code (STACK_GLOBAL)',
    'REDUCE': '(REDUCE)', 'BUILD': '(BUILD)', 'NEWOBJ': '(NEWOBJ)',
    'EMPTY_SET': 'holds a set', 'FROZENSET': 'holds a set',
    'NEXT_BUFFER': 'out-of-band buffers',
    'UNICODE': 'protocol 0 text strings', 'STRING': 'protocol 0 text strings',
}


def ok(name, p, value, depth=DEPTH):
    out.append((name, depth, 'ok', p, msgpack.packb(value, use_bin_type=True)))


def err(name, p, why, depth=DEPTH):
    out.append((name, depth, 'err', p, why.encode()))


def first_refused(p):
    for op, _, _ in pickletools.genops(p):
        if op.name not in PLAIN:
            return REFUSED[op.name]
    return None


def value(name, v, protocols=range(6)):
    """v pickled in each protocol: read as msgpack, or refused as Python's
    disassembler says (bytes before protocol 3 are a call, and so on)."""
    for proto in protocols:
        p = pickle.dumps(v, protocol=proto)
        assert pickle.loads(p) == v or v != v
        why = first_refused(p)
        if why is None:
            try:
                ok('%s/p%d' % (name, proto), p, v)
            except OverflowError:	# msgpack has no such int either
                err('%s/p%d' % (name, proto), p, 'does not fit in 64 bits')
        else:
            err('%s/p%d' % (name, proto), p, why)


# ---- plain values, every protocol ----
for i, v in enumerate([None, True, False, 0, 1, -1, 127, 128, 255, 256, -129,
                       65535, 65536, 2**31 - 1, -2**31, 2**31, -2**31 - 1,
                       2**32, 2**63 - 1, -2**63, 2**63, 2**64 - 1, 1.5, -0.0,
                       1e300, 5e-324, float('inf'), float('-inf'), 0.1]):
    value('scalar%d' % i, v)
value('nan', float('nan'))
value('str-ascii', 'hello')
value('str-empty', '')
value('str-latin', 'caf\u00e9 \u00fc')
value('str-bmp', '\u4e2d\u6587 \u20ac')
value('str-astral', 'emoji \U0001F600 \U00010348 \U0010FFFF')
value('str-nul', 'a\x00b\n\\u0041')
value('str-300', 'x' * 300)
value('str-70000', '\u00e9' * 35000)
value('bytes', b'\x00\x01\xff' * 3)
value('bytes-empty', b'')
value('bytes-300', bytes(range(256)) + b'z' * 44)
value('bytearray', bytearray(b'\x00abc'))
value('list', [1, 'two', 3.0, None, True, b'six'], range(3, 6))
value('list-big', list(range(2500)))
value('tuple0', ())
value('tuple1', ('a',))
value('tuple2', ('a', 2))
value('tuple3', ('a', 2, None))
value('tuple4', ('a', 2, None, [4]))
value('dict', {'a': 1, 'b': [1, 2, {'c': ()}], 'z': {}})
value('dict-order', {'zeta': 1, 'alpha': 2, 'mid': 3, '': 4})
value('dict-intkeys', {1: 'a', -5: 'b', 2**63: 'c', 'x': 'd'})
value('dict-big', {'k%d' % i: i for i in range(2100)})
value('nested', {'a': [[1, [2, [3, {'b': (4, (5,))}]]]]})
value('depth32', [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]])
value('set', {1, 2, 3})
value('frozenset', frozenset([1]))
value('big-int', 2**64)
value('big-neg', -2**63 - 1)
value('huge-int', 10**40)


def deep(n):
    v = []
    for _ in range(n - 1):
        v = [v]
    return v


p = pickle.dumps(deep(33), protocol=4)
err('depth33/p4', p, 'too deep')
ok('depth33-limit40/p4', p, deep(33), depth=40)
err('scalar-depth0/p4', pickle.dumps([1], protocol=4), 'too deep', depth=0)
ok('list-depth1/p4', pickle.dumps([1], protocol=4), [1], depth=1)

# ---- memo sharing ----
s = 'shared ' * 20
lst = [1, 'x']
for proto in range(2, 6):
    ok('memo-str/p%d' % proto, pickle.dumps([s, s, {'k': s, s: s}], protocol=proto),
       [s, s, {'k': s, s: s}])
    ok('memo-list/p%d' % proto, pickle.dumps([lst, lst, (lst,)], protocol=proto),
       [lst, lst, (lst,)])
    many = ['s%d' % i for i in range(400)]
    ok('memo-long/p%d' % proto, pickle.dumps(many + many, protocol=proto), many + many)
    t = ('t', 1)
    ok('memo-tuple/p%d' % proto, pickle.dumps({'a': t, 'b': t}, protocol=proto),
       {'a': t, 'b': t})
    rec = []
    rec.append(rec)
    err('recursive-list/p%d' % proto, pickle.dumps(rec, protocol=proto), 'too deep')
    bomb = 'x' * 1000
    for _ in range(28):
        bomb = [bomb, bomb]
    err('sharing-bomb/p%d' % proto, pickle.dumps(bomb, protocol=proto), 'expands too much')

# ---- what python-socketio's pub/sub managers publish ----


class Capture(socketio.PubSubManager):
    """The real PubSubManager with _publish capturing instead of sending."""

    def __init__(self):
        super().__init__(channel='socketio', write_only=True)
        self.sent = []

    def _publish(self, data):
        self.sent.append(data)


m = Capture()
m.emit('chat', {'user': 'ana', 'text': 'ol\u00e1 \U0001F44B', 'n': 3}, namespace='/',
       room='lobby')
m.emit('multi', ('a', 2, [3], {'b': b'\x00\x01'}), namespace='/admin', room='r1',
       skip_sid='abc123')
m.emit('to-all', None, namespace='/')
m.emit('skip-list', 'x', namespace='/', room=['r1', 'r2'], skip_sid=['s1', 's2'])
m.can_disconnect('sid42', '/chat')
m.disconnect('sid43', namespace=None)
m.close_room('lobby', namespace='/')
m.close_room('lobby')
m._return_callback(m.host_id, 'sid44', '/', 7, 'reply', {'ok': True})
# Newer python-socketio (5.9+) publishes room changes too.
m._publish({'method': 'enter_room', 'sid': 'sid45', 'room': 'lobby',
            'namespace': '/', 'host_id': m.host_id})
m._publish({'method': 'leave_room', 'sid': 'sid45', 'room': 'lobby',
            'namespace': '/', 'host_id': m.host_id})
assert len(m.sent) == 11
for i, msg in enumerate(m.sent):
    ok('socketio-%s-%d/default' % (msg['method'], i), pickle.dumps(msg), msg)
    for proto in range(2, 6):
        p = pickle.dumps(msg, protocol=proto)
        why = first_refused(p)
        if why is None:
            ok('socketio-%s-%d/p%d' % (msg['method'], i, proto), p, msg)
        else:
            err('socketio-%s-%d/p%d' % (msg['method'], i, proto), p, why)

# ---- hostile pickles ----


class Evil:
    def __reduce__(self):
        return (os.system, ('echo pwned >&2',))


for proto in range(6):
    p = pickle.dumps(Evil(), protocol=proto)
    err('os.system/p%d' % proto, p, 'refers to code')
for proto in range(1, 6):
    p = pickle.dumps({'method': 'emit', 'data': Evil()}, protocol=proto)
    err('os.system-in-msg/p%d' % proto, p, 'refers to code')


class Obj:
    pass


err('object/p4', pickle.dumps(Obj(), protocol=4), 'refers to code (STACK_GLOBAL)')
err('builtins-eval/p0', b'cbuiltins\neval\n(Vprint(1)\ntR.', 'refers to code (GLOBAL)')
err('reduce-alone/p4', b'\x80\x04)\x94)R.', '(REDUCE)')
err('build/p4', b'\x80\x04}}b.', '(BUILD)')
err('inst/p0', b'(ios\nsystem\n.', '(INST)')
err('obj/p1', b'(o.', '(OBJ)')
err('newobj/p2', b'\x80\x02))\x81.', '(NEWOBJ)')
err('newobj-ex/p4', b'\x80\x04)))\x92.', '(NEWOBJ_EX)')
err('ext1/p2', b'\x80\x02\x82\x01.', 'EXT')
err('ext2/p2', b'\x80\x02\x83\x01\x00.', 'EXT')
err('ext4/p2', b'\x80\x02\x84\x01\x00\x00\x00.', 'EXT')
err('persid/p0', b'Pid\n.', 'persistent')
err('binpersid/p1', b'N\x51.', 'persistent')
buffers = []
err('next-buffer/p5', pickle.dumps(pickle.PickleBuffer(b'abc'), protocol=5,
                                   buffer_callback=buffers.append), 'out-of-band')
err('readonly-buffer/p5', b'\x80\x05\x97\x98.', 'out-of-band')
err('unknown-opcode/p4', b'\x80\x04\xff.', 'unknown pickle opcode')
err('unknown-opcode-0/p4', b'\x80\x04\x00.', 'unknown pickle opcode')
err('proto6', b'\x80\x06N.', 'unsupported pickle protocol')
err('empty', b'', 'truncated')
err('no-stop/p4', b'\x80\x04N', 'truncated')
err('trailing/p4', pickle.dumps(1, protocol=4) + b'x', 'bytes after')
err('two-pickles/p4', pickle.dumps(1, protocol=4) + pickle.dumps(2, protocol=4),
    'bytes after')
err('stop-empty/p4', b'\x80\x04.', 'unbalanced')
err('stop-two/p4', b'\x80\x04NN.', 'unbalanced')
err('stop-mark/p4', b'\x80\x04(N.', 'unbalanced')
err('append-underflow/p4', b'\x80\x04]a.', 'underflow')
err('append-past-mark/p4', b'\x80\x04](Na.', 'underflow')
err('appends-no-mark/p4', b'\x80\x04]e.', 'mark underflow')
err('appends-no-list/p4', b'\x80\x04(Ne.', 'underflow')
err('setitems-odd/p4', b'\x80\x04}(Nu.', 'odd number')
err('pop-underflow/p4', b'\x80\x040.', 'mark underflow')
err('dup-underflow/p4', b'\x80\x042.', 'underflow')
err('tuple3-underflow/p4', b'\x80\x04NN\x87.', 'underflow')
ok('pop-mark/p4', b'\x80\x04N(NN1.', None)
ok('pop-drops-mark/p4', b'\x80\x04N(0.', None)
err('dup-self/p4', b'\x80\x04]2a.', 'too deep')
err('append-to-dict/p4', b'\x80\x04}Na.', 'not a list')
err('setitem-on-list/p4', b'\x80\x04]K\x00Ns.', 'not a dict')
err('key-tuple', pickle.dumps({(1, 2): 3}, protocol=4), 'not a str or an int')
err('key-float', pickle.dumps({1.5: 3}, protocol=4), 'not a str or an int')
err('key-bool', pickle.dumps({True: 3}, protocol=4), 'not a str or an int')
err('key-none', pickle.dumps({None: 3}, protocol=4), 'not a str or an int')
err('key-bytes', pickle.dumps({b'k': 3}, protocol=4), 'not a str or an int')
err('key-twice/p4', b'\x80\x04}(\x8c\x01aK\x01\x8c\x01aK\x02u.', 'key twice')
err('key-twice-int/p4', b'\x80\x04}(K\x01NK\x01Nu.', 'key twice')
ok('key-int-vs-uint/p4', b'\x80\x04}(J\xff\xff\xff\xffN\x8a\x09' + b'\xff' * 8 +
   b'\x00Nu.', {-1: None, 2**64 - 1: None})
err('key-twice-setitem/p2', b'\x80\x02}\x8c\x01kNs\x8c\x01kNs.', 'key twice')
err('surrogate', pickle.dumps('\ud800', protocol=4), 'not valid UTF-8')
err('overlong-utf8/p4', b'\x80\x04\x8c\x02\xc0\xaf.', 'not valid UTF-8')
err('cut-utf8/p4', b'\x80\x04\x8c\x01\xe2.', 'not valid UTF-8')
err('binstring-8bit/p1', b'U\x01\xe9.', 'not ASCII')
ok('binstring-ascii/p1', b'U\x02hiT\x02\x00\x00\x00yo\x86.', ('hi', 'yo'))
err('binstring-neg/p1', b'T\xff\xff\xff\xff.', 'negative length')
err('huge-binunicode8/p4', b'\x80\x04\x8d' + (2**63).to_bytes(8, 'little') + b'abc.',
    'truncated')
err('huge-binbytes8/p4', b'\x80\x04\x8e' + b'\xff' * 8 + b'abc.', 'truncated')
err('huge-bytearray8/p5', b'\x80\x05\x96' + b'\xff' * 8 + b'.', 'truncated')
err('huge-binunicode/p4', b'\x80\x04X\xff\xff\xff\xffab.', 'truncated')
err('huge-frame/p4', b'\x80\x04\x95' + b'\xff' * 8 + b'N.', 'truncated')
err('huge-long4/p4', b'\x80\x04\x8b\xff\xff\xff\x7f.', 'truncated')
err('neg-long4/p4', b'\x80\x04\x8b\xff\xff\xff\xff.', 'negative length')
ok('long4-sign-ext/p4', b'\x80\x04\x8b\x0c\x00\x00\x00' + b'\xfe' + b'\xff' * 11 + b'.', -2)
ok('long1-empty/p4', b'\x80\x04\x8a\x00.', 0)
err('long1-9bytes-neg/p4', b'\x80\x04\x8a\x09' + b'\x00' * 8 + b'\xff.', 'does not fit')
err('frame-straddle/p4', b'\x80\x04\x95\x03\x00\x00\x00\x00\x00\x00\x00\x8c\x03abc.',
    'past the end of its FRAME')
err('frame-in-frame/p4', b'\x80\x04\x95\x0a\x00\x00\x00\x00\x00\x00\x00'
    b'\x95\x01\x00\x00\x00\x00\x00\x00\x00N.', 'inside the previous frame')
ok('frames-in-a-row/p4', b'\x80\x04\x95\x01\x00\x00\x00\x00\x00\x00\x00N'
   b'\x95\x01\x00\x00\x00\x00\x00\x00\x00.', None)
err('memo-unset/p4', b'\x80\x04h\x05.', 'not set')
err('memo-unset-long/p4', b'\x80\x04j\xff\xff\xff\xff.', 'not set')
err('memo-out-of-range/p4', b'\x80\x04Nr\xff\xff\xff\x7f.', 'out of range')
err('memo-put-empty/p4', b'\x80\x04\x94N.', 'underflow')
ok('memo-put-get-text/p0', b'I5\np3\n0g3\n.', 5)
err('memo-get-bad-text/p0', b'g1x\n.', 'memo index text')
ok('memoize-after-put/p4', b'\x80\x04Nq\x050\x88\x940h\x01.', True)
err('int-text-bad/p0', b'I12a\n.', 'INT or LONG text')
err('int-text-leading-zero/p0', b'I012\n.', 'INT or LONG text')
err('int-text-big/p0', b'I18446744073709551616\n.', 'does not fit')
ok('int-text-max/p0', b'L18446744073709551615L\n.', 2**64 - 1)
ok('int-text-min/p0', b'I-9223372036854775808\n.', -2**63)
err('float-text-hex/p0', b'F0x1p3\n.', 'FLOAT text')
err('line-truncated/p0', b'I12', 'truncated')
n = 200000
err('deep-handmade/p4', b'\x80\x04' + b']' * n + b'a' * (n - 1) + b'.', 'too deep')
err('many-marks/p4', b'\x80\x04' + b'(' * n + b'N.', 'unbalanced')


def nested_tuples(k):
    v = None
    for _ in range(k):
        v = (v,)
    return v


ok('mark-tuples/p4', b'\x80\x04' + b'(' * 20 + b'N' + b't' * 20 + b'.', nested_tuples(20))
for proto in (0, 1):
    value('text-proto-plain', [1, -2, 2.5, None, True, False, 10**12, {1: [2, (3,)]}],
          [proto])
    value('text-proto-str', ['s'], [proto])

if '--corpus' in sys.argv:
    d = sys.argv[sys.argv.index('--corpus') + 1]
    os.makedirs(d, exist_ok=True)
    keep_old = ('socketio-emit-0/p2', 'text-proto-plain/p0', 'memo-put-get-text/p0',
                'os.system/p0', 'memo-long/p2', 'binstring-ascii/p1', 'ext1/p2')
    for name, _, _, p, _ in out:
        old = name[-3:] in ('/p0', '/p1', '/p2', '/p3') and name not in keep_old
        if len(p) <= 1024 and not old and not name.startswith('scalar'):
            with open(os.path.join(d, name.replace('/', '-')), 'wb') as f:
                f.write(p)
else:
    for name, depth, kind, p, exp in out:
        sys.stdout.write('%s\t%d\t%s\t%s\t%s\n' % (
            name, depth, kind, p.hex(), exp.hex() if kind == 'ok' else exp.decode()))
