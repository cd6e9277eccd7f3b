import { expect, Page, test } from "@playwright/test";
import { expectConnected, newPage, register, say, uniqueUser } from "./helpers";

/** The direct conversation of two users: `@` and their account keys, sorted. */
function directRoom(one: string, other: string): string {
  const [first, second] = [one.toLowerCase(), other.toLowerCase()].sort();
  return `@${first}+${second}`;
}

async function connected(page: Page): Promise<void> {
  await expect(page.locator("#connection")).toHaveText(/^connected to /);
}

test("direct messages: two users chat, the other side sees it at once, a third cannot open it", async ({ browser, baseURL }) => {
  const [aliceContext, alice] = await newPage(browser, baseURL!);
  const [bobContext, bob] = await newPage(browser, baseURL!);
  const [carolContext, carol] = await newPage(browser, baseURL!);
  const [aliceName, bobName, carolName] = [uniqueUser("alice"), uniqueUser("bob"), uniqueUser("carol")];
  await register(alice, aliceName);
  await register(bob, bobName);
  await register(carol, carolName);
  const dm = directRoom(aliceName, bobName);

  await alice.locator("#dm-user").fill(bobName);
  await alice.locator("#dm-open").click();
  await expect(alice).toHaveURL(new RegExp(`/r/${dm.replace("+", "\\+")}$`));
  await expect(alice.locator("#room-title")).toHaveText(`@${bobName}`);
  await say(alice, "hi bob, just us");

  // Bob did nothing: the conversation is in his list, with the message unread.
  const entry = bob.locator(`.room-entry[data-room="${dm}"]`);
  await expect(entry).toContainText(`@${aliceName}`);
  await expect(entry.locator(".unread")).toHaveText("1");
  await entry.locator("a").click();
  await expect(bob.locator(".line", { hasText: "hi bob, just us" })).toHaveCount(1);
  await say(bob, "hi alice");
  await expect(alice.locator(".line", { hasText: "hi alice" })).toHaveCount(1);

  // Carol types the conversation's address: the answer is that of a room that does not exist.
  await carol.goto(`/r/${dm}`);
  await connected(carol);
  await expect(carol.locator(".line.notice", { hasText: "there is no room" })).toHaveCount(1);
  await expect(carol.locator(".line", { hasText: "just us" })).toHaveCount(0);
  await expect(carol.locator(`.room-entry[data-room="${dm}"]`)).toHaveCount(0);

  // Bob blocks carol: she cannot start a conversation with him.
  const theirs = directRoom(bobName, carolName);
  await bob.goto(`/r/${theirs}`);
  await connected(bob);
  await bob.locator("#block-user").click();
  await expect(bob.locator("#block-user")).toHaveText("Unblock");
  await carol.goto(`/r/${theirs}`);
  await connected(carol);
  await expect(carol.locator(".line.notice", { hasText: "does not take direct messages from you" })).toHaveCount(1);
  await aliceContext.close();
  await bobContext.close();
  await carolContext.close();
});

test("a private room: created, invited into, removed from, invisible to others", async ({ browser, baseURL }) => {
  const [aliceContext, alice] = await newPage(browser, baseURL!);
  const [bobContext, bob] = await newPage(browser, baseURL!);
  const [carolContext, carol] = await newPage(browser, baseURL!);
  const [aliceName, bobName] = [uniqueUser("alice"), uniqueUser("bob")];
  await register(alice, aliceName);
  await register(bob, bobName);
  await register(carol, uniqueUser("carol"));

  await alice.locator("#new-private-room").fill("team");
  await alice.locator("#create-room").click();
  await expect(alice).toHaveURL(/\/r\/~team~[a-z0-9]{10}$/);
  const room = decodeURIComponent(new URL(alice.url()).pathname.replace("/r/", ""));
  await expect(alice.locator("#room-title")).toHaveText("🔒 team");
  await expect(alice.locator("#members li")).toHaveCount(1);
  await say(alice, "before bob came");

  await alice.locator("#invite-user").fill(bobName);
  await alice.locator("#invite").click();
  await expect(alice.locator(`#members li[data-user="${bobName}"]`)).toBeVisible();
  const entry = bob.locator(`.room-entry[data-room="${room}"]`);
  await expect(entry).toContainText("🔒 team");
  await entry.locator("a").click();
  await expect(bob.locator(".line", { hasText: "before bob came" })).toHaveCount(1);
  await say(alice, "team secret");
  await expect(bob.locator(".line", { hasText: "team secret" })).toHaveCount(1);

  // The public directory never lists it.
  await carol.locator("#browse-rooms").click();
  await expect(carol.locator('#directory li[data-room="general"]')).toBeVisible();
  await expect(carol.locator(`#directory li[data-room="${room}"]`)).toHaveCount(0);
  // Carol with the link sees what a room that does not exist shows.
  await carol.goto(`/r/${room}`);
  await connected(carol);
  await expect(carol.locator(".line.notice", { hasText: "there is no room" })).toHaveCount(1);
  await expect(carol.locator(".line", { hasText: "secret" })).toHaveCount(0);
  await expect(carol.locator("#members")).toHaveCount(0);

  // Removed, bob loses the room at once and receives nothing sent after.
  await alice.locator(`#members li[data-user="${bobName}"] .remove`).click();
  await expect(entry).toHaveCount(0);
  await expect(bob.locator(".line.notice", { hasText: "removed" })).toHaveCount(1);
  await say(alice, "after bob left");
  await bob.reload();
  await connected(bob);
  await expect(bob.locator(".line.notice", { hasText: "there is no room" })).toHaveCount(1);
  await expect(bob.locator(".line", { hasText: "after bob left" })).toHaveCount(0);
  await expect(bob.locator(".line", { hasText: "team secret" })).toHaveCount(0);
  await aliceContext.close();
  await bobContext.close();
  await carolContext.close();
});

test("on a phone (390×800): a private room's members, invite and remove fit and work", async ({ browser, baseURL }) => {
  const phone = { viewport: { width: 390, height: 800 }, baseURL };
  const aliceContext = await browser.newContext(phone);
  const alice = await aliceContext.newPage();
  const [bobContext, bob] = await newPage(browser, baseURL!);
  // Names of the longest length: the member list must cut them, not widen the page.
  const aliceName = ("w".repeat(32) + uniqueUser("a").replace(/[^a-z0-9]/g, "")).slice(-32);
  const bobName = ("v".repeat(32) + uniqueUser("b").replace(/[^a-z0-9]/g, "")).slice(-32);
  await register(alice, aliceName);
  await register(bob, bobName);
  await alice.locator("#panel-toggle").click();
  await alice.locator("#new-private-room").fill("x".repeat(40));
  await alice.locator("#create-room").click();
  await expect(alice.locator("#room-title")).toHaveText(`🔒 ${"x".repeat(40)}`);
  await alice.locator("#panel-toggle").click();
  await alice.locator("#invite-user").fill(bobName);
  await alice.locator("#invite").click();
  const row = alice.locator(`#members li[data-user="${bobName}"]`);
  await expect(row).toBeVisible();
  const { scrollWidth, innerWidth } = await alice.evaluate(() => ({
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
  }));
  expect(scrollWidth, `page width ${scrollWidth} px in a ${innerWidth} px window`).toBeLessThanOrEqual(innerWidth);
  await expect(row.locator(".remove")).toBeInViewport();
  await row.locator(".remove").click();
  await expect(row).toHaveCount(0);
  await aliceContext.close();
  await bobContext.close();
});
