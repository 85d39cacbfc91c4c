import { test, expect, hydrated } from "./fixtures";

test("the dashboard hydrates and filters by health without a reload", async ({ page, consoleErrors }) => {
  await page.goto("/");
  await expect(page.getByRole("heading", { name: "Accounts" })).toBeVisible();
  await hydrated(page);
  const rows = page.locator("table.accounts tbody tr");
  await expect(rows).toHaveCount(8);

  // A full navigation would drop this marker; a client-side update keeps it.
  await page.evaluate(() => ((window as any).__noReload = true));
  const needsPerson = page.getByRole("link", { name: /Needs a person/ });
  await expect(needsPerson).not.toHaveAttribute("aria-current");
  await needsPerson.click();
  await expect(page).toHaveURL(/health=needs-person/);
  await expect(needsPerson).toHaveAttribute("aria-current", "page");
  await expect(rows).toHaveCount(3);
  for (const handle of ["acme_events", "acme_jobs", "acme_labs"]) {
    await expect(page.locator(`tr[data-account="${handle}"]`)).toBeVisible();
  }
  expect(await page.evaluate(() => (window as any).__noReload)).toBe(true);
  void consoleErrors;
});

test("an unknown address is a real 404 page", async ({ page, consoleErrors }) => {
  const res = await page.goto("/no/such/page");
  expect(res?.status()).toBe(404);
  await expect(page.getByRole("heading", { name: "Not found" })).toBeVisible();
  await hydrated(page);
  // Chromium reports the document's own 404 on the console; that one is the point.
  expect(consoleErrors).toEqual(["Failed to load resource: the server responded with a status of 404 (Not Found)"]);
  consoleErrors.splice(0);
});
