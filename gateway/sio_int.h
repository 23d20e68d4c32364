/*
 * sio_int.h: what sio_socket.c, sio_conn.c and sio_order.c share; not for
 * the rest of the gateway (sio.h is the Socket.IO layer's interface).
 */
#ifndef SIO_INT_H
#define SIO_INT_H

#include "sio.h"

/* sio_socket.c: sockets */
struct sio_socket *sio_conn_socket(struct sio_conn *c, const char *nsp, size_t n);
void sio_conn_fail(struct sio_conn *c, const char *why, const char *data, size_t len);
void sio_send_json(struct eio_session *s, int type, const char *nsp, size_t nlen, const char *json);
void sio_wait_end(struct sio_wait *wt, const char *reason);
void sio_handle_connect(struct sio_conn *c, const struct sio_pkt *pkt);
void sio_enc_socket(struct br_enc *e, int type, uint32_t nfields, struct sio_socket *so);
void sio_socket_close(struct sio_socket *so, const char *reason, int tell_worker);

/* sio_order.c: the order of a socket's events */
void sio_socket_hold(struct sio_socket *so);
void sio_held_free(struct gw *gw, struct sio_socket *so);
void sio_held_flush(struct sio_socket *so);
void sio_enc_rooms(struct br_enc *e, struct sio_socket *so);
int sio_event_out(struct sio_socket *so, struct gw_worker *w, struct br_enc *e, uint64_t ack1,
    ev_tstamp t, int hold, int force);
void sio_held_push(struct sio_socket *so, struct br_enc *e, uint64_t ack1, const char *name);

#endif
