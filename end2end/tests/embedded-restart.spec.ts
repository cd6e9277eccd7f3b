import { expect, test } from "@playwright/test";
import { login, newPage } from "./helpers";

// The embedded default keeps its history on disk (SQLite under DATA_DIR): scripts/test stops the
// instance after the "embedded" project and starts it again on the same directory, then runs this.
// Accounts are in SQLite too (sessions lived in memory): the user who wrote logs in again and
// finds the room on their list, with both messages.

test("the embedded default's history and accounts survive a restart", async ({ browser, baseURL }) => {
  const [context, page] = await newPage(browser, baseURL!);
  await login(page, "keeper-on-disk");
  await expect(page.locator('.room-entry[data-room="kept-on-disk"]')).toBeVisible();
  await page.goto("/r/kept-on-disk");
  await expect(page.locator("#connection")).toHaveText(/^connected to /);
  const lines = page.locator("ol.transcript .line:not(.notice) .text");
  await expect(lines).toHaveText(["written before the restart", "and this one too"]);
  await context.close();
});
