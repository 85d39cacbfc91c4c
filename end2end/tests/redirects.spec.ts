import { test, expect, USERS } from "./fixtures";
import type { Page } from "@playwright/test";

// After signing in, the browser goes where `next` says — which an attacker
// can choose by sending a link to the sign-in page. Whatever it says, the
// person must stay on authwatch: browsers drop a TAB or newline inside a URL,
// so `/<TAB>/evil.example` reads as `//evil.example`, another site.

const HOSTILE = [
  "/\t/evil.example",
  "/\n/evil.example",
  "/%09/evil.example",
  "//evil.example",
  "/\\evil.example",
  "\\\\evil.example",
  "https://evil.example/",
  "javascript:alert(document.domain)",
];

test.use({ signedInAs: null });

test.beforeEach(async ({ page }) => {
  // Stands in for the attacker's site, so that landing there is seen as such
  // (this network resolves no outside name).
  await page.route((url) => url.hostname === "evil.example", (route) =>
    route.fulfill({ status: 200, contentType: "text/html", body: "<h1>evil.example</h1>" }),
  );
});

async function submit(page: Page): Promise<void> {
  await page.getByLabel("Email").fill(USERS.admin.email);
  await page.getByLabel("Password").fill(USERS.admin.password);
  await Promise.all([page.waitForNavigation(), page.getByRole("button", { name: "Sign in" }).click()]);
  await page.waitForLoadState("load");
}

async function expectHome(page: Page, baseURL: string | undefined): Promise<void> {
  const here = new URL(page.url());
  expect(here.origin, `ended on ${page.url()}`).toBe(new URL(baseURL!).origin);
  expect(here.pathname).toBe("/");
  await expect(page.locator(".viewer")).toContainText("Ada Admin");
}

for (const next of HOSTILE) {
  test(`a link with next=${JSON.stringify(next)} signs in and stays here`, async ({ page, baseURL, consoleErrors }) => {
    await page.goto(`/sign-in?next=${encodeURIComponent(next)}`);
    // The page does not carry the hostile value into its form.
    await expect(page.locator('input[name="next"]')).toHaveValue("/");
    await submit(page);
    await expectHome(page, baseURL);
    void consoleErrors;
  });

  test(`a forged form with next=${JSON.stringify(next)} signs in and stays here`, async ({ page, baseURL, consoleErrors }) => {
    await page.goto("/sign-in");
    await page.locator('input[name="next"]').evaluate((input, value) => {
      (input as HTMLInputElement).value = value;
    }, next);
    await submit(page);
    await expectHome(page, baseURL);
    void consoleErrors;
  });
}

test("a path on this site is where signing in leads", async ({ page, baseURL, consoleErrors }) => {
  await page.goto("/");
  await expect(page).toHaveURL(/\/sign-in\?next=%2F$/);
  await page.goto(`/sign-in?next=${encodeURIComponent("/users")}`);
  await expect(page.locator('input[name="next"]')).toHaveValue("/users");
  await submit(page);
  expect(new URL(page.url()).origin).toBe(new URL(baseURL!).origin);
  await expect(page).toHaveURL(/\/users$/);
  void consoleErrors;
});
