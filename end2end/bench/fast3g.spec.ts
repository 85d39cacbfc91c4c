import { test, expect, CDPSession } from "@playwright/test";
import { signIn } from "../tests/fixtures";

// The dashboard on a slow line: Chromium's "Fast 3G" profile (DevTools'
// preset: 150 ms latency, 1.6 Mbit/s down, 750 kbit/s up), throttled through
// the DevTools protocol, with an empty cache. Prints the time to the first
// paint of the accounts table, to a clickable Reconnect button (the page is
// usable before its wasm arrives: the button is a link) and to hydrated.
// A benchmark, not a test of timing: `npx playwright test -c bench.config.ts`.

const FAST_3G = {
  offline: false,
  latency: 150 * 3.75, // DevTools multiplies its preset's latency by 3.75 for the emulated RTT
  downloadThroughput: ((1.6 * 1000 * 1000) / 8) * 0.9,
  uploadThroughput: ((750 * 1000) / 8) * 0.9,
};

async function throttle(cdp: CDPSession): Promise<void> {
  await cdp.send("Network.enable");
  await cdp.send("Network.clearBrowserCache");
  await cdp.send("Network.setCacheDisabled", { cacheDisabled: true });
  await cdp.send("Network.emulateNetworkConditions", FAST_3G);
}

const RUNS = Number(process.env.BENCH_RUNS ?? 5);

test("the dashboard on Fast 3G, cold cache", async ({ browser }) => {
  const samples: { table: number; reconnect: number; hydrated: number; bytes: number }[] = [];
  for (let run = 0; run < RUNS; run++) {
    const context = await browser.newContext();
    const page = await context.newPage();
    await signIn(page, "admin");
    const cdp = await context.newCDPSession(page);
    await throttle(cdp);
    let bytes = 0;
    cdp.on("Network.loadingFinished", (e: { encodedDataLength: number }) => (bytes += e.encodedDataLength));
    const start = Date.now();
    await page.goto("/", { waitUntil: "commit" });
    await page.locator("table.accounts tbody tr").first().waitFor({ state: "visible", timeout: 30_000 });
    const table = Date.now() - start;
    const reconnect = page.locator("table.accounts").getByRole("link", { name: "Reconnect" }).first();
    await expect(reconnect).toBeVisible({ timeout: 30_000 });
    await expect(reconnect).toBeEnabled();
    const clickable = Date.now() - start;
    await expect(page.locator(".hydration-mark")).toHaveAttribute("data-hydrated", "true", { timeout: 60_000 });
    const hydrated = Date.now() - start;
    samples.push({ table, reconnect: clickable, hydrated, bytes });
    await context.close();
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const row = (name: string, pick: (s: (typeof samples)[0]) => number, unit: string) =>
    `${name.padEnd(34)} median ${String(median(samples.map(pick))).padStart(7)} ${unit}   runs: ${samples.map(pick).join(", ")}`;
  console.log(`\nFast 3G, cold cache, ${RUNS} runs, dashboard as the demo admin`);
  console.log(row("table painted", (s) => s.table, "ms"));
  console.log(row("Reconnect visible and clickable", (s) => s.reconnect, "ms"));
  console.log(row("islands hydrated", (s) => s.hydrated, "ms"));
  console.log(row("bytes over the wire", (s) => s.bytes, "B"));
  expect(samples.length).toBe(RUNS);
});
