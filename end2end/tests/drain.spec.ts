import { expect, Page, test } from "@playwright/test";
import { cluster, expectConnected, instancePid, newPage, newPinnedPage, register, restoreCluster, say, socketInstance, uniqueUser } from "./helpers";

// Both tests take an instance out of the shared cluster and bring it back.
test.afterEach(restoreCluster);

/** What the network said on one websocket of a page: the `type` of each frame received, in order. */
interface SocketLog {
  types: string[];
  closed: boolean;
}

function recordSockets(page: Page): SocketLog[] {
  const logs: SocketLog[] = [];
  page.on("websocket", (ws) => {
    const log: SocketLog = { types: [], closed: false };
    logs.push(log);
    ws.on("framereceived", ({ payload }) => {
      try {
        log.types.push(JSON.parse(String(payload)).type);
      } catch {
        log.types.push("(not json)");
      }
    });
    ws.on("close", () => {
      log.closed = true;
    });
  });
  return logs;
}

/** Runs in every document: keeps the close code of each websocket (Playwright does not report it). */
function recordCloseCodes(): void {
  const Native = window.WebSocket;
  const codes: number[] = [];
  (window as unknown as { __closeCodes: number[] }).__closeCodes = codes;
  (window as unknown as { WebSocket: unknown }).WebSocket = class extends Native {
    constructor(url: string | URL, protocols?: string | string[]) {
      super(url, protocols);
      this.addEventListener("close", (event) => codes.push(event.code));
    }
  };
}

const PAGES = 6;

test(`SIGTERM through HAProxy: all ${PAGES} pages on the instance get \`move\` and a 1012 close, then chat elsewhere`, async ({ browser, baseURL }) => {
  test.setTimeout(120_000);
  const target = 2;
  const pages: { page: Page; sockets: SocketLog[]; close: () => Promise<void> }[] = [];
  for (let i = 0; i < PAGES; i++) {
    const [context, page] = await newPinnedPage(browser, baseURL!, target);
    await context.addInitScript(recordCloseCodes);
    const sockets = recordSockets(page);
    await register(page, uniqueUser(`drain${i}`));
    expect(await socketInstance(page)).toBe(target);
    pages.push({ page, sockets, close: () => context.close() });
  }
  const live = pages.map(({ sockets }) => {
    const open = sockets.filter((s) => !s.closed);
    expect(open).toHaveLength(1);
    return open[0];
  });
  const closesBefore = await Promise.all(pages.map(({ page }) => page.evaluate(() => (window as unknown as { __closeCodes: number[] }).__closeCodes.length)));

  // Returns once the instance has exited: after DRAIN_GRACE_MS and the last `move`.
  cluster(`kill-instance ${target} TERM`);

  for (const [i, { page }] of pages.entries()) {
    await expect.poll(() => live[i].closed, { message: `page ${i}: socket closed` }).toBe(true);
    expect(live[i].types, `page ${i}: frames before the close`).toContain("move");
    const code = await page.evaluate((n) => (window as unknown as { __closeCodes: number[] }).__closeCodes[n], closesBefore[i]);
    expect(code, `page ${i}: close code`).toBe(1012);
  }
  for (const { page } of pages) {
    await expect(page.locator("#socket-instance")).not.toHaveText(`app-${target}`, { timeout: 20_000 });
    await expect(page.locator("#connection")).toHaveText(/^connected to /);
  }
  const text = `after the drain ${Date.now()}`;
  await say(pages[0].page, text);
  for (const { page } of pages.slice(1)) await expect(page.locator(".line", { hasText: text })).toHaveCount(1);
  for (const { close } of pages) await close();
});

test("a hung instance: the page notices its pings go unanswered and reconnects elsewhere", async ({ browser, baseURL }) => {
  const [context, page] = await newPage(browser, baseURL!);
  const [otherContext, other] = await newPage(browser, baseURL!);
  await register(page, uniqueUser("hung"));
  await register(other, uniqueUser("other"));
  const from = await socketInstance(page);
  const pid = instancePid(from);
  // The process keeps its sockets but answers nothing: HAProxy marks it down (failed checks)
  // and keeps the established websocket, as it does for a draining instance.
  process.kill(pid, "SIGSTOP");
  try {
    await expect(page.locator("#socket-instance")).not.toHaveText(`app-${from}`, { timeout: 30_000 });
    await expectConnected(page);
    const text = `after the hang ${Date.now()}`;
    await say(page, text);
    await expect(other.locator(".line", { hasText: text })).toHaveCount(1, { timeout: 20_000 });
  } finally {
    process.kill(pid, "SIGCONT");
  }
  await context.close();
  await otherContext.close();
});
