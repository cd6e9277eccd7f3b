import { expect, test } from "@playwright/test";
import { expectConnected, instanceUrl, login, newPage, register, say, uniqueUser } from "./helpers";

test("register, log in, refresh and still be logged in", async ({ page }) => {
  const name = uniqueUser("alice");
  await register(page, name);
  await expect(page.locator(".me")).toHaveText(name);

  await page.reload();
  await expectConnected(page);
  await expect(page.locator(".me")).toHaveText(name);

  // Logging in again from the login page works too.
  await page.context().clearCookies();
  await page.goto("/");
  await expect(page).toHaveURL(/\/login$/);
  await login(page, name);
  await expect(page.locator(".me")).toHaveText(name);
});

test("wrong passwords and taken names get a clear message", async ({ page }) => {
  const name = uniqueUser("dora");
  await register(page, name);
  const [other, otherPage] = await newPage(page.context().browser()!, test.info().project.use.baseURL!);
  await otherPage.goto("/login");
  await expect(otherPage.locator("#connection")).toHaveCount(0);
  const loginForm = otherPage.locator("#login-form");
  await loginForm.getByLabel("User name").fill(name);
  await loginForm.getByLabel("Password").fill("not the password");
  await expect(async () => {
    await loginForm.getByRole("button", { name: "Log in" }).click();
    await expect(loginForm.locator(".error")).toHaveText("wrong user name or password", { timeout: 2_000 });
  }).toPass();
  await other.close();
});

test("two browsers on two different instances chat with each other", async ({ browser }) => {
  const [aliceContext, alice] = await newPage(browser, instanceUrl(1));
  const [bobContext, bob] = await newPage(browser, instanceUrl(2));
  const aliceName = uniqueUser("alice");
  const bobName = uniqueUser("bob");
  await register(alice, aliceName);
  await register(bob, bobName);
  await expect(alice.locator("#socket-instance")).toHaveText("app-1");
  await expect(bob.locator("#socket-instance")).toHaveText("app-2");

  const hello = `hello from app-1 ${aliceName}`;
  await say(alice, hello);
  await expect(bob.locator(".line", { hasText: hello })).toContainText(aliceName);
  await say(bob, `/me waves from app-2 ${bobName}`);
  const action = alice.locator(".line.action", { hasText: `waves from app-2 ${bobName}` });
  await expect(action).toContainText(`* ${bobName} waves from app-2 ${bobName}`);
  await expect(alice.locator(".line.notice", { hasText: `${bobName} joined` }).first()).toBeVisible();
  // Own messages are marked, others' are not; every message carries a time.
  await expect(alice.locator(".line.mine", { hasText: hello })).toBeVisible();
  await expect(alice.locator(".line:not(.mine)", { hasText: `waves from app-2 ${bobName}` })).toBeVisible();
  await expect(alice.locator(".line", { hasText: hello }).locator(".ts")).toHaveText(/^\d\d:\d\d$/);

  await aliceContext.close();
  await expect(bob.locator(".line.notice", { hasText: `${aliceName} left` })).toBeVisible();
  await bobContext.close();
});

test("logout returns to the login page and the old cookie no longer works", async ({ browser, baseURL }) => {
  const [context, page] = await newPage(browser, baseURL!);
  const name = uniqueUser("erin");
  await register(page, name);
  const cookies = await context.cookies();
  expect(cookies.find((c) => c.name === "jsessionid")?.httpOnly).toBe(true);
  expect(cookies.find((c) => c.name === "jsessionid")?.sameSite).toBe("Lax");

  await page.locator("#logout").click();
  await expect(page).toHaveURL(/\/login(\?notice=.*)?$/);
  await expect(page.locator(".notice")).toContainText("logged out");
  await page.goto("/");
  await expect(page).toHaveURL(/\/login$/);

  const [replay, replayPage] = await newPage(browser, baseURL!);
  await replay.addCookies(cookies);
  await replayPage.goto("/");
  await expect(replayPage).toHaveURL(/\/login$/);
  await replay.close();
  await context.close();
});

test("messages are shown as text, never as HTML", async ({ page }) => {
  await register(page, uniqueUser("xss"));
  const payload = `<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script><b>bold</b> ${Date.now()}`;
  await say(page, payload);
  await expect(page.locator(".line.mine .text", { hasText: "<b>bold</b>" })).toHaveText(payload);
  expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
  await expect(page.locator(".transcript b")).toHaveCount(0);
});
