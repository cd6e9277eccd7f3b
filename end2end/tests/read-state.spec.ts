import { expect, Page, test } from "@playwright/test";
import { newPage, register, say, uniqueUser } from "./helpers";

async function connected(page: Page): Promise<void> {
  await expect(page.locator("#connection")).toHaveText(/^connected to /);
}

test("reading in one tab clears the unread count in another, after a reload too, with a divider at the first new message", async ({ browser, baseURL }) => {
  const [aliceContext, alice] = await newPage(browser, baseURL!);
  const [bobContext, bob] = await newPage(browser, baseURL!);
  const [aliceName, bobName] = [uniqueUser("alice"), uniqueUser("bob")];
  await register(alice, aliceName);
  await register(bob, bobName);
  const otherTab = await bobContext.newPage();
  await otherTab.goto("/");
  await connected(otherTab);

  const dm = `@${[aliceName, bobName].sort().join("+")}`;
  await alice.goto(`/r/${dm}`);
  await connected(alice);
  await say(alice, "one");
  await say(alice, "two");
  for (const tab of [bob, otherTab]) {
    await expect(tab.locator(`.room-entry[data-room="${dm}"] .unread`)).toHaveText("2");
  }
  // Bob reads in one tab: the other tab's count goes at once, and stays gone after a reload.
  await bob.locator(`.room-entry[data-room="${dm}"] a`).click();
  await expect(bob.locator(".line", { hasText: "two" })).toHaveCount(1);
  await expect(otherTab.locator(`.room-entry[data-room="${dm}"] .unread`)).toHaveCount(0);
  await otherTab.reload();
  await connected(otherTab);
  await expect(otherTab.locator(`.room-entry[data-room="${dm}"]`)).toBeVisible();
  await expect(otherTab.locator(`.room-entry[data-room="${dm}"] .unread`)).toHaveCount(0);

  // Bob goes elsewhere; a new message is unread in the other tab, and opening the conversation
  // there shows where the new messages start.
  await bob.locator('.room-entry[data-room="general"] a').click();
  await say(alice, "three");
  await expect(otherTab.locator(`.room-entry[data-room="${dm}"] .unread`)).toHaveText("1");
  await otherTab.locator(`.room-entry[data-room="${dm}"] a`).click();
  const lines = otherTab.locator(".transcript > li");
  await expect(otherTab.locator(".line", { hasText: "three" })).toHaveCount(1);
  await expect(otherTab.locator(".transcript .divider")).toHaveCount(1);
  const texts = await lines.allTextContents();
  const divider = texts.findIndex((text) => text.includes("New messages"));
  expect(texts[divider + 1]).toContain("three");
  expect(texts.slice(0, divider).join(" ")).toContain("two");
  await expect(bob.locator(`.room-entry[data-room="${dm}"] .unread`)).toHaveCount(0);
  await aliceContext.close();
  await bobContext.close();
});
