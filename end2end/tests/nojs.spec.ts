import { test, expect } from "./fixtures";

// The buttons are forms that post: with no script at all (a slow line before
// the wasm arrives, a blocked script), they still do what they say and the
// page says what happened.
test.describe("without JavaScript", () => {
  test.use({ javaScriptEnabled: false });

  test("Refresh now and Check now post, and the account page says what happened", async ({ page }) => {
    await page.goto("/");
    await expect(page.locator(".hydration-mark")).toHaveAttribute("data-hydrated", "false");
    await page.locator('tr[data-account="acme_news"] td.who a').click();
    await expect(page.getByRole("heading", { name: /@acme_news/ })).toBeVisible();
    const account = page.url();

    await page.getByRole("button", { name: "Refresh now" }).click();
    await expect(page).toHaveURL(account);
    await expect(page.getByRole("status").filter({ hasText: /Refreshed: generation \d+ saved\./ })).toBeVisible();
    await expect(page.locator("table.timeline tbody tr").first()).toContainText("refresh");

    await page.getByRole("button", { name: "Check now" }).click();
    await expect(page).toHaveURL(account);
    await expect(page.getByRole("status").filter({ hasText: "X confirmed the token works." })).toBeVisible();
    // Shown once: a reload has no notice.
    await page.reload();
    await expect(page.locator(".notice")).toHaveCount(0);
  });

  test("filters and search are links and a form that navigate", async ({ page }) => {
    await page.goto("/");
    await page.getByRole("link", { name: /Needs a person/ }).click();
    await expect(page).toHaveURL(/health=needs-person/);
    await expect(page.locator("table.accounts tbody tr")).toHaveCount(3);
    await page.getByLabel("Search by handle or name").fill("labs");
    await page.getByRole("button", { name: "Search" }).click();
    await expect(page.locator("table.accounts tbody tr")).toHaveCount(1);
  });
});

test("with the script, Refresh now shows its result in place, without a reload", async ({ page, consoleErrors }) => {
  await page.goto("/");
  await page.locator('tr[data-account="acme_news"] td.who a').click();
  await expect(page.locator(".hydration-mark")).toHaveAttribute("data-hydrated", "true");
  await page.evaluate(() => ((window as any).__noReload = true));
  await page.getByRole("button", { name: "Refresh now" }).click();
  await expect(page.getByRole("status").filter({ hasText: /Refreshed: generation \d+ saved\./ })).toBeVisible();
  expect(await page.evaluate(() => (window as any).__noReload)).toBe(true);
  void consoleErrors;
});
