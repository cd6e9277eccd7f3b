import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { APIRequestContext, expect, request, test } from "@playwright/test";

// The suite's own cluster raises the per-client login limit for every test browser (they all
// come from 127.0.0.1), so this test starts a small cluster of its own with a low limit, behind
// HAProxy configured exactly as deploy/haproxy.cfg ships it.
const ROOT = path.resolve(__dirname, "../..");
const NAME = "xff";
const LIMIT = 5;

function cluster(args: string[], env: Record<string, string> = {}): void {
  execFileSync(`${ROOT}/scripts/cluster`, [...args, "--name", NAME], {
    stdio: "inherit",
    env: { ...process.env, ...env },
  });
}

function clusterUrl(): string {
  const env = readFileSync(`${ROOT}/.run/${NAME}/env`, "utf8");
  const url = env.match(/^SB_URL=(.+)$/m)?.[1];
  if (!url) throw new Error(`no SB_URL in .run/${NAME}/env`);
  return url;
}

test.describe("the per-address login limit behind HAProxy", () => {
  let api: APIRequestContext;

  test.beforeAll(async () => {
    cluster(["up", "--instances", "1"], { AUTH_ATTEMPTS_PER_CLIENT: String(LIMIT) });
    api = await request.newContext({ baseURL: clusterUrl() });
  });

  test.afterAll(async () => {
    await api?.dispose();
    cluster(["down"]);
  });

  test("a client forging X-Forwarded-For is still limited", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < LIMIT + 3; i++) {
      // A fresh address each time, as one line and as a list: neither may reset the count.
      const forged = i % 2 === 0 ? `10.${i}.0.1` : `10.${i}.0.1, 192.0.2.${i}`;
      const response = await api.post("/api/login", {
        form: { name: `nobody${i}`, password: "not the password" },
        headers: { "X-Forwarded-For": forged },
      });
      statuses.push(response.status());
    }
    expect(statuses).toEqual([...Array(LIMIT).fill(401), ...Array(3).fill(429)]);
  });
});
