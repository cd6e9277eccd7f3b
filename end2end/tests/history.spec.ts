import { execSync } from "node:child_process";
import { expect, Page, test } from "@playwright/test";
import { cluster, instanceCount, login, newPage, register, restoreCluster, say, uniqueUser } from "./helpers";

// Every conversation kept (PostgreSQL behind the cluster): scrolling back to a room's first
// message, searching and opening a result in its context, and every acknowledged message still
// there after Redis lost its data and every instance was killed.

/** Runs SQL on the cluster's message store (scripts/cluster exports its URL). */
function sql(statement: string): void {
  const url = process.env.SB_DATABASE_URL;
  if (!url) throw new Error("SB_DATABASE_URL is not set: run through scripts/test");
  execSync(`psql "${url}" -q -v ON_ERROR_STOP=1`, { input: statement });
}

async function openRoom(page: Page, room: string): Promise<void> {
  await page.goto(`/r/${room}`);
  await expect(page.locator("#connection")).toHaveText(/^connected to /);
}

test("scrolling back reaches the first of 3,000 messages and keeps the reader's place", async ({ browser, baseURL }) => {
  test.setTimeout(180_000);
  // A room with 3,000 messages of history in the store (imported: no one could type them fast
  // enough under the send limit); nothing of it is in Redis.
  const room = uniqueUser("hist");
  sql(`INSERT INTO messages (room, ms, seq, author, name, body)
       SELECT '${room}', 1700000000000 + i * 1000, 0, 'seeder', 'Seeder', 'old message ' || i
       FROM generate_series(1, 3000) AS i;`);
  const [context, page] = await newPage(browser, baseURL!);
  await register(page, uniqueUser("reader"));
  await openRoom(page, room);
  const transcript = page.locator("ol.transcript");
  await expect(transcript.locator(".line", { hasText: "old message 3000" })).toBeVisible();
  await expect(transcript.locator(".line:not(.notice)")).toHaveCount(50);

  // One page back: the line the reader was looking at stays in view.
  const anchor = transcript.locator(".line", { hasText: "old message 2951" });
  await transcript.evaluate((list) => (list.scrollTop = 0));
  await expect(transcript.locator(".line:not(.notice)")).toHaveCount(100);
  await expect(anchor).toBeInViewport();

  // And on to the first message: every message once, in order.
  await expect(async () => {
    await transcript.evaluate((list) => (list.scrollTop = 0));
    await expect(transcript.locator(".history-start")).toContainText("The beginning of the conversation", { timeout: 500 });
  }).toPass({ timeout: 150_000, intervals: [200] });
  const texts = await transcript.locator(".line:not(.notice) .text").allTextContents();
  expect(texts.length).toBe(3000);
  expect(texts[0]).toBe("old message 1");
  expect(texts.every((text, i) => text === `old message ${i + 1}`)).toBe(true);
  await context.close();
});

test("search finds a message in the user's rooms and opens it in its context", async ({ browser, baseURL }) => {
  const [aliceContext, alice] = await newPage(browser, baseURL!);
  const [bobContext, bob] = await newPage(browser, baseURL!);
  await register(alice, uniqueUser("alice"));
  await register(bob, uniqueUser("bob"));
  const word = `zebra${Date.now().toString(36)}`;
  await say(alice, `before the ${word}`);
  await say(alice, `the ${word} report is ready`);
  await say(alice, "after it");

  await bob.locator("#search").fill(`${word.toUpperCase()} report`);
  await bob.locator("#search-go").click();
  await expect(bob.locator("#search-status")).toHaveText("1 message");
  const result = bob.locator("#search-results .result");
  await expect(result).toContainText(`the ${word} report is ready`);
  await result.click();
  const context = bob.locator("#search-context");
  await expect(context.locator(".hit")).toContainText(`the ${word} report is ready`);
  await expect(context.locator(".line", { hasText: "after it" })).toBeVisible();
  await expect(context.locator(".line", { hasText: `before the ${word}` })).toBeVisible();

  // Syntax that means something to a search engine is only words here; nothing is found, no error.
  await bob.locator("#search").fill(`"${word}" AND (nothing*)`);
  await bob.locator("#search-go").click();
  await expect(bob.locator("#search-status")).toHaveText(/No messages match/);
  await bob.locator("#search").fill("*** !!!");
  await bob.locator("#search-go").click();
  await expect(bob.locator("#search-status")).toHaveText("type a word to search for");
  await bob.locator("#search").press("Escape");
  await expect(bob.locator(".search-panel")).toHaveCount(0);
  await aliceContext.close();
  await bobContext.close();
});

test("every acknowledged message is still there after Redis lost its data and every instance was killed", async ({ browser, baseURL }) => {
  test.setTimeout(120_000);
  const room = uniqueUser("kept");
  const aliceName = uniqueUser("alice");
  const [aliceContext, alice] = await newPage(browser, baseURL!);
  await register(alice, aliceName);
  await openRoom(alice, room);
  const sent = [`first ${room}`, `second ${room}`, `third ${room}`];
  for (const text of sent) await say(alice, text);
  await aliceContext.close();

  for (let n = 1; n <= instanceCount(); n++) cluster(`kill-instance ${n} KILL`);
  execSync(`redis-cli -p ${process.env.SB_REDIS_PORT} FLUSHALL`);
  await restoreCluster();

  // The sessions were in Redis: alice logs in again (her account is in PostgreSQL) and finds the
  // room on her list with every message.
  const [againContext, again] = await newPage(browser, baseURL!);
  await login(again, aliceName);
  await expect(again.locator(`.room-entry[data-room="${room}"]`)).toBeVisible();
  await openRoom(again, room);
  const lines = again.locator("ol.transcript .line:not(.notice) .text");
  await expect(lines).toHaveText(sent);
  await againContext.close();
});
