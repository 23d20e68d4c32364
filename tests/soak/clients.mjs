// clients.mjs: one soak client process: N socket.io-client connections
// (half websocket, half polling) that emit acked events at a steady rate,
// drop and reconnect at random, and report on stdout (one JSON line) when
// told to stop (SIGTERM): acks asked, answered, errors, late, connect errors.
//   node clients.mjs URL N RATE_PER_CLIENT_PER_S DROP_PROB_PER_S
import { io } from 'socket.io-client';

const [url, nStr, rateStr, dropStr] = process.argv.slice(2);
const n = Number(nStr), rate = Number(rateStr), drop = Number(dropStr);
// abandoned: acks whose socket this process dropped on purpose while they were
// in flight (the client gives them up; not a loss of the gateway's).
const st = { asked: 0, answered: 0, errors: 0, unanswered: 0, abandoned: 0, connectErrors: 0,
  drops: 0 };
const pending = new Map();
let seq = 0;
const socks = [];

for (let i = 0; i < n; i++) {
  const s = io(url, {
    transports: i % 2 ? ['polling'] : ['websocket'],
    reconnectionDelay: 200, reconnectionDelayMax: 2000, forceNew: true,
  });
  s.on('connect_error', () => { st.connectErrors++; });
  socks.push(s);
}

function tick() {
  for (const s of socks) {
    if (Math.random() < drop) {
      st.drops++;
      s.dropEpoch = (s.dropEpoch || 0) + 1;
      s.disconnect();
      setTimeout(() => s.connect(), 100 + Math.random() * 1000);
      continue;
    }
    if (!s.connected || Math.random() >= rate) continue;
    const id = ++seq;
    const epoch = s.dropEpoch || 0;
    st.asked++;
    pending.set(id, true);
    s.timeout(20000).emit('ack', id, (err, res) => {
      pending.delete(id);
      if (err && (s.dropEpoch || 0) !== epoch) { st.abandoned++; return; }
      if (err) { st.unanswered++; return; }
      if (res && typeof res === 'object' && res.code) st.errors++;
      else st.answered++;
    });
  }
}
const timer = setInterval(tick, 1000);

process.on('SIGTERM', () => {
  clearInterval(timer);
  // Let the acks in flight come back (bounded by their own timeouts).
  const end = Date.now() + 22000;
  const wait = setInterval(() => {
    if (pending.size === 0 || Date.now() > end) {
      clearInterval(wait);
      st.unanswered += pending.size;
      for (const s of socks) s.disconnect();
      process.stdout.write(JSON.stringify(st) + '\n');
      setTimeout(() => process.exit(0), 200);
    }
  }, 100);
});
