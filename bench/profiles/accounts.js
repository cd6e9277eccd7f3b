// Registers (or logs in) N accounts on one instance, like bench/src/accounts.rs: POST a form
// `name` + `password` to /api/register (or /api/login); prints one JSON line per account
// {name, cookie} (the session cookie as a `Cookie` header value) to stdout.
//   node accounts.js BASE_URL PREFIX COUNT [CONCURRENCY] [register|login]
const [base, prefix, countArg, concArg, mode = 'register'] = process.argv.slice(2);
const count = Number(countArg), concurrency = Number(concArg || 4);
const PASSWORD = 'bench password 1';

async function one(name) {
  for (let attempt = 0; attempt < 50; attempt++) {
    const body = new URLSearchParams({ name, password: PASSWORD });
    const res = await fetch(`${base}/api/${mode}`, { method: 'POST', body, redirect: 'manual',
      headers: { origin: base } });
    if (res.status === 503 || res.status === 429) { await new Promise(r => setTimeout(r, 50 * (attempt + 1))); continue; }
    if (res.status >= 400) throw new Error(`${mode} ${name}: ${res.status} ${await res.text()}`);
    const cookies = res.headers.getSetCookie().map(c => c.split(';')[0]).filter(c => !c.startsWith('sbdevice='));
    if (!cookies.length) throw new Error(`${mode} ${name}: no session cookie`);
    await res.arrayBuffer();
    return { name, cookie: cookies.join('; ') };
  }
  throw new Error(`${mode} ${name}: still busy`);
}

(async () => {
  let next = 0, done = 0;
  const started = Date.now();
  const workers = Array.from({ length: concurrency }, async () => {
    while (next < count) {
      const i = next++;
      const account = await one(`${prefix}-${i}`);
      process.stdout.write(JSON.stringify(account) + '\n');
      done++;
    }
  });
  await Promise.all(workers);
  console.error(`${mode}: ${done} accounts in ${((Date.now() - started) / 1000).toFixed(1)} s`);
})().catch(e => { console.error(e); process.exit(1); });
