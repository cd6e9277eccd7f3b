import { expect, Page, test } from "@playwright/test";
import { newPage, register, uniqueUser } from "./helpers";

const ROOMS = 100; // general and 99 more: more than the flood limit's burst (2 × FRAMES_PER_SECOND = 80)

/** Joins `rooms` over a websocket of the page's own (its origin and cookies, through HAProxy), one
 *  `join` frame every 50 ms — well under the flood limit — and waits until the server answered each. */
async function joinSlowly(page: Page, rooms: string[]): Promise<number> {
  return page.evaluate(async (rooms) => {
    const socket = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`);
    const answered = new Set();
    const done = new Promise<void>((resolve, reject) => {
      socket.addEventListener("message", (event) => {
        const frame = JSON.parse(event.data);
        if (frame.type === "history" && rooms.includes(frame.room)) answered.add(frame.room);
        if (answered.size === rooms.length) resolve();
      });
      socket.addEventListener("close", (event) => reject(new Error(`closed: ${event.code} ${event.reason}`)));
    });
    await new Promise((resolve) => socket.addEventListener("open", resolve, { once: true }));
    for (const room of rooms) {
      socket.send(JSON.stringify({ type: "join", room }));
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await done;
    socket.close();
    return answered.size;
  }, rooms);
}

interface SocketLog {
  sent: string[];
  histories: Set<string>;
  closed: boolean;
}

function recordSockets(page: Page): SocketLog[] {
  const logs: SocketLog[] = [];
  const type = (payload: string | Buffer) => {
    try {
      return JSON.parse(String(payload));
    } catch {
      return { type: "(not json)" };
    }
  };
  page.on("websocket", (ws) => {
    const log: SocketLog = { sent: [], histories: new Set(), closed: false };
    logs.push(log);
    ws.on("framesent", ({ payload }) => log.sent.push(type(payload).type));
    ws.on("framereceived", ({ payload }) => {
      const frame = type(payload);
      if (frame.type === "history") log.histories.add(frame.room);
    });
    ws.on("close", () => (log.closed = true));
  });
  return logs;
}

test(`a user in ${ROOMS} rooms reloads and stays connected: one join_many frame rejoins them all`, async ({ browser, baseURL }) => {
  test.setTimeout(90_000);
  const [context, page] = await newPage(browser, baseURL!);
  await register(page, uniqueUser("many"));
  const stamp = Date.now().toString(36);
  const rooms = Array.from({ length: ROOMS - 1 }, (_, i) => `m${stamp}-${i}`);
  expect(await joinSlowly(page, rooms)).toBe(rooms.length);

  const sockets = recordSockets(page);
  await page.reload();
  await expect(page.locator("#connection")).toHaveText(/^connected to /);
  // Every room answered on the page's socket: the server read every rejoin frame without
  // closing the socket for flooding (it would have after 80 single joins).
  await expect.poll(() => sockets[0]?.histories.size ?? 0, { timeout: 30_000 }).toBe(ROOMS);
  expect(sockets).toHaveLength(1);
  expect(sockets[0].closed).toBe(false);
  expect(sockets[0].sent.filter((t) => t === "join_many")).toHaveLength(1);
  expect(sockets[0].sent.filter((t) => t === "join")).toHaveLength(0);
  await expect(page.locator("#room-list .room-entry")).toHaveCount(ROOMS);
  await expect(page.locator(".line.notice", { hasText: "connection was closed" })).toHaveCount(0);
  await expect(page.locator("#connection")).toHaveText(/^connected to /);
  await context.close();
});
