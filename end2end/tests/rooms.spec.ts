import { expect, test } from "@playwright/test";
import { cluster, expectConnected, instanceCount, instanceUrl, newPage, register, say, socketInstance, uniqueUser, waitAllReady } from "./helpers";

test("rooms: create, share by URL, unread counts, refresh keeps the room, leave", async ({ browser, baseURL }) => {
  const [aliceContext, alice] = await newPage(browser, baseURL!);
  const [bobContext, bob] = await newPage(browser, baseURL!);
  await register(alice, uniqueUser("alice"));
  await register(bob, uniqueUser("bob"));
  const room = `r${Date.now().toString(36)}`;

  await alice.locator("#new-room").fill("bad room!");
  await alice.locator("#join-room").click();
  await expect(alice.locator(".join-room .error")).toContainText("may only contain");

  await alice.locator("#new-room").fill(room);
  await alice.locator("#join-room").click();
  await expect(alice).toHaveURL(new RegExp(`/r/${room}$`));
  await expect(alice.locator("#room-title")).toHaveText(`#${room}`);
  await say(alice, `first in ${room}`);

  // Bob opens the shared link and sees the history.
  await bob.goto(`/r/${room}`);
  await expectConnected(bob).catch(() => undefined);
  await expect(bob.locator("#connection")).toHaveText(/^connected to /);
  await expect(bob.locator(".line", { hasText: `first in ${room}` })).toHaveCount(1);

  // Bob switches to general; alice's next messages show as unread in bob's room list.
  await bob.locator(`.room-entry[data-room="general"] a`).click();
  await expect(bob.locator("#room-title")).toHaveText("#general");
  await say(alice, `unread one ${room}`);
  await say(alice, `unread two ${room}`);
  await expect(bob.locator(`.room-entry[data-room="${room}"] .unread`)).toHaveText("2");
  await bob.locator(`.room-entry[data-room="${room}"] a`).click();
  await expect(bob.locator(`.room-entry[data-room="${room}"] .unread`)).toHaveCount(0);
  await expect(bob.locator(".line", { hasText: `unread two ${room}` })).toHaveCount(1);

  // A refresh keeps the room (the URL names it) and the room list (kept on the server).
  await alice.reload();
  await expectConnected(alice).catch(() => undefined);
  await expect(alice.locator("#room-title")).toHaveText(`#${room}`);
  await expect(alice.locator(".line", { hasText: `unread two ${room}` })).toHaveCount(1);
  await alice.goto("/");
  await expect(alice.locator(`.room-entry[data-room="${room}"]`)).toBeVisible();

  // Leaving removes it from the list, on this page and after a refresh.
  await alice.locator(`.room-entry[data-room="${room}"] .leave`).click();
  await expect(alice.locator(`.room-entry[data-room="${room}"]`)).toHaveCount(0);
  await expect(alice.locator("#room-title")).toHaveText("#general");
  await alice.reload();
  await expect(alice.locator("#connection")).toHaveText(/^connected to /);
  await expect(alice.locator(`.room-entry[data-room="${room}"]`)).toHaveCount(0);
  await aliceContext.close();
  await bobContext.close();
});

test("a page cut off while the other side sends shows every message exactly once", async ({ browser, baseURL }) => {
  const [aliceContext, alice] = await newPage(browser, baseURL!);
  await register(alice, uniqueUser("alice"));
  const from = await socketInstance(alice);
  const other = (from % instanceCount()) + 1;
  const [bobContext, bob] = await newPage(browser, instanceUrl(other));
  const bobName = uniqueUser("bob");
  await register(bob, bobName);
  try {
    cluster(`kill-instance ${from} KILL`);
    const texts = Array.from({ length: 10 }, (_, i) => `while away ${i} ${bobName}`);
    for (const text of texts) await say(bob, text);
    await expect(alice.locator("#socket-instance")).not.toHaveText(`app-${from}`, { timeout: 20_000 });
    await expect(alice.locator("#connection")).toHaveText(/^connected to /);
    for (const text of texts) await expect(alice.locator(".line", { hasText: text })).toHaveCount(1);
    // Order is the order sent.
    const shown = await alice.locator(".line .text").allTextContents();
    const positions = texts.map((t) => shown.indexOf(t));
    expect(positions).toEqual([...positions].sort((a, b) => a - b));
  } finally {
    cluster(`start-instance ${from}`);
    await waitAllReady();
    await aliceContext.close();
    await bobContext.close();
  }
});

test("a message typed offline survives a page reload and is delivered once", async ({ browser, baseURL }) => {
  const [aliceContext, alice] = await newPage(browser, baseURL!);
  const [bobContext, bob] = await newPage(browser, baseURL!);
  const aliceName = uniqueUser("alice");
  await register(alice, aliceName);
  await register(bob, uniqueUser("bob"));
  const text = `survives reload ${aliceName}`;
  try {
    for (let n = 1; n <= instanceCount(); n++) cluster(`kill-instance ${n} KILL`);
    await expect(alice.locator("#connection")).toHaveText(/reconnecting|offline/, { timeout: 10_000 });
    await alice.locator("#message").fill(text);
    await alice.locator("#send").click();
    await expect(alice.locator(".line.mine.pending", { hasText: text })).toBeVisible();
    // The connection task writes the outbox to browser storage when it takes the message (it may be
    // busy re-pinning for a moment); the reload below must come after that.
    await expect
      .poll(() => alice.evaluate((t) => Object.values(localStorage).some((v) => v.includes(t)), text), { timeout: 15_000 })
      .toBe(true);
    // The page is reloaded while no instance is up: HAProxy answers 503, the app is gone.
    const response = await alice.reload();
    expect(response?.status()).toBe(503);
  } finally {
    for (let n = 1; n <= instanceCount(); n++) cluster(`start-instance ${n}`);
    await waitAllReady();
  }
  // Back online: the outbox kept in browser storage is shown and sent.
  await alice.goto("/");
  await expect(alice.locator("#connection")).toHaveText(/^connected to /);
  await expect(alice.locator(".line.mine", { hasText: text })).not.toHaveClass(/pending/);
  await expect(bob.locator("#connection")).toHaveText(/^connected to /, { timeout: 20_000 });
  await expect(bob.locator(".line", { hasText: text })).toHaveCount(1);
  await expect(alice.locator(".line", { hasText: text })).toHaveCount(1);
  await aliceContext.close();
  await bobContext.close();
});
