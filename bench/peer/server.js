// The peer Switchboard is benchmarked against: the stack a Socket.IO user would pick today.
// Express 5 + express-session (sessions in Redis via connect-redis) + Socket.IO 4 with the
// Redis adapter (a broadcast to a room reaches its members on every instance), websocket
// transport only, argon2id password hashes with the same parameters as Switchboard
// (19 MiB, 2 passes, 1 lane). Kept small and idiomatic on purpose: it is the fair peer.
//
// Environment: PORT (listen port), REDIS_URL, INSTANCE_ID.
// HTTP: POST /api/register and /api/login (form: name, password) → 200 + session cookie;
//       GET / → the chat page rendered for the session's user (302 to /login without one).
// Socket.IO events: "join" room (ack: true) · "send" {room, client_id, text} (ack: {id}) →
//       "message" {room, id, user, text, ts, client_id} to everyone in the room.

import { createServer } from "node:http";
import { randomUUID } from "node:crypto";
import express from "express";
import session from "express-session";
import { RedisStore } from "connect-redis";
import { createClient } from "redis";
import { Server } from "socket.io";
import { createAdapter } from "@socket.io/redis-adapter";
import argon2 from "argon2";

const PORT = Number(process.env.PORT ?? 3100);
const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const INSTANCE_ID = process.env.INSTANCE_ID ?? `peer-${PORT}`;
const HASH = { type: argon2.argon2id, memoryCost: 19456, timeCost: 2, parallelism: 1 };
const NAME = /^[A-Za-z0-9_.-]{1,32}$/;

const redis = createClient({ url: REDIS_URL });
const pub = redis.duplicate();
const sub = redis.duplicate();
for (const client of [redis, pub, sub]) client.on("error", (err) => console.error(`${INSTANCE_ID} redis: ${err.message}`));
await Promise.all([redis.connect(), pub.connect(), sub.connect()]);

const sessions = session({
  store: new RedisStore({ client: redis, prefix: "sess:" }),
  name: "sid",
  secret: process.env.SESSION_SECRET ?? "bench-peer-secret",
  resave: false,
  saveUninitialized: false,
  cookie: { httpOnly: true, sameSite: "lax", maxAge: 86_400_000 },
});

const app = express();
app.disable("x-powered-by");
app.use(express.urlencoded({ extended: false, limit: "16kb" }));
app.use(sessions);

app.get("/healthz", (_req, res) => res.send("ok"));
app.get("/login", (_req, res) =>
  res.type("html").send(`<!doctype html><title>Log in</title><form method="post" action="/api/login">
<input name="name"><input name="password" type="password"><button>Log in</button></form>`));
app.post("/api/logout", (req, res) => req.session.destroy(() => res.redirect("/login")));

/** Logs `name` in on this request: a new session id (no fixation), then the user. */
function logIn(req, res, name) {
  req.session.regenerate((err) => {
    if (err) return res.status(503).send("unavailable");
    req.session.user = name;
    req.session.save((err) => (err ? res.status(503).send("unavailable") : res.send("ok")));
  });
}

app.post("/api/register", async (req, res) => {
  const { name, password } = req.body ?? {};
  if (!NAME.test(name ?? "") || typeof password !== "string" || password.length < 8) {
    return res.status(400).send("bad name or password");
  }
  const hash = await argon2.hash(password, HASH);
  const created = await redis.hSetNX(`user:${name.toLowerCase()}`, "hash", hash);
  if (!created) return res.status(409).send("name taken");
  await redis.hSet(`user:${name.toLowerCase()}`, { name, display: name });
  logIn(req, res, name);
});

app.post("/api/login", async (req, res) => {
  const { name, password } = req.body ?? {};
  const user = typeof name === "string" ? await redis.hGetAll(`user:${name.toLowerCase()}`) : {};
  if (!user.hash || !(await argon2.verify(user.hash, String(password ?? "")))) {
    return res.status(401).send("wrong name or password");
  }
  logIn(req, res, user.name);
});

const escape = (s) =>
  String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);

app.get("/", async (req, res) => {
  if (!req.session.user) return res.redirect("/login");
  const user = await redis.hGetAll(`user:${req.session.user.toLowerCase()}`);
  if (!user.name) return res.redirect("/login");
  res.type("html").send(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Switchboard peer</title></head>
<body><header><h1>Switchboard</h1><span class="me">${escape(user.display)}</span>
<form method="post" action="/api/logout"><button>Log out</button></form></header>
<nav><ul id="rooms"><li class="active"><a href="/?room=general">#general</a></li></ul></nav>
<main><ol id="messages"></ol>
<form id="send"><input id="text" maxlength="2000" autocomplete="off"><button>Send</button></form></main>
<footer>instance ${escape(INSTANCE_ID)}</footer>
<script src="/socket.io/socket.io.min.js"></script>
<script>
const socket = io({ transports: ["websocket"] });
const list = document.getElementById("messages");
socket.on("connect", () => socket.emit("join", "general"));
socket.on("message", (m) => { const li = document.createElement("li"); li.textContent = m.user + ": " + m.text; list.append(li); });
document.getElementById("send").onsubmit = (e) => { e.preventDefault(); const t = document.getElementById("text");
  socket.emit("send", { room: "general", client_id: crypto.randomUUID(), text: t.value }); t.value = ""; };
</script></body></html>`);
});

const server = createServer(app);
const io = new Server(server, {
  transports: ["websocket"],
  adapter: createAdapter(pub, sub),
  // Same rule as Switchboard: only the page's own origin may open the socket.
  allowRequest: (req, done) => done(null, req.headers.origin === `http://${req.headers.host}`),
});
io.engine.use(sessions);
io.use((socket, next) => (socket.request.session?.user ? next() : next(new Error("unauthorized"))));

io.on("connection", (socket) => {
  const user = socket.request.session.user;
  socket.on("join", (room, ack) => {
    if (typeof room !== "string" || !NAME.test(room)) return ack?.(false);
    socket.join(room);
    ack?.(true);
  });
  socket.on("send", (msg, ack) => {
    const { room, client_id, text } = msg ?? {};
    if (!socket.rooms.has(room) || typeof text !== "string" || text.length > 2000) return ack?.({ error: "bad" });
    const message = { room, id: randomUUID(), user, text, ts: Date.now(), client_id };
    io.to(room).emit("message", message);
    ack?.({ id: message.id });
  });
});

server.listen(PORT, "127.0.0.1", () => console.log(`${INSTANCE_ID} listening on ${PORT}`));
