import AxeBuilder from "@axe-core/playwright";
import { Browser, expect, Locator, Page, test } from "@playwright/test";
import { PASSWORD, uniqueUser } from "./helpers";

const PHONE = { width: 390, height: 800 };
const DESKTOP = { width: 1280, height: 800 };

/** A name of the longest allowed length (32) in wide letters, unique per call. */
function longName(): string {
  const tail = uniqueUser("w").replace(/[^A-Za-z0-9]/g, "");
  return ("W".repeat(32) + tail).slice(-32);
}

async function newUserPage(browser: Browser, baseURL: string, viewport: { width: number; height: number }, name: string): Promise<Page> {
  const context = await browser.newContext({ baseURL, viewport });
  const page = await context.newPage();
  await page.goto("/login");
  const form = page.locator("#register-form");
  await form.getByLabel("User name").fill(name);
  await form.getByLabel("Password").fill(PASSWORD);
  await form.getByRole("button", { name: "Register" }).click();
  await expect(page.locator("#connection")).toHaveText(/^connected to /);
  return page;
}

async function expectNoSidewaysScroll(page: Page, what: string): Promise<void> {
  const { scrollWidth, innerWidth } = await page.evaluate(() => ({
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
  }));
  expect(scrollWidth, `${what}: page width ${scrollWidth} px in a ${innerWidth} px window`).toBeLessThanOrEqual(innerWidth);
}

/** A name is on one line (cut with an ellipsis), never wrapped letter by letter. */
async function expectOneLine(element: Locator, what: string): Promise<void> {
  const height = await element.evaluate((el) => el.getBoundingClientRect().height);
  const line = await element.evaluate((el) => parseFloat(getComputedStyle(el).fontSize) * 1.6);
  expect(height, `${what}: ${height} px high`).toBeLessThanOrEqual(line);
}

test.describe("on a phone (390×800)", () => {
  test.use({ viewport: PHONE });

  test("the login page fits the screen", async ({ page }) => {
    await page.goto("/login?notice=" + "x".repeat(300));
    await expect(page.locator("#register-form")).toBeVisible();
    await expectNoSidewaysScroll(page, "login");
  });

  test("the chat page fits with a long name and a long unbroken message; message box, rooms and people are usable", async ({ browser, baseURL }) => {
    const name = longName();
    const page = await newUserPage(browser, baseURL!, PHONE, name);
    const room = ("W".repeat(40) + Date.now().toString(36)).slice(-40);
    await page.goto(`/r/${room}`);
    await expect(page.locator("#connection")).toHaveText(/^connected to /);
    const text = "A".repeat(400);
    const box = page.locator("#message");
    const send = page.locator("#send");
    await box.fill(text);
    await send.click();
    await expect(page.locator(".line.mine", { hasText: text })).not.toHaveClass(/pending/);
    await expectNoSidewaysScroll(page, "chat");
    await expectOneLine(page.locator(".line.mine > .user").last(), "author in the transcript");
    await expectOneLine(page.locator(".top .me"), "name in the header");
    // The message box stays on screen (it sticks to the bottom) and works again.
    await page.evaluate(() => window.scrollTo(0, 0));
    await expect(box).toBeInViewport();
    await expect(send).toBeInViewport();
    await box.fill("second");
    await send.click();
    await expect(page.locator(".line.mine", { hasText: "second" })).not.toHaveClass(/pending/);

    // The room list and the online list sit behind the "Rooms" button.
    await expect(page.locator("#room-list")).toBeHidden();
    await page.locator("#panel-toggle").click();
    await expect(page.locator("#panel-toggle")).toHaveAttribute("aria-expanded", "true");
    await expect(page.locator(`.room-entry[data-room="${room}"]`)).toBeVisible();
    await expect(page.locator(`#online .member[data-user="${name}"]`)).toBeVisible();
    await expectOneLine(page.locator(`#online .member[data-user="${name}"]`), "name in the online list");
    await expectNoSidewaysScroll(page, "chat with the panel open");
    // Picking a room closes the panel again.
    await page.locator('.room-entry[data-room="general"] a').click();
    await expect(page.locator("#room-title")).toHaveText("#general");
    await expect(page.locator("#room-list")).toBeHidden();
    await page.context().close();
  });
});

/** The serious and critical axe findings on the page, as readable lines. */
async function seriousViolations(page: Page): Promise<string[]> {
  const results = await new AxeBuilder({ page }).analyze();
  return results.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .flatMap((v) => v.nodes.map((n) => `${v.id} (${v.impact}): ${n.target.join(" ")} — ${n.failureSummary ?? v.help}`));
}

for (const [label, viewport] of [["desktop", DESKTOP], ["phone", PHONE]] as const) {
  test(`accessibility (${label}): no serious or critical axe violations on the login and chat pages`, async ({ browser, baseURL }) => {
    const context = await browser.newContext({ baseURL, viewport });
    const login = await context.newPage();
    await login.goto("/login");
    await expect(login.locator("#register-form")).toBeVisible();
    expect(await seriousViolations(login), "login page").toEqual([]);
    await context.close();

    // The chat page with what it can show: own and others' messages, an action, unread counts.
    const room = `a11y${Date.now().toString(36)}`;
    const page = await newUserPage(browser, baseURL!, viewport, uniqueUser("a11y"));
    await page.goto(`/r/${room}`);
    await expect(page.locator("#connection")).toHaveText(/^connected to /);
    await page.goto("/");
    await expect(page.locator("#connection")).toHaveText(/^connected to /);
    const other = await newUserPage(browser, baseURL!, viewport, uniqueUser("other"));
    await other.goto(`/r/${room}`);
    await expect(other.locator("#connection")).toHaveText(/^connected to /);
    await other.locator("#message").fill("unread for you");
    await other.locator("#send").click();
    await expect(other.locator(".line.mine").last()).not.toHaveClass(/pending/);
    for (const text of ["hello", "/me waves"]) {
      await page.locator("#message").fill(text);
      await page.locator("#send").click();
      await expect(page.locator(".line.mine").last()).not.toHaveClass(/pending/);
    }
    await expect(page.locator(`.room-entry[data-room="${room}"] .unread`)).toHaveText("1");
    expect(await seriousViolations(page), "chat page").toEqual([]);
    if (label === "phone") {
      await expect(page.locator("#panel-toggle .unread")).toContainText("1");
      await page.locator("#panel-toggle").click();
      await expect(page.locator("#room-list")).toBeVisible();
      expect(await seriousViolations(page), "chat page, panel open").toEqual([]);
    }
    await page.context().close();
    await other.context().close();
  });
}
