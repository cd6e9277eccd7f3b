import { expect, test } from "@playwright/test";
import { instanceUrl, newPage, register, uniqueUser } from "./helpers";

// The site's files are served precompressed, and never through the session store: a logged-in
// browser fetching a script gets no session cookie back (no session read or write happened).
test("the client is served precompressed and without touching the session", async ({ browser, baseURL }) => {
  const [context, page] = await newPage(browser, baseURL!);
  await register(page, uniqueUser("assets"));
  for (const file of ["switchboard_bg.wasm", "switchboard.js", "switchboard.css"]) {
    const response = await context.request.get(`/pkg/${file}`, { headers: { "accept-encoding": "gzip" } });
    expect(response.status(), file).toBe(200);
    expect(response.headers()["content-encoding"], file).toBe("gzip");
    expect(response.headers()["set-cookie"], file).toBeUndefined();
    expect(response.headers()["x-content-type-options"], file).toBe("nosniff");
  }
  const plain = await context.request.get("/pkg/switchboard.css", { headers: { "accept-encoding": "identity" } });
  expect(plain.headers()["content-encoding"]).toBeUndefined();
  expect(await plain.text()).toContain("{");
  // A page renews the session (sliding expiry) only once per quarter of its lifetime: the page
  // shown after registering did, so another one now reads the session and writes nothing.
  const chat = await context.request.get("/");
  expect(chat.status()).toBe(200);
  expect(await chat.text()).toContain("Log out");
  expect(chat.headers()["set-cookie"]).toBeUndefined();
  await context.close();
});

// Metrics are for the operator: an instance serves them (scripts/cluster sets no METRICS_ADDR), the
// shipped HAProxy config refuses them to the public, and every answer carries a request id.
test("/metrics is served by the instances but not through HAProxy", async ({ request }) => {
  const outside = await request.get("/metrics");
  expect(outside.status()).toBe(404);
  expect(await outside.text()).not.toContain("switchboard_");
  const inside = await request.get(`${instanceUrl(1)}/metrics`);
  expect(inside.status()).toBe(200);
  expect(await inside.text()).toContain("switchboard_sockets_open");
  const page = await request.get("/login");
  expect(page.headers()["x-request-id"]).toMatch(/^[0-9a-f-]{36}$/);
});
