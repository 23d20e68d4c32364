/*
 * gw_curve.h: CURVE on the bridge: the gateway's key pair, the worker keys
 * allowed, the ZAP handler (gw_curve.c).
 */
#ifndef GW_CURVE_H
#define GW_CURVE_H

#include "gw.h"

struct gw_curve;

/* --curve-keygen: print a CURVE key pair; 0 or -1. */
int gw_curve_keygen(void);
/*
 * When CURVE is configured, turn it on for the ROUTER socket router of
 * context zctx (before it binds), with the ZAP handler when the worker keys
 * are restricted.  0, or -1 with *why; *out is the state (NULL when CURVE
 * is off), to be given to gw_curve_stop() even after a failure.
 */
int gw_curve_start(struct gw *gw, void *zctx, void *router, struct gw_curve **out,
    const char **why);
/* Answer the ZAP requests waiting (cv NULL: none). */
void gw_curve_turn(struct gw_curve *cv);
/* Close the ZAP handler and free cv (NULL: nothing); before the context ends. */
void gw_curve_stop(struct gw *gw, struct gw_curve *cv);

#endif
