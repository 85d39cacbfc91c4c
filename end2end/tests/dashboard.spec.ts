import { test, expect, hydrated } from "./fixtures";

const EXPECTED: Record<string, string> = {
  acme_news: "Healthy",
  acme_support: "Healthy",
  acme_sports: "Refresh due",
  acme_deals: "Expired, refreshable",
  acme_events: "Reconnect needed",
  acme_jobs: "Reconnect needed",
  acme_labs: "Reconnect needed",
  acme_travel: "Healthy",
};

test("every demo account shows health, token age, expiry, scopes and last refresh", async ({ page, consoleErrors }) => {
  await page.goto("/");
  await hydrated(page);
  for (const [handle, label] of Object.entries(EXPECTED)) {
    const row = page.locator(`tr[data-account="${handle}"]`);
    await expect(row.locator(".badge")).toHaveText(label);
    await expect(row.locator("td.age")).toHaveText(/\d+ (s|min|h)/);
    await expect(row.locator("td.expiry .countdown")).toHaveText(/\d/);
    await expect(row.locator("td.refresh")).toHaveText(/never|ok|failed/);
  }
  // The missing scope is highlighted on the account that lacks it, and only there.
  await expect(page.locator('tr[data-account="acme_jobs"] .scope.missing')).toHaveText("tweet.write");
  await expect(page.locator(".scope.missing")).toHaveCount(1);
  // The refresh that X rejected shows as a failed last refresh.
  await expect(page.locator('tr[data-account="acme_events"] td.refresh .outcome')).toHaveText("failed");
  // People's problems come first.
  await expect(page.locator("table.accounts tbody tr").first()).toHaveAttribute("data-health", "reconnect");
  // The app-level clock drift warning, once.
  await expect(page.locator('[data-cause="clock_drift"]')).toHaveCount(1);
  // Exact times on hover.
  await expect(page.locator('tr[data-account="acme_news"] td.refresh time, tr[data-account="acme_news"] td.age span').first()).toHaveAttribute("title", /UTC/);
  void consoleErrors;
});

test("the countdown runs live in the browser", async ({ page, consoleErrors }) => {
  await page.goto("/");
  await hydrated(page);
  const countdown = page.locator('tr[data-account="acme_news"] .countdown');
  const first = await countdown.textContent();
  await expect(countdown).not.toHaveText(first ?? "", { timeout: 5_000 });
  void consoleErrors;
});

test("search by handle narrows the list", async ({ page, consoleErrors }) => {
  await page.goto("/");
  await hydrated(page);
  await page.getByLabel("Search by handle or name").fill("travel");
  await page.getByRole("button", { name: "Search" }).click();
  await expect(page).toHaveURL(/search=travel/);
  await expect(page.locator("table.accounts tbody tr")).toHaveCount(1);
  await expect(page.locator('tr[data-account="acme_travel"]')).toBeVisible();
  void consoleErrors;
});

test("the account page answers the questions in sentences", async ({ page, consoleErrors }) => {
  await page.goto("/");
  await hydrated(page);
  await page.locator('tr[data-account="acme_events"] td.who a').click();
  await expect(page.getByRole("heading", { name: /@acme_events/ })).toBeVisible();
  await hydrated(page);
  await expect(page.locator(".answers")).toContainText("Did the refresh token survive the last exchange?");
  await expect(page.locator(".answers")).toContainText("Do the granted scopes cover publishing?");
  await expect(page.locator(".x-error pre")).toContainText("Value passed for the token was invalid.");
  await expect(page.locator(".next-step")).toContainText("owner");
  await expect(page.locator("table.timeline tbody tr").first()).toContainText("refresh");
  void consoleErrors;
});

test("settings show the callback to register and no secret", async ({ page, consoleErrors }) => {
  await page.goto("/settings");
  await hydrated(page);
  await expect(page.locator("#callback-url")).toHaveText(/\/auth\/x\/callback$/);
  await expect(page.getByText("the secret itself is never shown")).toBeVisible();
  void consoleErrors;
});
