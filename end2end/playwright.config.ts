import { defineConfig, devices } from "@playwright/test";

// The cluster is started by scripts/test (scripts/cluster up), which exports SB_URL (HAProxy)
// and SB_APP_<n>_URL (each instance). The browser is Debian's Chromium: Playwright's own
// browser download is not used.
const chromium = {
  ...devices["Desktop Chrome"],
  launchOptions: {
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: [
      "--no-sandbox",
      "--headless",
      "--disable-gpu",
      "--disable-quic",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
  },
};

export default defineConfig({
  testDir: "./tests",
  timeout: 60_000,
  expect: { timeout: 15_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: "list",
  use: {
    baseURL: process.env.SB_URL ?? "http://127.0.0.1:3000",
    trace: "off",
    screenshot: "only-on-failure",
  },
  projects: [
    // The cluster suite (scripts/test runs it against HAProxy in front of 3 instances).
    { name: "chromium", testIgnore: /(embedded|embedded-restart|redis-failover)\.spec\.ts/, use: chromium },
    // Instances on a real Redis Cluster (scripts/test: scripts/cluster up --redis-cluster): the core specs
    // again, and a Redis master SIGKILLed under a chat.
    { name: "redis-cluster", testMatch: /(foundation|presence|rooms|private|changes|fallback|redis-failover)\.spec\.ts/, use: chromium },
    // The embedded default: one instance with no REDIS_URL (scripts/test starts it after the cluster pass).
    { name: "embedded", testMatch: /embedded\.spec\.ts/, use: chromium },
    // The same instance stopped and started again on its DATA_DIR (scripts/test): the history is still there.
    { name: "embedded-restart", testMatch: /embedded-restart\.spec\.ts/, use: chromium },
  ],
});
