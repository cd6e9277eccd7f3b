import { expect, test } from "@playwright/test";
import { newPage, PASSWORD, register, uniqueUser } from "./helpers";

test("names and rooms with markup are refused with a clear message", async ({ page }) => {
  await page.goto("/login");
  const form = page.locator("#register-form");
  await expect(async () => {
    await form.getByLabel("User name").fill(`<img src=x onerror="window.__pwned=1">`);
    await form.getByLabel("Password").fill(PASSWORD);
    await form.getByRole("button", { name: "Register" }).click();
    await expect(form.locator(".error")).toContainText("may only contain", { timeout: 2_000 });
  }).toPass();
  expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();

  await register(page, uniqueUser("mallory"));
  await page.locator("#new-room").fill("<script>alert(1)</script>");
  await page.locator("#join-room").click();
  await expect(page.locator(".join-room .error")).toContainText("may only contain");
  await page.goto("/r/%3Cb%3Ebold%3C%2Fb%3E");
  await expect(page.locator(".conversation .error")).toHaveText("That is not a valid room name.");
  await expect(page.locator("b")).toHaveCount(0);
});

test("a user sending too fast sees why, and nothing is lost", async ({ browser, baseURL }) => {
  test.setTimeout(90_000);
  const [aliceContext, alice] = await newPage(browser, baseURL!);
  const [bobContext, bob] = await newPage(browser, baseURL!);
  const name = uniqueUser("fast");
  await register(alice, name);
  await register(bob, uniqueUser("bob"));
  const texts = Array.from({ length: 36 }, (_, i) => `burst ${i} ${name}`);
  for (const text of texts) {
    await alice.locator("#message").fill(text);
    await alice.locator("#message").press("Enter");
  }
  await expect(alice.locator(".line.notice", { hasText: "sending too fast" }).first()).toBeVisible();
  // The refused ones stay pending and go out once the window allows.
  for (const text of texts) await expect(bob.locator(".line", { hasText: text })).toHaveCount(1, { timeout: 45_000 });
  await expect(alice.locator(".line.pending")).toHaveCount(0);
  await aliceContext.close();
  await bobContext.close();
});
