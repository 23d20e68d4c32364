/*
 * sio_packet.c: Socket.IO v5 packet headers in and whole packets out.
 *
 *   <type>[<attachments>-][<nsp>,][<ack id>][<JSON>]
 *
 * Parsing follows what the reference parser accepts; the JSON payload is
 * checked by the caller (it needs the parsed value anyway).
 */
#include <stdio.h>
#include <string.h>

#include "br_json.h"
#include "sio.h"

#define SIO_MAX_ACK_ID 9007199254740991ull	/* 2^53 - 1: a JS safe integer */

/* Parse a packet header. */
int
sio_packet_parse(const char *p, size_t n, struct sio_pkt *out, unsigned max_att, const char **why)
{
	size_t i = 1;

	memset(out, 0, sizeof *out);
	if (n == 0 || p[0] < '0' || p[0] > '6') {
		*why = "unknown packet type";
		return -1;
	}
	out->type = p[0] - '0';
	if (out->type == SIO_BINARY_EVENT || out->type == SIO_BINARY_ACK) {
		size_t start = i;
		uint64_t v = 0;

		while (i < n && p[i] >= '0' && p[i] <= '9' && i - start < 6)
			v = v * 10 + (uint64_t)(p[i++] - '0');
		if (i == start || i >= n || p[i] != '-') {
			*why = "illegal attachments";
			return -1;
		}
		if (v > max_att) {
			*why = "too many attachments";
			return -1;
		}
		out->natt = (uint32_t)v;
		i++;
	}
	if (i < n && p[i] == '/') {
		const char *comma = memchr(p + i, ',', n - i);
		size_t end = comma ? (size_t)(comma - p) : n;

		out->nsp = p + i;
		out->nsp_len = end - i;
		i = comma ? end + 1 : n;
	} else {
		out->nsp = "/";
		out->nsp_len = 1;
	}
	if (i < n && p[i] >= '0' && p[i] <= '9') {
		uint64_t v = 0;

		while (i < n && p[i] >= '0' && p[i] <= '9') {
			v = v * 10 + (uint64_t)(p[i++] - '0');
			if (v > SIO_MAX_ACK_ID) {
				*why = "ack id too large";
				return -1;
			}
		}
		out->has_id = 1;
		out->id = v;
	}
	out->data = p + i;
	out->data_len = n - i;
	return 0;
}

/* Append the header: type, attachments, namespace, ack id. */
static int
pkt_header(struct br_buf *b, int type, uint32_t natt, const char *nsp, size_t nsp_len,
    int has_id, uint64_t id)
{
	char tmp[64];
	int n;

	n = snprintf(tmp, sizeof tmp, "%c", '0' + type);
	if (natt > 0 && (type == SIO_EVENT || type == SIO_ACK)) {
		tmp[0] = (char)('0' + type + 3);	/* BINARY_EVENT / BINARY_ACK */
		n += snprintf(tmp + n, sizeof tmp - (size_t)n, "%u-", natt);
	}
	if (br_buf_append(b, tmp, (size_t)n) < 0)
		return -1;
	if (!(nsp_len == 1 && nsp[0] == '/')) {
		if (br_buf_append(b, nsp, nsp_len) < 0 || br_buf_append(b, ",", 1) < 0)
			return -1;
	}
	if (has_id) {
		n = snprintf(tmp, sizeof tmp, "%llu", (unsigned long long)id);
		if (br_buf_append(b, tmp, (size_t)n) < 0)
			return -1;
	}
	return 0;
}

/* Encode a whole packet into Engine.IO packets (text first, then attachments). */
int
sio_packet_encode(int type, const char *nsp, size_t nsp_len, int has_id, uint64_t id,
    const msgpack_object *ev, const msgpack_object *args, const char *json,
    struct gw_buf **out, const char **why)
{
	return sio_packet_encode_tail(type, nsp, nsp_len, has_id, id, ev, args, json, NULL, out,
	    why);
}

/* The same, with tail (JSON text: a recovery offset) as the last argument. */
int
sio_packet_encode_tail(int type, const char *nsp, size_t nsp_len, int has_id, uint64_t id,
    const msgpack_object *ev, const msgpack_object *args, const char *json, const char *tail,
    struct gw_buf **out, const char **why)
{
	struct br_buf body = { 0 }, pkt = { 0 };
	struct br_str att[SIO_MAX_ATTACHMENTS];
	size_t natt = 0;
	uint32_t i;
	int count = 0;

	if (json != NULL) {
		if (br_buf_append(&body, json, strlen(json)) < 0)
			goto oom;
	} else if (args != NULL || ev != NULL) {
		if (args != NULL && args->type != MSGPACK_OBJECT_ARRAY) {
			*why = "args is not an array";
			goto fail;
		}
		if (br_buf_append(&body, "[", 1) < 0)
			goto oom;
		if (ev != NULL && br_json_write(&body, ev, att, &natt, SIO_MAX_ATTACHMENTS,
		    SIO_OUT_DEPTH, why) < 0)
			goto fail;
		for (i = 0; args != NULL && i < args->via.array.size; i++) {
			if ((i > 0 || ev != NULL) && br_buf_append(&body, ",", 1) < 0)
				goto oom;
			if (br_json_write(&body, &args->via.array.ptr[i], att, &natt,
			    SIO_MAX_ATTACHMENTS, SIO_OUT_DEPTH, why) < 0)
				goto fail;
		}
		if (tail != NULL && (br_buf_append(&body, ",", 1) < 0 ||
		    br_buf_append(&body, tail, strlen(tail)) < 0))
			goto oom;
		if (br_buf_append(&body, "]", 1) < 0)
			goto oom;
	}
	if (pkt_header(&pkt, type, (uint32_t)natt, nsp, nsp_len, has_id, id) < 0 ||
	    br_buf_append(&pkt, body.p, body.len) < 0)
		goto oom;
	out[count++] = eio_pkt_new(EIO_MESSAGE, pkt.p, pkt.len, 0);
	for (i = 0; i < natt; i++)
		out[count++] = eio_pkt_new(EIO_MESSAGE, att[i].p, att[i].n, 1);
	br_buf_free(&body);
	br_buf_free(&pkt);
	return count;
oom:
	*why = "out of memory";
fail:
	br_buf_free(&body);
	br_buf_free(&pkt);
	return -1;
}
