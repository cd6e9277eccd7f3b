import { expect, Page, test } from "@playwright/test";
import { instancePid, newPinnedPage, register, say, uniqueUser, waitAllReady } from "./helpers";

async function connected(page: Page): Promise<void> {
  await expect(page.locator("#connection")).toHaveText(/^connected to /);
}

function line(page: Page, text: string) {
  return page.locator(".transcript .line", { hasText: text });
}

/** Registers a new Alice and Bob on their pages and opens a fresh room `<prefix>…` on both. */
async function twoInARoom(alice: Page, bob: Page, prefix: string): Promise<[string, string, string]> {
  const [aliceName, bobName] = [uniqueUser("alice"), uniqueUser("bob")];
  await register(alice, aliceName);
  await register(bob, bobName);
  const room = `${prefix}${Date.now().toString(36)}`;
  for (const page of [alice, bob]) {
    await page.goto(`/r/${room}`);
    await connected(page);
  }
  return [aliceName, bobName, room];
}

test("edits, deletions and reactions are seen on another instance at once and after a refresh", async ({ browser, baseURL }) => {
  const [aliceContext, alice] = await newPinnedPage(browser, baseURL!, 1);
  const [bobContext, bob] = await newPinnedPage(browser, baseURL!, 2, { viewport: { width: 390, height: 800 } });
  const [aliceName, bobName, room] = await twoInARoom(alice, bob, "changes");
  await expect(alice.locator("#socket-instance")).toHaveText("app-1");
  await expect(bob.locator("#socket-instance")).toHaveText("app-2");
  await say(alice, "helo wrold");
  await say(alice, "regrettable words");
  await expect(line(bob, "regrettable words")).toHaveCount(1);
  // Only the author is offered edit and delete.
  await expect(line(bob, "helo wrold").locator("button.edit")).toHaveCount(0);

  // Alice fixes her typo: Bob sees the new text, marked edited.
  await line(alice, "helo wrold").hover();
  await line(alice, "helo wrold").locator("button.edit").click();
  await alice.locator("#edit-text").fill("hello world");
  await alice.locator(".edit-form button.save").click();
  await expect(line(bob, "hello world").locator(".edited")).toBeVisible();
  await expect(line(bob, "helo wrold")).toHaveCount(0);

  // She deletes the other message, after confirming: it is "message deleted" for everyone.
  alice.once("dialog", (dialog) => dialog.accept());
  await line(alice, "regrettable words").locator("button.delete").click();
  await expect(bob.locator(".line.deleted", { hasText: "message deleted" })).toHaveCount(1);
  await expect(bob.locator(".transcript")).not.toContainText("regrettable");
  await expect(alice.locator(".transcript")).not.toContainText("regrettable");

  // Bob reacts (on a phone-sized screen); Alice sees the count and who; Bob takes it back.
  await line(bob, "hello world").locator("button.react-open").click();
  await line(bob, "hello world").locator(".picker button.pick", { hasText: "👍" }).click();
  const thumbs = line(alice, "hello world").locator("button.reaction", { hasText: "👍" });
  await expect(thumbs).toHaveText("👍 1");
  await expect(thumbs).toHaveAttribute("title", bobName);
  await line(bob, "hello world").locator("button.reaction", { hasText: "👍" }).click();
  await expect(line(alice, "hello world").locator("button.reaction")).toHaveCount(0);
  await line(bob, "hello world").locator("button.react-open").click();
  await line(bob, "hello world").locator(".picker button.pick", { hasText: "🎉" }).click();
  await expect(line(alice, "hello world").locator("button.reaction", { hasText: "🎉" })).toHaveText("🎉 1");
  const box = await line(bob, "hello world").locator("button.reaction").boundingBox();
  expect(box!.x + box!.width).toBeLessThanOrEqual(390);

  // After a refresh, the final state, once.
  await bob.reload();
  await connected(bob);
  await expect(line(bob, "hello world")).toHaveCount(1);
  await expect(line(bob, "hello world").locator(".edited")).toBeVisible();
  await expect(line(bob, "hello world").locator("button.reaction")).toHaveText("🎉 1");
  await expect(bob.locator(".line.deleted", { hasText: "message deleted" })).toHaveCount(1);
  await expect(bob.locator(".transcript")).not.toContainText("regrettable");
  await expect(bob.locator(".transcript")).not.toContainText("helo wrold");
  await aliceContext.close();
  await bobContext.close();
});

test("a mention is highlighted and counted apart in the room list", async ({ browser, baseURL }) => {
  const [aliceContext, alice] = await newPinnedPage(browser, baseURL!, 1);
  const [bobContext, bob] = await newPinnedPage(browser, baseURL!, 2);
  const [aliceName, bobName, room] = await twoInARoom(alice, bob, "mentions");
  // Alice looks at another room; Bob writes twice in this one, naming her once.
  await alice.locator('.room-entry[data-room="general"] a').click();
  await expect(alice.locator("#room-title")).toContainText("general");
  await say(bob, "just chatting");
  await say(bob, `@${aliceName} have a look`);
  const entry = alice.locator(`.room-entry[data-room="${room}"]`);
  await expect(entry.locator(".unread")).toHaveText("2");
  await expect(entry.locator(".mentions")).toHaveText("@1");
  await entry.locator("a").click();
  await expect(alice.locator(".line.mention", { hasText: "have a look" })).toHaveCount(1);
  await expect(alice.locator(".line.mention")).toHaveCount(1);
  await expect(entry.locator(".mentions")).toHaveCount(0);
  // Bob's own page does not highlight his message.
  await expect(bob.locator(".line.mention")).toHaveCount(0);
  await aliceContext.close();
  await bobContext.close();
});

test("a mention raises a browser notification while the tab is hidden, and only then", async ({ browser, baseURL }) => {
  const [aliceContext, alice] = await newPinnedPage(browser, baseURL!, 1);
  const [bobContext, bob] = await newPinnedPage(browser, baseURL!, 2);
  // The page's view of the browser: a tab it can be told is hidden, and notifications the user
  // allowed, recorded instead of shown (a headless browser has no notification centre).
  await alice.addInitScript(() => {
    const shown: string[] = [];
    let hidden = false;
    Object.assign(window, {
      shown,
      hide: (value: boolean) => {
        hidden = value;
        document.dispatchEvent(new Event("visibilitychange"));
      },
    });
    Object.defineProperty(document, "hidden", { get: () => hidden });
    Object.defineProperty(document, "visibilityState", { get: () => (hidden ? "hidden" : "visible") });
    class RecordedNotification {
      static permission = "granted";
      static requestPermission = () => Promise.resolve("granted");
      constructor(title: string, options?: { body?: string }) {
        shown.push(`${title}: ${options?.body ?? ""}`);
      }
    }
    Object.assign(window, { Notification: RecordedNotification });
  });
  const [aliceName, bobName, room] = await twoInARoom(alice, bob, "notify");
  const shown = () => alice.evaluate(() => (window as unknown as { shown: string[] }).shown);
  await say(bob, `@${aliceName} seen while looking`);
  await expect(alice.locator(".line.mention")).toHaveCount(1);
  await alice.evaluate(() => (window as unknown as { hide: (v: boolean) => void }).hide(true));
  await say(bob, "no name in this one");
  await say(bob, `@${aliceName} are you there?`);
  await expect.poll(shown).toEqual([`${bobName} mentioned you: @${aliceName} are you there?`]);
  await alice.evaluate(() => (window as unknown as { hide: (v: boolean) => void }).hide(false));
  await aliceContext.close();
  await bobContext.close();
});

test("a reaction made while the page's instance hangs is applied once after the reconnect", async ({ browser, baseURL }) => {
  const [aliceContext, alice] = await newPinnedPage(browser, baseURL!, 1);
  const [bobContext, bob] = await newPinnedPage(browser, baseURL!, 2);
  const [aliceName, bobName, room] = await twoInARoom(alice, bob, "hang");
  await say(bob, "react to this");
  await expect(line(alice, "react to this")).toHaveCount(1);
  // Alice's instance stops answering: her page still thinks it is connected, so the reaction
  // goes into a socket nobody reads. The page keeps it and sends it again after reconnecting.
  const pid = instancePid(1);
  process.kill(pid, "SIGSTOP");
  try {
    await line(alice, "react to this").locator("button.react-open").click();
    await line(alice, "react to this").locator(".picker button.pick", { hasText: "🎉" }).click();
    await expect(alice.locator("#socket-instance")).not.toHaveText("app-1", { timeout: 30_000 });
    await connected(alice);
    const chip = line(bob, "react to this").locator("button.reaction");
    await expect(chip).toHaveText("🎉 1", { timeout: 20_000 });
    await expect(chip).toHaveAttribute("title", aliceName);
  } finally {
    process.kill(pid, "SIGCONT");
  }
  // The instance comes back and reads what was sent to it: the reaction is still counted once.
  await waitAllReady();
  await bob.reload();
  await connected(bob);
  await expect(line(bob, "react to this").locator("button.reaction")).toHaveText("🎉 1");
  await aliceContext.close();
  await bobContext.close();
});
