/*
 * gw_bridge.h: the gateway side of the bridge (ROUTER socket, workers,
 * credit, heartbeats).  Protocol: siogate-protocol(7), codec: bridge/.
 */
#ifndef GW_BRIDGE_H
#define GW_BRIDGE_H

#include "gw.h"
#include "http.h"

struct eio_session;

int gw_bridge_start(struct gw *gw, const char **why);
/* Say BYE to every worker and close the socket. */
void gw_bridge_stop(struct gw *gw);
/* Drain the ROUTER socket (edge-triggered ZMQ_FD); called before sleeping. */
void gw_bridge_turn(struct gw *gw);
/* Whether some live worker serves this endpoint. */
int gw_bridge_has_worker(struct gw *gw, const struct gw_endpoint *ep);
/* Bind a new session to a worker and send EIO_OPEN; -1 if no worker. */
int gw_bridge_eio_open(struct gw *gw, struct eio_session *s, const struct http_req *req,
    const char *peer, const char *transport);
void gw_bridge_eio_message(struct gw *gw, struct eio_session *s, const char *data,
    size_t len, int binary);
void gw_bridge_eio_close(struct gw *gw, struct eio_session *s, const char *reason);

#endif
