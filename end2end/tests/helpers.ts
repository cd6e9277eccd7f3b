import { execSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { Browser, BrowserContext, BrowserContextOptions, expect, Page } from "@playwright/test";

export const PASSWORD = "correct horse battery";

/** A user name no other test uses. */
export function uniqueUser(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
}

/** The URL of instance `n` (1-based), as exported by scripts/cluster. */
export function instanceUrl(n: number): string {
  const url = process.env[`SB_APP_${n}_URL`];
  if (!url) throw new Error(`SB_APP_${n}_URL is not set: run through scripts/test`);
  return url;
}

/** Registers `name` through the login page and waits for the chat page to be connected. */
export async function register(page: Page, name: string): Promise<void> {
  await page.goto("/login");
  const form = page.locator("#register-form");
  await form.getByLabel("User name").fill(name);
  await form.getByLabel("Password").fill(PASSWORD);
  await form.getByRole("button", { name: "Register" }).click();
  await expectConnected(page);
}

/** Logs in as `name` through the login page. */
export async function login(page: Page, name: string): Promise<void> {
  await page.goto("/login");
  const form = page.locator("#login-form");
  await form.getByLabel("User name").fill(name);
  await form.getByLabel("Password").fill(PASSWORD);
  await form.getByRole("button", { name: "Log in" }).click();
  await expectConnected(page);
}

/** Waits until the page shows a live websocket (hydrated and welcomed). */
export async function expectConnected(page: Page): Promise<void> {
  await expect(page).toHaveURL(/\/$/);
  await expect(page.locator("#connection")).toHaveText(/^connected to /);
}

/** Types and sends a message, then waits until the server acknowledged it. */
export async function say(page: Page, text: string): Promise<void> {
  await page.locator("#message").fill(text);
  await page.locator("#send").click();
  await expect(page.locator("#message")).toHaveValue("");
  await expect(page.locator(".line.mine").last()).not.toHaveClass(/pending/);
}

/** A fresh browser context (own cookie jar) on `baseURL`, with one page. */
export async function newPage(browser: Browser, baseURL: string): Promise<[BrowserContext, Page]> {
  const context = await browser.newContext({ baseURL });
  return [context, await context.newPage()];
}

/** Runs `scripts/cluster <args>` on the cluster the suite runs against (see scripts/test). */
export function cluster(args: string): void {
  const name = process.env.SB_CLUSTER ?? "e2e";
  execSync(`${__dirname}/../../scripts/cluster ${args} --name ${name}`, { stdio: "inherit" });
}

/** The instance number (app-N) holding the page's websocket. */
export async function socketInstance(page: Page): Promise<number> {
  await expect(page.locator("#socket-instance")).toHaveText(/^app-\d+$/);
  const text = (await page.locator("#socket-instance").textContent()) ?? "";
  return Number(text.replace("app-", ""));
}

/** How many instances the cluster has. */
export function instanceCount(): number {
  return Number(process.env.SB_INSTANCES ?? "3");
}

/** Waits until every instance answers /readyz and HAProxy routes to them again (after restarts). */
export async function waitAllReady(): Promise<void> {
  for (let n = 1; n <= instanceCount(); n++) {
    await expect(async () => {
      const response = await fetch(`${instanceUrl(n)}/readyz`);
      expect(response.status).toBe(200);
    }).toPass({ timeout: 20_000 });
  }
  // HAProxy marks a server up after two passed checks (rise 2, inter 1 s).
  await expect(async () => {
    const response = await fetch(`${process.env.SB_URL}/healthz`);
    expect(response.status).toBe(200);
  }).toPass({ timeout: 20_000 });
  await new Promise((resolve) => setTimeout(resolve, 2_500));
}

/** A fresh browser context whose HAProxy cookie pins it to instance `n`, with one page. */
export async function newPinnedPage(browser: Browser, baseURL: string, n: number, options: BrowserContextOptions = {}): Promise<[BrowserContext, Page]> {
  const context = await browser.newContext({ ...options, baseURL });
  await context.addCookies([{ name: "SBSERVER", value: `app-${n}`, url: baseURL }]);
  return [context, await context.newPage()];
}

/** The process id of instance `n` of the suite's cluster (for signals scripts/cluster does not send). */
export function instancePid(n: number): number {
  const run = process.env.SB_RUN;
  if (!run) throw new Error("SB_RUN is not set: run through scripts/test");
  return Number(readFileSync(`${run}/app-${n}.pid`, "utf8").trim());
}

/** Starts every instance a test killed and waits until HAProxy routes to all of them again. */
export async function restoreCluster(): Promise<void> {
  for (let n = 1; n <= instanceCount(); n++) {
    try {
      cluster(`start-instance ${n}`);
    } catch {
      // already running
    }
  }
  await waitAllReady();
}
