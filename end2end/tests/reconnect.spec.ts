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

test("connecting an account with OAuth 1.0a goes through X's older flow and shows a token that does not expire", async ({
  page,
  consoleErrors,
}) => {
  await page.goto("/connect");
  await hydrated(page);
  // Both flows are offered, each saying what it means; OAuth 2.0 is the default.
  const choice = page.getByRole("group", { name: "How should authwatch connect to X?" });
  await expect(choice).toContainText("never expires; dies only when revoked or the app's keys change");
  await expect(page.getByLabel(/OAuth 2\.0/)).toBeChecked();
  await page.getByLabel(/OAuth 1\.0a/).check();
  await page.getByRole("button", { name: "Continue to X" }).click();
  // The emulator's 1.0a consent page (X's /oauth/authorize), standing in for X's.
  await expect(page).toHaveURL(/\/x-emulator\/oauth\/authorize\?oauth_token=/);
  await page.locator("#x-user").selectOption({ label: "@acme_press (Acme Press)" });
  await page.getByRole("button", { name: "Authorize app" }).click();
  await expect(page).toHaveURL(/\/$/);
  await hydrated(page);
  await expect(page.getByRole("status").filter({ hasText: "Connected @acme_press" })).toBeVisible();
  const row = page.locator('tr[data-account="acme_press"]');
  await expect(row).toHaveAttribute("data-health", "healthy");
  await expect(row.locator("td.auth")).toContainText("OAuth 1.0a");
  await expect(row.locator("td.expiry")).toHaveText("does not expire");
  // The flow filter keeps the 1.0a accounts only.
  await page.getByRole("group", { name: "Filter by OAuth flow" }).getByRole("link", { name: /OAuth 1\.0a/ }).click();
  await expect(page).toHaveURL(/flow=oauth1/);
  await expect(page.locator("table.accounts tbody tr")).toHaveCount(1);
  // The account page: no refresh to make, and how to move to OAuth 2.0.
  await row.locator("td.who a").click();
  await expect(page.locator(".auth-flow")).toContainText("OAuth 1.0a");
  await expect(page.locator(".advice")).toContainText("To move it to OAuth 2.0");
  await expect(page.getByRole("button", { name: "Refresh now" })).toHaveCount(0);
  await page.getByRole("button", { name: "Check now" }).click();
  await expect(page.getByRole("status").filter({ hasText: "X confirmed the token works." })).toBeVisible();
  void consoleErrors;
});
