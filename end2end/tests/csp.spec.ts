import { createServer } from "node:http";
import { AddressInfo } from "node:net";
import { expect, Page, test } from "@playwright/test";
import { newPage, register, say, uniqueUser } from "./helpers";

// Chromium reports a blocked script, style, connection or frame on the console; the listener
// added below reports `securitypolicyviolation` events too.
const VIOLATION = /Content Security Policy|CSP violation/i;

/** Collects every Content-Security-Policy violation the page reports. */
async function watchViolations(page: Page): Promise<string[]> {
  const violations: string[] = [];
  page.on("console", (message) => {
    if (VIOLATION.test(message.text())) violations.push(message.text());
  });
  page.on("pageerror", (error) => {
    if (VIOLATION.test(error.message)) violations.push(error.message);
  });
  await page.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (event) => {
      console.error(`CSP violation: ${event.violatedDirective} blocked ${event.blockedURI}`);
    });
  });
  return violations;
}

test("the chat hydrates and chats under its Content-Security-Policy", async ({ browser, baseURL }) => {
  const [aliceContext, alice] = await newPage(browser, baseURL!);
  const [bobContext, bob] = await newPage(browser, baseURL!);
  const aliceViolations = await watchViolations(alice);
  const bobViolations = await watchViolations(bob);

  const response = await alice.goto("/login");
  const policy = response?.headers()["content-security-policy"] ?? "";
  expect(policy).toContain("frame-ancestors 'none'");
  expect(policy).toMatch(/script-src 'self' 'nonce-[A-Za-z0-9_-]+' 'wasm-unsafe-eval'/);

  await register(alice, uniqueUser("alice"));
  await register(bob, uniqueUser("bob"));
  const text = `under the policy ${Date.now()}`;
  await say(alice, text);
  await expect(bob.locator(".line", { hasText: text })).toHaveCount(1);
  await alice.reload();
  await expect(alice.locator("#connection")).toHaveText(/^connected to /);
  await expect(alice.locator(".line", { hasText: text })).toHaveCount(1);

  expect([...aliceViolations, ...bobViolations]).toEqual([]);
  await aliceContext.close();
  await bobContext.close();
});

test("another site cannot frame the chat", async ({ page, baseURL }) => {
  const target = `${baseURL}/login`;
  // A page on another origin (a server of its own on a free port) that frames the login page.
  // It is local like the chat, so only the chat's own headers can stop the frame.
  const framer = createServer((_, response) => {
    response.setHeader("content-type", "text/html");
    response.end(`<!DOCTYPE html><title>framer</title><iframe id="victim" src="${target}" width="800" height="600"></iframe>`);
  });
  await new Promise<void>((resolve) => framer.listen(0, "127.0.0.1", resolve));
  const { port } = framer.address() as AddressInfo;
  const messages: string[] = [];
  page.on("console", (message) => messages.push(message.text()));
  try {
    const framed = page.waitForResponse(target);
    await page.goto(`http://127.0.0.1:${port}/`);
    const response = await framed;
    expect(response.headers()["x-frame-options"]).toBe("DENY");
    expect(response.headers()["content-security-policy"]).toContain("frame-ancestors 'none'");
    // The page's load event waits for its frame: after it, the frame shows no part of the chat.
    await page.waitForLoadState("load");
    await expect(page.frameLocator("#victim").locator("#login-form")).toHaveCount(0);
    expect(messages.join("\n")).toContain("frame-ancestors");
  } finally {
    framer.close();
  }
});
