import { test, expect, hydrated, signIn, watchConsole } from "./fixtures";

// These tests change accounts (@acme_jobs, @acme_events); they run after the
// read-only specs (files run in name order, one worker).

test.describe("as the manager", () => {
  test.use({ signedInAs: null });

  test("signs in, sees what needs her, and reconnects at X", async ({ page, consoleErrors }) => {
    await page.goto("/");
    await expect(page).toHaveURL(/\/sign-in\?next=%2F$/);
    await expect(page.locator(".demo-users")).toContainText("dana@demo.authwatch");
    await signIn(page, "manager");
    await hydrated(page);
    await expect(page.locator(".viewer")).toContainText("Dana Manager");
    // Her two broken accounts, not the admin's.
    const needs = page.locator("section.needs-you");
    await expect(needs.locator("li")).toHaveCount(2);
    await expect(needs).toContainText("@acme_jobs");
    await expect(needs).toContainText("@acme_events");
    await expect(needs).not.toContainText("@acme_labs");
    await expect(page.locator(".needs-you-badge .count")).toHaveText("2");
    // She may not reconnect an account she does not own.
    await expect(page.locator('tr[data-account="acme_labs"]').getByRole("link", { name: "Reconnect" })).toHaveCount(0);
    await expect(page.locator('tr[data-account="acme_jobs"] td.owner')).toHaveText("Dana Manager");

    await needs.locator('li[data-prompt="@acme_jobs"]').getByRole("link", { name: "Reconnect" }).click();
    await expect(page.getByRole("heading", { name: "Reconnect @acme_jobs" })).toBeVisible();
    await page.getByRole("button", { name: "Continue to X" }).click();
    await page.locator("#x-user").selectOption({ label: "@acme_jobs (Acme Jobs)" });
    await page.getByRole("button", { name: "Authorize app" }).click();
    await expect(page).toHaveURL(/\/$/);
    await hydrated(page);
    await expect(page.getByRole("status").filter({ hasText: "Reconnected @acme_jobs" })).toBeVisible();
    await expect(page.locator('tr[data-account="acme_jobs"]')).toHaveAttribute("data-health", "healthy");
    void consoleErrors;
  });
});

test("a reconnect link works in a fresh browser, once", async ({ page, browser, consoleErrors }) => {
  // The admin makes a link for @acme_events.
  await page.goto("/");
  await hydrated(page);
  await page.locator('tr[data-account="acme_events"] td.who a').click();
  await hydrated(page);
  await page.getByRole("button", { name: "Create a reconnect link" }).click();
  const url = await page.locator("input.link-url").inputValue();
  expect(url).toMatch(/\/r\/[A-Za-z0-9_-]{43}$/);

  // Someone with no dashboard user opens it in their own browser.
  const context = await browser.newContext();
  const guest = await context.newPage();
  const guestErrors: string[] = [];
  watchConsole(guest, guestErrors);
  await guest.goto(url);
  await expect(guest.getByRole("heading", { name: "Reconnect @acme_events to authwatch" })).toBeVisible();
  await expect(guest.locator(".steps")).toContainText("Sign in there as @acme_events");
  await guest.getByRole("button", { name: "Continue to X" }).click();
  await guest.locator("#x-user").selectOption({ label: "@acme_events (Acme Events)" });
  await guest.getByRole("button", { name: "Authorize app" }).click();
  await expect(guest).toHaveURL(/\/connect\/result$/);
  await expect(guest.getByRole("status")).toContainText("Reconnected @acme_events");
  // The link is spent: it says so, with HTTP 410 Gone (which Chromium
  // reports on the console: that one entry is the point).
  const spent = await guest.goto(url);
  expect(spent?.status()).toBe(410);
  await expect(guest.getByRole("heading", { name: "This link was already used" })).toBeVisible();
  expect(guestErrors).toEqual(["Failed to load resource: the server responded with a status of 410 (Gone)"]);
  guestErrors.splice(0);
  // The guest still cannot see the dashboard.
  await guest.goto("/");
  await expect(guest).toHaveURL(/\/sign-in/);
  await context.close();
  expect(guestErrors, "guest console errors").toEqual([]);

  await page.goto("/");
  await hydrated(page);
  await expect(page.locator('tr[data-account="acme_events"]')).toHaveAttribute("data-health", "healthy");
  void consoleErrors;
});
