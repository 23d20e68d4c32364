// The bridge protocol's numbers, read from bridge/br_proto.h (the one source),
// as tests/lib/proto.py does for Python: T.HELLO, T.SIO_EMIT, ... (BR_T_ without
// its prefix), E.NOT_REGISTERED, ... (BR_E_), VERSION.
// tests/unit/proto_agree.test.py checks the other copies against the header.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const top = process.env.TOP_SRCDIR || join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const text = readFileSync(join(top, 'bridge', 'br_proto.h'), 'utf8').replace(/\/\*[\s\S]*?\*\//g, ' ');

function parseEnum(name, prefix) {
  const m = text.match(new RegExp(`\\benum\\s+${name}\\s*\\{([\\s\\S]*?)\\}\\s*;`));
  if (!m) throw new Error(`br_proto.h: no enum ${name}`);
  const out = {};
  for (const item of m[1].split(',').map((s) => s.trim()).filter(Boolean)) {
    const mm = item.match(/^([A-Za-z_]\w*)\s*=\s*(\d+)$/);
    if (!mm || !mm[1].startsWith(prefix)) throw new Error(`br_proto.h: enum ${name}: ${item}`);
    out[mm[1].slice(prefix.length)] = Number(mm[2]);
  }
  return Object.freeze(out);
}

export const T = parseEnum('br_type', 'BR_T_');
export const E = parseEnum('br_err', 'BR_E_');
export const VERSION = Number(text.match(/^#define\s+BR_VERSION\s+(\d+)/m)[1]);
