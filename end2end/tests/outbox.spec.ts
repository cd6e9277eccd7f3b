import { expect, Page, test } from "@playwright/test";
import { cluster, expectConnected, newPage, register, restoreCluster, socketInstance, uniqueUser } from "./helpers";

// The first test kills an instance of the shared cluster; this brings it back.
test.afterEach(restoreCluster);

/** The page's outbox in browser storage: the client ids and texts of unacknowledged messages. */
async function storedOutbox(page: Page, user: string): Promise<string[]> {
  return page.evaluate((key) => JSON.parse(localStorage.getItem(key) ?? "[]").map((p: { text: string }) => p.text), `switchboard.outbox.${user}`);
}

async function twoUsers(browser: import("@playwright/test").Browser, baseURL: string) {
  const [aliceContext, alice] = await newPage(browser, baseURL);
  const [bobContext, bob] = await newPage(browser, baseURL);
  const aliceName = uniqueUser("alice");
  await register(alice, aliceName);
  await register(bob, uniqueUser("bob"));
  return { alice, bob, aliceName, close: async () => { await aliceContext.close(); await bobContext.close(); } };
}

test("a message submitted while the connection is busy re-pinning is stored at once: after a reload it is delivered once", async ({ browser, baseURL }) => {
  const { alice, bob, aliceName, close } = await twoUsers(browser, baseURL!);
  // Hold the client's re-pin (`GET /` by fetch, after its socket is lost): its connection task
  // waits on that request and reads no command meanwhile.
  let repinStarted = () => {};
  const repinning = new Promise<void>((resolve) => (repinStarted = resolve));
  await alice.route(
    (url) => url.pathname === "/",
    async (route) => {
      if (route.request().resourceType() !== "fetch") return route.continue();
      repinStarted(); // and never answered
    },
  );
  cluster(`kill-instance ${await socketInstance(alice)} KILL`);
  await repinning;

  const text = `submitted mid-repin ${aliceName}`;
  await alice.locator("#message").fill(text);
  await alice.locator("#send").click();
  await expect(alice.locator(".line.mine.pending", { hasText: text })).toBeVisible();
  expect(await storedOutbox(alice, aliceName)).toEqual([text]);

  // Reload with the re-pin still held: the old page never gets further than this.
  await alice.reload();
  await expectConnected(alice);
  await alice.unrouteAll({ behavior: "ignoreErrors" });
  await expect(alice.locator(".line", { hasText: text })).toHaveCount(1);
  await expect(alice.locator(".line.mine", { hasText: text })).not.toHaveClass(/pending/);
  await expectConnected(bob);
  await expect(bob.locator(".line", { hasText: text })).toHaveCount(1);
  await expect.poll(() => storedOutbox(alice, aliceName)).toEqual([]);
  await close();
});

test("a message submitted and reloaded at once is delivered exactly once", async ({ browser, baseURL }) => {
  const { alice, bob, aliceName, close } = await twoUsers(browser, baseURL!);
  const text = `reloaded at once ${aliceName}`;
  await alice.locator("#message").fill(text);
  await alice.locator("#message").press("Enter");
  await alice.reload();
  await expectConnected(alice);
  await expect(alice.locator(".line", { hasText: text })).toHaveCount(1);
  await expect(alice.locator(".line.mine", { hasText: text })).not.toHaveClass(/pending/);
  await expect(bob.locator(".line", { hasText: text })).toHaveCount(1);
  // Nothing arrives late: a second copy would have come with the first.
  await alice.reload();
  await expectConnected(alice);
  await expect(alice.locator(".line", { hasText: text })).toHaveCount(1);
  await expect(bob.locator(".line", { hasText: text })).toHaveCount(1);
  await close();
});
