import { expect, test } from "@playwright/test";
import { login, newPage, PASSWORD, register, uniqueUser } from "./helpers";

// Through HAProxy as shipped: strangers guessing at a name exhaust the name's login budget
// (LOGIN_ATTEMPTS_PER_NAME, 10 per 15 min by default), but the owner's browser — which logged
// in before and holds a device cookie — keeps its own budget and is never locked out.
test("guessing at a name slows strangers but does not lock its owner out", async ({ browser, baseURL }) => {
  test.setTimeout(90_000);
  const name = uniqueUser("owner");
  const [ownerContext, owner] = await newPage(browser, baseURL!);
  await register(owner, name);
  const device = (await ownerContext.cookies()).find((c) => c.name === "sbdevice");
  expect(device?.httpOnly).toBe(true);
  expect(device?.sameSite).toBe("Strict");
  await owner.locator("#logout").click();
  await expect(owner).toHaveURL(/\/login/);

  // An attacker guesses from another browser until the name's budget is spent.
  const [attackerContext, attacker] = await newPage(browser, baseURL!);
  let status = 0;
  for (let i = 0; i < 12 && status !== 429; i++) {
    const response = await attacker.request.post("/api/login", {
      form: { name, password: `guess-${i}-guess` },
      headers: { Origin: new URL(baseURL!).origin },
    });
    status = response.status();
  }
  expect(status).toBe(429);

  // A browser that never logged in as this user waits too, even with the right password...
  const [strangerContext, stranger] = await newPage(browser, baseURL!);
  await stranger.goto("/login");
  const form = stranger.locator("#login-form");
  await expect(async () => {
    await form.getByLabel("User name").fill(name);
    await form.getByLabel("Password").fill(PASSWORD);
    await form.getByRole("button", { name: "Log in" }).click();
    await expect(form.locator(".error")).toContainText("too many attempts", { timeout: 2_000 });
  }).toPass();

  // ...but the owner's own browser logs straight in and chats.
  await login(owner, name);
  await expect(owner.locator("#connection")).toHaveText(/^connected to /);

  await Promise.all([ownerContext.close(), attackerContext.close(), strangerContext.close()]);
});
