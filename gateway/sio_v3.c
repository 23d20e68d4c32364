/*
 * sio_v3.c: the Socket.IO v4 protocol spoken by Socket.IO 2.x clients over
 * Engine.IO v3 sessions ([engineio] allow_eio3).  What differs from v5:
 *
 *   - the client never sends CONNECT for "/": the server connects it as
 *     soon as the Engine.IO session is open (when a worker serves "/");
 *   - a CONNECT for another namespace carries its query string in the
 *     namespace ("0/admin?token=abc,"), which becomes the auth payload the
 *     worker sees ({"token":"abc"}), as in Node;
 *   - the server's CONNECT has no payload (the 2.x client derives the
 *     socket id from the Engine.IO sid itself);
 *   - CONNECT_ERROR (type 4) is ERROR, whose payload is any JSON value,
 *     usually a string: a worker's {"message": m, "data": d} is sent as d
 *     when given, else as m;
 *   - binary attachments are Engine.IO v3 binary messages (eio_v3.c).
 */
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "gw_bridge.h"
#include "sio.h"

/* Open the implicit "/" socket of a new v3 session (a synthetic "0"). */
void
sio3_conn_start(struct eio_session *s)
{
	if (!gw_bridge_serves_nsp(s->gw, "/", 1))
		return;		/* "/" served by no worker: other namespaces still work */
	sio_conn_message(s, "0", 1, 0);
}

/* URL-decode p[0..n) into a new string ('+' is a space). */
static char *
url_decode(const char *p, size_t n)
{
	char *out = gw_xstrndup(p, n);

	out[gw_url_decode(out, n, 1)] = '\0';
	return out;
}

/*
 * A v3 CONNECT: the namespace without its query string into *out, and the
 * query as a JSON object text (the auth payload).  Returns that text (the
 * caller frees it; out->data points into it), or NULL with out a copy of
 * pkt when there is no query.
 */
char *
sio3_connect_pkt(const struct sio_pkt *pkt, struct sio_pkt *out)
{
	const char *q = memchr(pkt->nsp, '?', pkt->nsp_len);
	size_t qn, i;
	json_t *obj;
	char *text;

	*out = *pkt;
	out->data = "";
	out->data_len = 0;
	if (q == NULL)
		return NULL;
	out->nsp_len = (size_t)(q - pkt->nsp);
	q++;
	qn = pkt->nsp_len - out->nsp_len - 1;
	obj = json_object();
	for (i = 0; i < qn;) {
		size_t k = i, eq;
		char *key, *val;

		while (k < qn && q[k] != '&')
			k++;
		for (eq = i; eq < k && q[eq] != '='; eq++)
			;
		key = url_decode(q + i, eq - i);
		val = eq < k ? url_decode(q + eq + 1, k - eq - 1) : gw_xstrndup("", 0);
		if (key[0] != '\0') {
			/* a key or value that is not UTF-8 is dropped */
			json_object_set_new(obj, key, json_stringn(val, strlen(val)));
		}
		free(key);
		free(val);
		i = k + 1;
	}
	text = json_dumps(obj, JSON_COMPACT);
	json_decref(obj);
	if (text == NULL)
		return NULL;
	out->data = text;
	out->data_len = strlen(text);
	return text;
}

/*
 * The v3 ERROR payload for a CONNECT_ERROR given as {"message":..., "data":...}:
 * data when present and not null, else message.  A new string.
 */
char *
sio3_error_json(const char *json)
{
	json_t *v = json_loads(json, 0, NULL), *d, *m;
	char *out;

	if (v == NULL)
		return gw_xstrndup(json, strlen(json));
	d = json_object_get(v, "data");
	m = json_object_get(v, "message");
	if (d != NULL && !json_is_null(d))
		out = json_dumps(d, JSON_COMPACT | JSON_ENCODE_ANY);
	else if (m != NULL)
		out = json_dumps(m, JSON_COMPACT | JSON_ENCODE_ANY);
	else
		out = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(v);
	return out != NULL ? out : gw_xstrndup("\"error\"", 7);
}

/*
 * The v3 form of an emit's Engine.IO packets (text first, then binary
 * attachments): made once per emit, for its first v3 recipient.
 */
struct gw_buf **
sio3_pkts(struct gw_buf *const *pkts, int n)
{
	struct gw_buf **v = gw_xmalloc((size_t)n * sizeof *v);
	int i;

	for (i = 0; i < n; i++)
		v[i] = eio3_pkt_binary(pkts[i]);
	return v;
}
