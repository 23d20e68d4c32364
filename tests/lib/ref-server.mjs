// ref-server.mjs: the Node reference Engine.IO server (the `engine.io`
// package) as an echo server, started by harness.mjs instead of siogate
// when SIOGATE_REF=1, so that the integration tests can be checked against
// real Engine.IO behaviour.  Takes the siogate options the tests use and
// ignores the others; prints "listening on 127.0.0.1:PORT" on stderr.
import http from 'node:http';
import { Server } from 'engine.io';

const opt = { listen: '127.0.0.1:0', 'ping-interval': 25000, 'ping-timeout': 20000,
  'max-payload': 1000000, 'cors-origin': null };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i += 2) opt[argv[i].replace(/^--/, '')] = argv[i + 1];

const [, host, port] = /^\[?(.*?)\]?:(\d+)$/.exec(opt.listen);
const cors = opt['cors-origin'] && { origin: opt['cors-origin'] === '*' ? true : opt['cors-origin'], credentials: true };
const engine = new Server({ pingInterval: +opt['ping-interval'], pingTimeout: +opt['ping-timeout'],
  maxHttpBufferSize: +opt['max-payload'], cors });
const srv = http.createServer((req, res) => { res.writeHead(404).end(); });
engine.attach(srv, { path: '/engine.io/' });
engine.on('connection', (sock) => {
  sock.on('message', (data) => sock.send(data));
  sock.on('close', (reason) => console.error(`ref-server: session ${sock.id} closed: ${reason}`));
});
engine.on('connection_error', (e) => console.error(`ref-server: error ${e.code} ${e.message} origin=${e.req.headers.origin}`));
srv.listen(+port, host, () => console.error(`ref-server: listening on ${host}:${srv.address().port}`));
process.on('SIGTERM', () => { engine.close(); srv.close(); process.exit(0); });
