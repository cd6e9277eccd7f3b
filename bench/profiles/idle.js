// Opens idle authenticated websockets joined to a room, like the bench's idle scenario
// (bench/src/scenario/idle.rs + client.rs): each socket waits for `welcome`, sends
// {"type":"join","room":…} and waits for that room's `history`; rooms hold ROOM_SIZE sockets.
// Opens the sockets in batches given on stdin ("open N" lines), prints "opened TOTAL" after
// each batch, and holds every socket until stdin closes or it gets SIGTERM.
//   node idle.js BASE_URL ACCOUNTS_JSONL ROOM_PREFIX [ROOM_SIZE=30] [CONCURRENCY=64]
const fs = require('fs');
const readline = require('readline');
const WebSocket = require('ws');
const [base, accountsFile, roomPrefix, roomSizeArg, concArg] = process.argv.slice(2);
const roomSize = Number(roomSizeArg || 30), concurrency = Number(concArg || 64);
const accounts = fs.readFileSync(accountsFile, 'utf8').trim().split('\n').map(l => JSON.parse(l));
const wsUrl = base.replace(/^http/, 'ws') + '/ws';
const sockets = [];
let failed = 0;

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
