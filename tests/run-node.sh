#!/bin/sh
# run-node.sh: automake LOG_COMPILER for the node:test integration tests
# (tests/integ/*.mjs); also runnable by hand:
#   SIOGATE=gateway/siogate ECHO_WORKER=examples/echo/echo_worker tests/run-node.sh tests/integ/eio_polling.test.mjs
#   SIOGATE_REF=1 tests/run-node.sh tests/integ/eio_polling.test.mjs   (against the Node reference server)
#
# Node's TAP reporter prints each top-level test() as an unindented
# "ok N"/"not ok N" line and subtests indented, so tap-driver.sh counts the
# top-level tests only.  The TAP stream goes to fd 3 (the driver's stdout)
# and the test process's own stdout goes to stderr, so that a stray
# console.log line starting with "ok" can never be counted as a result.
here=$(cd "$(dirname "$0")" && pwd)
if [ ! -d "$here/node_modules" ]; then
	echo "1..0 # SKIP node_modules not installed (run npm ci in tests/)"
	exit 0
fi
if ! command -v node >/dev/null 2>&1; then
	echo "1..0 # SKIP node not found"
	exit 0
fi
if [ "${SIOGATE_REF:-}" != 1 ] && [ ! -x "${SIOGATE:-}" ]; then
	echo "1..0 # SKIP SIOGATE is not set to the gateway binary"
	exit 0
fi
# A hard bound on one file, in case something wedges past every deadline.
exec 3>&1 1>&2
exec timeout -k 5 ${SIOGATE_TEST_TIMEOUT:-120} node --test-reporter=tap --test-reporter-destination=/dev/fd/3 "$1"
