import { expect, test } from "@playwright/test";
import { newPage, register, uniqueUser } from "./helpers";

// The embedded default keeps its history on disk (SQLite under DATA_DIR): scripts/test stops the
// instance after the "embedded" project and starts it again on the same directory, then runs this.
// Accounts and sessions lived in the process's memory, so a new user reads the room.

test("the embedded default's history survives a restart", async ({ browser, baseURL }) => {
  const [context, page] = await newPage(browser, baseURL!);
  await register(page, uniqueUser("after"));
  await page.goto("/r/kept-on-disk");
  await expect(page.locator("#connection")).toHaveText(/^connected to /);
  const lines = page.locator("ol.transcript .line:not(.notice) .text");
  await expect(lines).toHaveText(["written before the restart", "and this one too"]);
  await context.close();
});
