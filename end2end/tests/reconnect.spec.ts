import { expect, Page, test } from "@playwright/test";
import { cluster, expectConnected, instanceCount, newPage, register, restoreCluster, say, socketInstance, uniqueUser, waitAllReady } from "./helpers";

// Every test here kills or restarts instances of the shared cluster and brings them back.
test.afterEach(restoreCluster);

async function twoUsers(browser: import("@playwright/test").Browser, baseURL: string) {
  const [aliceContext, alice] = await newPage(browser, baseURL);
  const [bobContext, bob] = await newPage(browser, baseURL);
  const aliceName = uniqueUser("alice");
  await register(alice, aliceName);
  await register(bob, uniqueUser("bob"));
  return { alice, bob, aliceName, close: async () => { await aliceContext.close(); await bobContext.close(); } };
}

async function expectMovedAway(page: Page, from: number): Promise<number> {
  await expect(page.locator("#socket-instance")).not.toHaveText(`app-${from}`, { timeout: 20_000 });
  await expect(page.locator("#connection")).toHaveText(/^connected to /, { timeout: 20_000 });
  return socketInstance(page);
}

for (const signal of ["KILL", "TERM"]) {
  test(`SIG${signal} on the page's instance: it reconnects elsewhere, logged in, and keeps chatting`, async ({ browser, baseURL }) => {
    const { alice, bob, aliceName, close } = await twoUsers(browser, baseURL!);
    const from = await socketInstance(alice);
    const started = Date.now();
    cluster(`kill-instance ${from} ${signal}`);
    const to = await expectMovedAway(alice, from);
    test.info().annotations.push({ type: "reconnect", description: `app-${from} → app-${to} in ${Date.now() - started} ms` });
    await expect(alice.locator(".me")).toHaveText(aliceName);
    await expectConnected(bob);
    const text = `after SIG${signal} ${aliceName}`;
    await say(alice, text);
    await expect(bob.locator(".line", { hasText: text })).toHaveCount(1);
    await close();
  });
}

test("a message typed while every instance is down is delivered once after the reconnect", async ({ browser, baseURL }) => {
  const { alice, bob, aliceName, close } = await twoUsers(browser, baseURL!);
  for (let n = 1; n <= instanceCount(); n++) cluster(`kill-instance ${n} KILL`);
  await expect(alice.locator("#connection")).toHaveText(/reconnecting|offline/, { timeout: 10_000 });
  await expect(alice.locator(".retry")).toBeVisible();
  const text = `typed offline ${aliceName}`;
  await alice.locator("#message").fill(text);
  await alice.locator("#send").click();
  await expect(alice.locator(".line.mine.pending", { hasText: text })).toBeVisible();
  for (let n = 1; n <= instanceCount(); n++) cluster(`start-instance ${n}`);
  // The page may reconnect by itself first, and the button goes: click it only if it is still offered
  // (without a timeout the click would wait for it until the test times out).
  await alice.locator(".retry").click({ timeout: 2_000 }).catch(() => undefined);
  await expectConnected(alice);
  await expect(alice.locator(".line.mine", { hasText: text })).not.toHaveClass(/pending/);
  await expectConnected(bob);
  await expect(bob.locator(".line", { hasText: text })).toHaveCount(1);
  await expect(alice.locator(".line", { hasText: text })).toHaveCount(1);
  await close();
});

test("scaling from three instances down to one keeps everyone chatting", async ({ browser, baseURL }) => {
  const { alice, bob, aliceName, close } = await twoUsers(browser, baseURL!);
  for (let n = 2; n <= instanceCount(); n++) cluster(`kill-instance ${n} TERM`);
  for (const page of [alice, bob]) {
    await expect(page.locator("#socket-instance")).toHaveText("app-1", { timeout: 20_000 });
    await expectConnected(page);
  }
  const text = `only app-1 left ${aliceName}`;
  await say(alice, text);
  await expect(bob.locator(".line", { hasText: text })).toHaveCount(1);
  await close();
});

test("a rolling restart of every instance logs nobody out", async ({ browser, baseURL }) => {
  const { alice, bob, aliceName, close } = await twoUsers(browser, baseURL!);
  for (let n = 1; n <= instanceCount(); n++) {
    cluster(`kill-instance ${n} TERM`);
    cluster(`start-instance ${n}`);
    await waitAllReady();
  }
  for (const page of [alice, bob]) await expectConnected(page);
  await alice.reload();
  await expectConnected(alice);
  await expect(alice.locator(".me")).toHaveText(aliceName);
  const text = `after the rolling restart ${aliceName}`;
  await say(alice, text);
  await expect(bob.locator(".line", { hasText: text })).toHaveCount(1);
  await close();
});
