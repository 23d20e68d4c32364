/*
 * br_pickle.h: read a Python pickle of plain data as msgpack, without ever
 * executing or naming code.
 *
 * python-socketio's pub/sub managers (RedisManager, KombuManager,
 * Flask-SocketIO's message_queue) publish pickle.dumps(dict) on the bus.
 * This decoder is a small stack machine over the pickle opcodes that make
 * plain values; every opcode that would import a name, call, build or look
 * up an object is refused.  Like br_codec.c and br_json.c: no I/O, no
 * logging.
 */
#ifndef BR_PICKLE_H
#define BR_PICKLE_H

#include <stddef.h>
#include <msgpack.h>

/*
 * Output bound: the packed values may cost at most
 * BR_PICKLE_EXPAND * len + BR_PICKLE_SLACK units, one unit per value plus
 * one per byte of each str and bin.  Only memo sharing can make the output
 * larger than the input (pickle writes a repeated object once and then
 * refers to it), so this refuses "sharing bombs" of a few bytes that
 * unfold into gigabytes.
 */
#define BR_PICKLE_EXPAND 16
#define BR_PICKLE_SLACK (1u << 20)

/*
 * Decode the one pickle in buf[0..len) and pack its value into pk:
 * dict -> map (insertion order kept), list and tuple -> array, str -> str,
 * bytes and bytearray -> bin, int -> int (from -2^63 to 2^64-1), float ->
 * float64, True/False -> bool, None -> nil.
 *
 * Protocols 1 to 5 are read in full as far as these types go, and
 * protocol 0 except its text strings (STRING, UNICODE).  Protocol 2
 * pickles bytes as a call to _codecs.encode, which is code: use 3 or
 * later (Python 3's default is 4).  FRAME, PROTO and the memo (PUT,
 * BINPUT, LONG_BINPUT, MEMOIZE, GET, BINGET, LONG_BINGET) work as in
 * Python; memo indices must be below len.
 *
 * Refused, each with its own message: every opcode that refers to code or
 * objects (GLOBAL, STACK_GLOBAL, REDUCE, BUILD, INST, OBJ, NEWOBJ,
 * NEWOBJ_EX, EXT1/2/4, PERSID, BINPERSID), out-of-band buffers, sets,
 * unknown opcodes and protocols above 5, truncation (also inside a frame),
 * bytes after STOP, a STOP that leaves more than the value on the stack or
 * a mark open, stack or mark underflow, a str that is not UTF-8 (RFC 3629:
 * no surrogates), an int outside the range above, a dict key that is not
 * a str or an int (bool included), a key set twice in one dict, APPEND or
 * SETITEM on something that is not a list or a dict, more than maxdepth
 * levels of containers (every list, tuple and dict counts one; the root
 * is level 0, so maxdepth 0 allows a scalar only; a list that contains
 * itself is too deep), output over the bound above, and input of
 * 128 MiB or more ("pickle too large").
 *
 * Memory: the decoder builds the value tree first (a few words per
 * opcode, so linear in len), then packs it; recursion is bounded by
 * maxdepth.
 *
 * 0 with exactly one value packed, or -1 with *why (static); on -1 the
 * packer's output is incomplete and must be thrown away.
 */
int br_pickle_pack(msgpack_packer *pk, const void *buf, size_t len,
    unsigned maxdepth, const char **why);

/*
 * br_pickle_pack() with flags.  BR_PICKLE_MARK_TUPLES: when the root is a
 * dict, each of its values that is a tuple packs as an array whose first
 * item is the empty ext of type BR_PICKLE_TUPLE_EXT, followed by the
 * tuple's items (python-socketio's emit data: a tuple is several
 * arguments, a list one).  Deeper tuples stay plain arrays.
 */
#define BR_PICKLE_MARK_TUPLES 1
#define BR_PICKLE_TUPLE_EXT 84	/* 'T' */
int br_pickle_pack_flags(msgpack_packer *pk, const void *buf, size_t len,
    unsigned maxdepth, int flags, const char **why);

#endif
