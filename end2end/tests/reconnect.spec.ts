import { test, expect, hydrated } from "./fixtures";
import type { Page } from "@playwright/test";

// These tests change accounts, so they run after the read-only specs (files
// run in name order, one worker).

async function reconnectFromDashboard(page: Page, handle: string): Promise<void> {
  await page.goto("/");
  await hydrated(page);
  await page.locator(`tr[data-account="${handle}"]`).getByRole("link", { name: "Reconnect" }).click();
  await expect(page.getByRole("heading", { name: `Reconnect @${handle}` })).toBeVisible();
  await expect(page.locator(".steps")).toContainText(`Sign in there as @${handle}`);
  await page.getByRole("button", { name: "Continue to X" }).click();
  // The emulator's consent page, standing in for X's.
  await expect(page.getByRole("button", { name: "Authorize app" })).toBeVisible();
}

test("a reconnect as the wrong X account is refused and changes nothing", async ({ page, consoleErrors }) => {
  await page.goto("/");
  await hydrated(page);
  const before = await page.locator('tr[data-account="acme_labs"] td.expiry .countdown').getAttribute("title");
  await reconnectFromDashboard(page, "acme_labs");
  await page.locator("#x-user").selectOption({ label: "@acme_news (Acme News)" });
  await page.getByRole("button", { name: "Authorize app" }).click();
  await expect(page).toHaveURL(/\/connect\/result$/);
  await expect(page.getByRole("alert")).toContainText(
    "You signed in to X as @acme_news, but this reconnect is for @acme_labs. Sign out of X (or switch account) and try again",
  );
  await expect(page.getByRole("link", { name: "Try again" })).toBeVisible();
  await page.goto("/");
  await hydrated(page);
  const row = page.locator('tr[data-account="acme_labs"]');
  await expect(row).toHaveAttribute("data-health", "reconnect");
  await expect(row.locator("td.expiry .countdown")).toHaveAttribute("title", before ?? "");
  void consoleErrors;
});

test("reconnecting a revoked account as itself makes it healthy and logs it", async ({ page, consoleErrors }) => {
  await reconnectFromDashboard(page, "acme_labs");
  await page.locator("#x-user").selectOption({ label: "@acme_labs (Acme Labs)" });
  await page.getByRole("button", { name: "Authorize app" }).click();
  await expect(page).toHaveURL(/\/$/);
  await hydrated(page);
  await expect(page.getByRole("status").filter({ hasText: "Reconnected @acme_labs" })).toBeVisible();
  await expect(page.locator('tr[data-account="acme_labs"]')).toHaveAttribute("data-health", "healthy");
  await page.locator('tr[data-account="acme_labs"] td.who a').click();
  await expect(page.locator("table.timeline tbody tr").first()).toContainText("reconnect");
  void consoleErrors;
});

test("connecting a new account adds it to the dashboard", async ({ page, consoleErrors }) => {
  await page.goto("/");
  await hydrated(page);
  await page.getByRole("link", { name: "Connect account" }).click();
  await page.getByRole("button", { name: "Continue to X" }).click();
  await page.locator("#x-user").selectOption({ label: "@acme_careers (Acme Careers)" });
  await page.getByRole("button", { name: "Authorize app" }).click();
  await expect(page).toHaveURL(/\/$/);
  await expect(page.getByRole("status").filter({ hasText: "Connected @acme_careers" })).toBeVisible();
  await expect(page.locator('tr[data-account="acme_careers"]')).toHaveAttribute("data-health", "healthy");
  void consoleErrors;
});
