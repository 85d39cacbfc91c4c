import { test as base, expect, Page } from "@playwright/test";

// Every page test fails on a browser console error or an uncaught exception:
// a hydration failure often shows only there.
export const test = base.extend<{ consoleErrors: string[] }>({
  consoleErrors: async ({ page }, use) => {
    const errors: string[] = [];
    page.on("console", (msg) => {
      if (msg.type() === "error") errors.push(msg.text());
    });
    page.on("pageerror", (err) => errors.push(err.message));
    await use(errors);
    expect(errors, "browser console errors").toEqual([]);
  },
});

export { expect };

/** Waits until the Leptos app has hydrated (the App sets data-hydrated). */
export async function hydrated(page: Page): Promise<void> {
  await expect(page.locator(".app")).toHaveAttribute("data-hydrated", "true");
}
