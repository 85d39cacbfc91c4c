import { test, expect, hydrated } from "./fixtures";

test("the dashboard hydrates and reacts to a click without a reload", async ({ page, consoleErrors }) => {
  await page.goto("/");
  await expect(page.getByRole("heading", { name: "Accounts" })).toBeVisible();
  await hydrated(page);

  // A full navigation would reset this marker; a client-side update keeps it.
  await page.evaluate(() => ((window as any).__noReload = true));
  const needsPerson = page.getByRole("button", { name: "Needs a person" });
  await expect(needsPerson).toHaveAttribute("aria-pressed", "false");
  await needsPerson.click();
  await expect(needsPerson).toHaveAttribute("aria-pressed", "true");
  await expect(page.locator(".showing")).toHaveText("Showing: Needs a person");
  expect(await page.evaluate(() => (window as any).__noReload)).toBe(true);
  void consoleErrors;
});

test("an unknown address is a real 404 page", async ({ page, consoleErrors }) => {
  const res = await page.goto("/no/such/page");
  expect(res?.status()).toBe(404);
  await expect(page.getByRole("heading", { name: "Not found" })).toBeVisible();
  await hydrated(page);
  void consoleErrors;
});
