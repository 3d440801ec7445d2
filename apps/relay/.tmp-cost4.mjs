import * as Y from 'yjs';
import * as encoding from 'lib0/encoding';
import { decodeIncomingMessage, encodeSyncStep2 } from './dist/sync/protocol.js';
const CLIENT = 424242;
function run(count, w) { const e = encoding.createEncoder(); encoding.writeVarUint(e, 1); encoding.writeVarUint(e, count); encoding.writeVarUint(e, CLIENT); encoding.writeVarUint(e, 0); for (let i = 0; i < count; i++) w(e, i); encoding.writeVarUint(e, 0); return encoding.toUint8Array(e); }
const shape = process.argv[2];
let u;
if (shape === 'deleted') u = run(1_000_000, (e, i) => { if (i === 0) { encoding.writeUint8(e, 1); encoding.writeVarUint(e, 1); encoding.writeVarString(e, 'items'); } else { encoding.writeUint8(e, 0x81); encoding.writeVarUint(e, CLIENT); encoding.writeVarUint(e, i - 1); } encoding.writeVarUint(e, 1); });
else { const d = new Y.Doc(); const m = d.getMap('items'); for (let i = 0; i < 50000; i++) { if (i % 100 === 0) d.clientID = i + 1; const it = new Y.Map(); m.set('id' + i, it); it.set('name', 'Milk ' + i); it.set('checked', false); it.set('qty', 1); if (i % 2) m.delete('id' + i); } u = Y.encodeStateAsUpdate(d); }
const msg = encodeSyncStep2(u);
for (let k = 0; k < 4; k++) { const t = performance.now(); decodeIncomingMessage(msg); const t2 = performance.now(); Y.decodeUpdate(u); console.log(shape, (u.length/1e6).toFixed(2), 'MB ours', (t2 - t).toFixed(0), 'ms; Y.decodeUpdate alone', (performance.now() - t2).toFixed(0), 'ms'); }
