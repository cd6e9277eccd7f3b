import { expect, test } from "@playwright/test";
import { instanceUrl, newPage, register, say, uniqueUser } from "./helpers";

test("presence and typing are seen across instances", async ({ browser }) => {
  const [aliceContext, alice] = await newPage(browser, instanceUrl(1));
  const [bobContext, bob] = await newPage(browser, instanceUrl(2));
  const aliceName = uniqueUser("alice");
  const bobName = uniqueUser("bob");
  await register(alice, aliceName);
  await register(bob, bobName);

  await expect(alice.locator("#online .member", { hasText: bobName })).toBeVisible();
  await expect(bob.locator("#online .member", { hasText: aliceName })).toBeVisible();

  await bob.locator("#message").pressSequentially("hello the", { delay: 30 });
  await expect(alice.locator("#typing")).toHaveText(`${bobName} is typing…`);
  await expect(bob.locator("#typing")).toHaveText("");
  // It disappears on its own.
  await expect(alice.locator("#typing")).toHaveText("", { timeout: 10_000 });

  await bobContext.close();
  await expect(alice.locator("#online .member", { hasText: bobName })).toHaveCount(0, { timeout: 15_000 });
  await expect(alice.locator(".line.notice", { hasText: `${bobName} left` })).toBeVisible();
  await aliceContext.close();
});

test("logging out in one tab closes the other tab's socket and shows why", async ({ browser, baseURL }) => {
  const [context, first] = await newPage(browser, baseURL!);
  const name = uniqueUser("tabs");
  await register(first, name);
  const second = await context.newPage();
  await second.goto("/");
  await expect(second.locator("#connection")).toHaveText(/^connected to /);
  await expect(second.locator("#loads")).not.toHaveText("1");

  await first.locator("#logout").click();
  await expect(first).toHaveURL(/\/login/);
  await expect(second).toHaveURL(/\/login\?notice=/, { timeout: 15_000 });
  await expect(second.locator(".notice")).toHaveText("You were logged out.");
  await context.close();
});

test("a rename is seen in another context at once and after a refresh", async ({ browser }) => {
  const [aliceContext, alice] = await newPage(browser, instanceUrl(1));
  const [bobContext, bob] = await newPage(browser, instanceUrl(2));
  const aliceName = uniqueUser("alice");
  await register(alice, aliceName);
  await register(bob, uniqueUser("bob"));
  const newName = `W${Date.now().toString(36)}`;
  await alice.locator("#new-name").fill(newName);
  await alice.locator("#rename").click();
  await expect(alice.locator(".me")).toHaveText(newName);
  await expect(bob.locator(".line.notice", { hasText: `${aliceName} is now ${newName}` })).toBeVisible();
  await expect(bob.locator(`#online .member[data-user="${aliceName}"]`)).toHaveText(newName);
  await alice.reload();
  await expect(alice.locator("#connection")).toHaveText(/^connected to /);
  await expect(alice.locator(".me")).toHaveText(newName);
  // Messages are sent under the new name.
  await say(alice, `hello as ${newName}`);
  await expect(bob.locator(".line", { hasText: `hello as ${newName}` }).locator(".user")).toHaveText(newName);
  await aliceContext.close();
  await bobContext.close();
});
