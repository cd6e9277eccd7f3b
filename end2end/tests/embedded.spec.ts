import { expect, test } from "@playwright/test";
import { expectConnected, newPage, register, say, uniqueUser } from "./helpers";

// The embedded default end to end: one instance started with no REDIS_URL, so sessions, accounts,
// chat, presence and rate limits all live in its memory (scripts/test runs this project alone,
// against that instance; the cluster specs never run here, nor this one against the cluster).

test("two users chat both ways, see history after a reload and log out", async ({ browser, baseURL }) => {
  const [aliceContext, alice] = await newPage(browser, baseURL!);
  const [bobContext, bob] = await newPage(browser, baseURL!);
  const aliceName = uniqueUser("alice");
  const bobName = uniqueUser("bob");
  await register(alice, aliceName);
  await register(bob, bobName);
  await expect(alice.locator(".me")).toHaveText(aliceName);
  await expect(alice.locator(".line.notice", { hasText: `${bobName} joined` }).first()).toBeVisible();

  const hello = `hello bob ${Date.now()}`;
  await say(alice, hello);
  await expect(bob.locator(".line:not(.mine)", { hasText: hello })).toContainText(aliceName);
  const answer = `hello alice ${Date.now()}`;
  await say(bob, answer);
  await expect(alice.locator(".line:not(.mine)", { hasText: answer })).toContainText(bobName);

  // The history is kept by the instance: a reload shows both messages, in order, own one marked.
  await alice.reload();
  await expectConnected(alice);
  await expect(alice.locator(".line.mine", { hasText: hello })).toHaveCount(1);
  await expect(alice.locator(".line:not(.mine)", { hasText: answer })).toHaveCount(1);
  const texts = await alice.locator(".line .text").allTextContents();
  expect(texts.findIndex((t) => t.includes(hello))).toBeLessThan(texts.findIndex((t) => t.includes(answer)));

  // Logging out ends the session: the chat is behind the login page again, for bob only.
  await bob.locator("#logout").click();
  await expect(bob).toHaveURL(/\/login(\?notice=.*)?$/);
  await expect(bob.locator(".notice")).toContainText("logged out");
  await bob.goto("/");
  await expect(bob).toHaveURL(/\/login$/);
  await expect(alice.locator(".line.notice", { hasText: `${bobName} left` })).toBeVisible();
  await alice.reload();
  await expectConnected(alice);

  await aliceContext.close();
  await bobContext.close();
});

// What embedded-restart.spec.ts looks for after scripts/test restarted the instance on the same DATA_DIR.
test("a conversation to keep across a restart", async ({ browser, baseURL }) => {
  const [context, page] = await newPage(browser, baseURL!);
  // A fixed name: scripts/test gives each run a fresh DATA_DIR.
  await register(page, "keeper-on-disk");
  await page.goto("/r/kept-on-disk");
  await expect(page.locator("#connection")).toHaveText(/^connected to /);
  await say(page, "written before the restart");
  await say(page, "and this one too");
  await context.close();
});
