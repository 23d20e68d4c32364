// node_server.mjs: the Node.js reference server of siogate's benchmarks
// (tests/bench/run.sh): npm socket.io 4.8 with the handlers of
// bench_worker.c, in process.
//
//   node node_server.mjs [--port 8090] [--ping-interval MS] [--ping-timeout MS]
//                        [--redis redis://HOST:PORT]
//
// With --redis, the server is a node of a cluster on @socket.io/redis-adapter
// (tests/bench/cluster.sh: fanout across two servers).
//
//   "join" [room]      the sender joins room; an ack, if asked, is []
//   "broadcast" [x]    emits "broadcast" [x] to the room "bench"
//   "echo" [args...]   answers the ack with the same arguments
//
// Prints "node_server: listening on 127.0.0.1:PORT" once it accepts.
// Settings are the defaults but for serveClient (off) and the ping timing,
// which run.sh sets to the same values as siogate's.
import { createServer } from "node:http";
import { parseArgs } from "node:util";
import { Server } from "socket.io";
import { createRequire } from "node:module";

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "8090" },
    host: { type: "string", default: "127.0.0.1" },
    "ping-interval": { type: "string", default: "25000" },
    "ping-timeout": { type: "string", default: "20000" },
    redis: { type: "string" },
  },
});

const require = createRequire(import.meta.url);
let bufferutil = "no";
try {
  require.resolve("bufferutil");
  bufferutil = "yes";
} catch {
  // optional: ws falls back to JavaScript masking
}

let adapter;
if (values.redis) {
  const { createClient } = await import("redis");
  const { createAdapter } = await import("@socket.io/redis-adapter");
  const pub = createClient({ url: values.redis });
  const sub = pub.duplicate();
  await Promise.all([pub.connect(), sub.connect()]);
  adapter = createAdapter(pub, sub);
}

const httpServer = createServer();
const io = new Server(httpServer, {
  serveClient: false,
  pingInterval: Number(values["ping-interval"]),
  pingTimeout: Number(values["ping-timeout"]),
  ...(adapter ? { adapter } : {}),
});

io.on("connection", (socket) => {
  socket.on("join", (room, ack) => {
    socket.join(room);
    if (typeof ack === "function") ack();
  });
  socket.on("broadcast", (x) => {
    io.to("bench").emit("broadcast", x);
  });
  socket.on("echo", (...args) => {
    const ack = args.pop();
    if (typeof ack === "function") ack(...args);
  });
});

httpServer.listen(Number(values.port), values.host, () => {
  const { version } = require("socket.io/package.json");
  console.error(
    `node_server: listening on ${values.host}:${values.port} ` +
      `(socket.io ${version}, bufferutil ${bufferutil})`,
  );
});

const stop = () => {
  io.close();
  httpServer.close();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
