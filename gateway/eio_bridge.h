/*
 * eio_bridge.h: the raw Engine.IO adapter (sessions of raw endpoints served
 * by workers over the bridge).
 */
#ifndef EIO_BRIDGE_H
#define EIO_BRIDGE_H

#include "eio_session.h"
#include "gw_bridge.h"

/* The Engine.IO handler of raw endpoints (eio_session.h): sessions go to workers. */
extern const struct eio_handler eio_bridge_handler;
/* Its bridge layer (gw_bridge.h): EIO_SEND, EIO_CLOSE_SESSION, a lost worker's sessions. */
extern const struct gw_bridge_layer eio_bridge_layer;
/* The handshake map {eio, headers, query, addr, transport, time, url}, msgpack-encoded. */
struct gw_buf *eio_bridge_hs_blob(const struct http_req *req, const char *peer,
    const char *transport);

#endif
