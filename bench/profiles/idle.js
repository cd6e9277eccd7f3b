// Opens idle authenticated websockets joined to a room, like the bench's idle scenario
// (bench/src/scenario/idle.rs + client.rs): each socket waits for `welcome`, sends
// {"type":"join","room":…} and waits for that room's `history`; rooms hold ROOM_SIZE sockets.
// Opens the sockets in batches given on stdin ("open N" lines), prints "opened TOTAL" after
// each batch, and holds every socket until stdin closes or it gets SIGTERM.
// With HISTORY=N in the environment, each room first gets N messages of ~150 characters (from
// a socket opened for that and closed after), so every socket's join answers a real history.
//   node idle.js BASE_URL ACCOUNTS_JSONL ROOM_PREFIX [ROOM_SIZE=30] [CONCURRENCY=64]
const fs = require('fs');
const readline = require('readline');
const WebSocket = require('ws');
const [base, accountsFile, roomPrefix, roomSizeArg, concArg] = process.argv.slice(2);
const roomSize = Number(roomSizeArg || 30), concurrency = Number(concArg || 64);
const accounts = fs.readFileSync(accountsFile, 'utf8').trim().split('\n').map(l => JSON.parse(l));
const wsUrl = base.replace(/^http/, 'ws') + '/ws';
const sockets = [];
const history = Number(process.env.HISTORY || 0);
const seeded = new Set();
let failed = 0;

// Posts `history` messages to room number `r` and waits for their acks.
function seed(r) {
  return new Promise((resolve) => {
    const account = accounts[r % accounts.length];
    const room = `${roomPrefix}-${r}`;
    const ws = new WebSocket(wsUrl, { headers: { cookie: account.cookie, origin: base }, perMessageDeflate: false });
    let acked = 0;
    const done = () => { ws.terminate(); resolve(); };
    const timer = setTimeout(() => { failed++; done(); }, 20000);
    ws.on('message', (data) => {
      const text = data.toString();
      if (text.startsWith('{"type":"welcome"')) {
        ws.send(JSON.stringify({ type: 'join', room }));
      } else if (text.startsWith('{"type":"history"') && text.includes(`"room":"${room}"`) && !text.includes('"more":true')) {
        for (let k = 0; k < history; k++) {
          const words = `message ${k} of room ${r}: `.padEnd(150, 'lorem ipsum dolor sit amet ');
          ws.send(JSON.stringify({ type: 'send', room, client_id: `seed-${r}-${k}`, text: words }));
        }
      } else if (text.startsWith('{"type":"ack"') && ++acked === history) {
        clearTimeout(timer); done();
      }
    });
    ws.on('error', () => { clearTimeout(timer); failed++; done(); });
  });
}

function open(i) {
  return new Promise((resolve) => {
    const account = accounts[i % accounts.length];
    const room = `${roomPrefix}-${Math.floor(i / roomSize)}`;
    const ws = new WebSocket(wsUrl, { headers: { cookie: account.cookie, origin: base }, perMessageDeflate: false });
    let state = 'welcome';
    const timer = setTimeout(() => { failed++; ws.terminate(); resolve(); }, 20000);
    ws.on('message', (data) => {
      const text = data.toString();
      if (state === 'welcome' && text.startsWith('{"type":"welcome"')) {
        state = 'join';
        ws.send(JSON.stringify({ type: 'join', room }));
      } else if (state === 'join' && text.startsWith('{"type":"history"') && text.includes(`"room":"${room}"`)) {
        state = 'idle';
        clearTimeout(timer);
        sockets.push(ws);
        resolve();
      }
    });
    ws.on('error', () => { if (state !== 'idle') { clearTimeout(timer); failed++; resolve(); } });
    ws.on('close', () => { if (state !== 'idle') { clearTimeout(timer); failed++; resolve(); } });
  });
}

let total = 0;
async function batch(n) {
  const start = total; total += n;
  for (let r = Math.floor(start / roomSize); history > 0 && r <= Math.floor((total - 1) / roomSize); r++) {
    if (!seeded.has(r)) { seeded.add(r); await seed(r); }
  }
  let next = start;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < total) { await open(next++); }
  }));
  console.log(`opened ${sockets.length} failed ${failed}`);
}

const rl = readline.createInterface({ input: process.stdin });
let chain = Promise.resolve();
rl.on('line', (line) => {
  const m = line.match(/^open (\d+)/);
  if (m) chain = chain.then(() => batch(Number(m[1])));
});
rl.on('close', () => chain.then(() => { sockets.forEach(s => s.terminate()); process.exit(0); }));
process.on('SIGTERM', () => { sockets.forEach(s => s.terminate()); process.exit(0); });
