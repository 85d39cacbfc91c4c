import type { Browser, Page } from "@playwright/test";
import { test, expect, hydrated, signIn } from "./fixtures";

// Live updates: a change made anywhere shows on an open dashboard within
// about a second, without a reload, and the "Updated" line says the page is
// live; with the stream blocked, the page says it polls, and does.

const LIVE = "live";
const POLLING = "refreshing every 10 s (live updates unavailable)";

/** @acme_news's token age on the dashboard: its issue time changes with each refresh. */
const newsAge = (page: Page) => page.locator('tr[data-account="acme_news"] td.age [data-age]');

/** Refreshes @acme_news as another person would: in a browser of their own,
 *  on the account page, with "Refresh now". Resolves once it is saved. */
async function refreshElsewhere(browser: Browser): Promise<void> {
  const context = await browser.newContext();
  try {
    const other = await context.newPage();
    await signIn(other, "admin");
    await other.locator('tr[data-account="acme_news"] td.who a').click();
    await expect(other.getByRole("heading", { name: /@acme_news/ })).toBeVisible();
    await other.getByRole("button", { name: "Refresh now" }).click();
    await expect(other.getByRole("status").filter({ hasText: /Refreshed: generation \d+ saved\./ })).toBeVisible();
  } finally {
    await context.close();
  }
}

test("the dashboard shows a refresh made in another browser within a second, live, without a reload", async ({ page, browser, consoleErrors }) => {
  await page.goto("/");
  await hydrated(page);
  const mode = page.locator(".updated [data-live-mode]");
  await expect(mode).toHaveText(LIVE);
  await page.evaluate(() => ((window as any).__noReload = true));
  const before = await newsAge(page).getAttribute("data-age");

  await refreshElsewhere(browser);
  const saved = Date.now();
  await expect(newsAge(page)).not.toHaveAttribute("data-age", before!, { timeout: 2_000 });
  console.log(`the dashboard showed the refresh ${Date.now() - saved} ms after it was saved`);
  await expect(mode).toHaveText(LIVE);
  expect(await page.evaluate(() => (window as any).__noReload)).toBe(true);
  void consoleErrors;
});

test("the account page says it is live, and an action's result stays while the page updates", async ({ page, consoleErrors }) => {
  await page.goto("/");
  await page.locator('tr[data-account="acme_news"] td.who a').click();
  await hydrated(page);
  await expect(page.locator(".account .updated [data-live-mode]")).toHaveText(LIVE);
  const section = page.locator("section.account");
  await page.getByRole("button", { name: "Refresh now" }).click();
  const result = page.getByRole("status").filter({ hasText: /Refreshed: generation \d+ saved\./ });
  await expect(result).toBeVisible();
  // The refresh's own change comes back over the stream and the page is
  // fetched again (a new server clock on it): the one-time result stays.
  const shown = await section.getAttribute("data-now");
  await expect(section).not.toHaveAttribute("data-now", shown!, { timeout: 3_000 });
  await expect(result).toBeVisible();
  void consoleErrors;
});

test("with the stream blocked, the line says the page polls, and it still updates", async ({ page, browser, consoleErrors }) => {
  test.slow(); // one poll is 10 s
  await page.route("**/live", (route) => route.abort());
  await page.goto("/");
  await hydrated(page);
  const mode = page.locator(".updated [data-live-mode]");
  await expect(mode).toHaveText(POLLING);
  await page.evaluate(() => ((window as any).__noReload = true));
  const before = await newsAge(page).getAttribute("data-age");

  await refreshElsewhere(browser);
  await expect(newsAge(page)).not.toHaveAttribute("data-age", before!, { timeout: 15_000 });
  await expect(mode).toHaveText(POLLING);
  expect(await page.evaluate(() => (window as any).__noReload)).toBe(true);
  // The blocked stream's attempts are the only console errors.
  expect(consoleErrors.filter((e) => !e.includes("net::ERR_FAILED"))).toEqual([]);
  consoleErrors.splice(0);
});

test.describe("without JavaScript", () => {
  test.use({ javaScriptEnabled: false });

  test("the line says to reload the page", async ({ page }) => {
    await page.goto("/");
    await expect(page.locator(".updated [data-live-mode]")).toHaveText("reload the page to update");
  });
});
