import { expect, Page, test } from "@playwright/test";
import { cluster, newPinnedPage, register, restoreCluster, say, socketInstance, uniqueUser } from "./helpers";

// The test kills an instance of the shared cluster; this brings it back.
test.afterEach(restoreCluster);

/**
 * Makes the page's websockets fail as a breaking proxy does — the upgrade "succeeds" and the
 * socket is closed at once — until `open()` is called; then they reach the server again.
 */
async function breakWebSockets(page: Page): Promise<{ open: () => void }> {
  let broken = true;
  await page.routeWebSocket(/\/ws$/, (ws) => {
    if (broken) ws.close();
    else ws.connectToServer();
  });
  return { open: () => (broken = false) };
}

async function expectOnce(page: Page, text: string): Promise<void> {
  await expect(page.locator(".line", { hasText: text })).toHaveCount(1);
}

test("with websockets broken the page chats over HTTP, survives its instance's death and moves back to websockets", async ({ browser, baseURL }) => {
  test.setTimeout(180_000);
  const [aliceContext, alice] = await newPinnedPage(browser, baseURL!, 1, { viewport: { width: 390, height: 800 } });
  const [bobContext, bob] = await newPinnedPage(browser, baseURL!, 2);
  const network = await breakWebSockets(alice);
  const aliceName = uniqueUser("alice");
  await register(alice, aliceName);
  await expect(alice.locator("#connection")).toHaveText(/^connected to app-1 over HTTP/);
  await register(bob, uniqueUser("bob"));
  await expect(bob.locator("#connection")).toHaveText(/^connected to app-2$/);

  // Both ways, between the fallback on app-1 and a websocket on app-2.
  await say(alice, `over http ${aliceName}`);
  await expectOnce(bob, `over http ${aliceName}`);
  await say(bob, `over a websocket ${aliceName}`);
  await expectOnce(alice, `over a websocket ${aliceName}`);
  await expect(bob.locator("#online .member", { hasText: aliceName })).toBeVisible();
  // A page says "typing" at most every 2.5 s, and both just typed their messages.
  await alice.waitForTimeout(2_600);
  await alice.locator("#message").pressSequentially("hello the", { delay: 30 });
  await expect(bob.locator("#typing")).toHaveText(`${aliceName} is typing…`);
  await alice.locator("#message").fill("");
  await bob.locator("#message").pressSequentially("hello the", { delay: 30 });
  await expect(alice.locator("#typing")).toContainText("is typing…");
  await bob.locator("#message").fill("");

  // The instance holding Alice's stream dies; both write while she is away.
  const holder = await socketInstance(alice);
  cluster(`kill-instance ${holder} KILL`);
  await say(bob, `while you were away ${aliceName}`);
  await alice.locator("#message").fill(`written while cut off ${aliceName}`);
  await alice.locator("#message").press("Enter");
  await expect(alice.locator("#socket-instance")).not.toHaveText(`app-${holder}`, { timeout: 30_000 });
  await expect(alice.locator("#connection")).toHaveText(/over HTTP/);
  for (const page of [alice, bob]) {
    await expectOnce(page, `while you were away ${aliceName}`);
    await expectOnce(page, `written while cut off ${aliceName}`);
    await expectOnce(page, `over http ${aliceName}`);
  }
  await expect(alice.locator(".line.mine", { hasText: `written while cut off ${aliceName}` })).not.toHaveClass(/pending/);

  // Websockets get through again: the page tries one now and then, and moves to it.
  network.open();
  await expect(alice.locator("#connection")).toHaveText(/^connected to app-\d+$/, { timeout: 90_000 });
  await say(alice, `back on a websocket ${aliceName}`);
  await expectOnce(bob, `back on a websocket ${aliceName}`);
  for (const page of [alice, bob]) {
    await expectOnce(page, `while you were away ${aliceName}`);
    await expectOnce(page, `written while cut off ${aliceName}`);
  }
  await aliceContext.close();
  await bobContext.close();
});
