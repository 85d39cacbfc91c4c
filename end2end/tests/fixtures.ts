import { test as base, expect, Page } from "@playwright/test";

/** The demo users demo mode creates (shown on its sign-in page). */
export const USERS = {
  admin: { email: "ada@demo.authwatch", password: "demo-admin-password" },
  manager: { email: "dana@demo.authwatch", password: "demo-manager-password" },
} as const;

export type Who = keyof typeof USERS;

/** Signs in through the sign-in form, as a person would. */
export async function signIn(page: Page, who: Who): Promise<void> {
  await page.goto("/sign-in");
  await page.getByLabel("Email").fill(USERS[who].email);
  await page.getByLabel("Password").fill(USERS[who].password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/$/);
}

/** Collects console errors and uncaught exceptions of `page`. */
export function watchConsole(page: Page, errors: string[]): void {
  page.on("console", (msg) => {
    if (msg.type() === "error") errors.push(msg.text());
  });
  page.on("pageerror", (err) => errors.push(err.message));
}

// Every page test fails on a browser console error or an uncaught exception
// (a hydration failure, a script the CSP blocked, often show only there).
// Pages start signed in as `signedInAs` (the admin unless a test says otherwise).
export const test = base.extend<{ consoleErrors: string[]; signedInAs: Who | null }>({
  signedInAs: ["admin", { option: true }],
  consoleErrors: async ({ page }, use) => {
    const errors: string[] = [];
    watchConsole(page, errors);
    await use(errors);
    expect(errors, "browser console errors").toEqual([]);
  },
  page: async ({ page, signedInAs }, use) => {
    if (signedInAs) await signIn(page, signedInAs);
    await use(page);
  },
});

export { expect };

/** Waits until the page's islands are live (the last island of every page sets data-hydrated). */
export async function hydrated(page: Page): Promise<void> {
  await expect(page.locator(".hydration-mark")).toHaveAttribute("data-hydrated", "true");
}
