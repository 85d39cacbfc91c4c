import { test, expect, hydrated, signedInPages, expectNoHorizontalOverflow } from "./fixtures";

// Social managers get a prompt on their phone and act there: every page fits
// the screen, the account that needs them shows its Reconnect first, and the
// header's menu works before (and without) the page's wasm.

const PHONES = [
  { name: "390 px", viewport: { width: 390, height: 844 } },
  { name: "360 px", viewport: { width: 360, height: 740 } },
];

for (const phone of PHONES) {
  test.describe(`on a ${phone.name} phone`, () => {
    test.use({ viewport: phone.viewport });

    test("no page scrolls sideways", async ({ page, consoleErrors }) => {
      test.slow(); // six pages, each loaded and hydrated
      for (const [name, path] of await signedInPages(page, "admin")) {
        await page.goto(path);
        await hydrated(page);
        await expectNoHorizontalOverflow(page, `the ${name} page (${path})`);
      }
      void consoleErrors;
    });

    test.describe("signed out", () => {
      test.use({ signedInAs: null });
      test("the sign-in page does not scroll sideways", async ({ page, consoleErrors }) => {
        await page.goto("/sign-in");
        await hydrated(page);
        await expectNoHorizontalOverflow(page, "the sign-in page");
        void consoleErrors;
      });
    });

    test("an account that needs a reconnect shows it first, on screen, and it works", async ({ page, consoleErrors }) => {
      await page.goto("/");
      await hydrated(page);
      const card = page.locator('tr[data-health="reconnect"]').filter({ has: page.getByRole("link", { name: "Reconnect" }) }).first();
      const handle = await card.getAttribute("data-account");
      const reconnect = card.getByRole("link", { name: "Reconnect" });
      // Scroll down to the card, never sideways.
      await card.evaluate((el) => window.scrollTo(0, el.getBoundingClientRect().top + window.scrollY - 8));
      expect(await page.evaluate(() => window.scrollX)).toBe(0);
      for (const part of [card.locator("td.who a"), card.locator(".badge"), card.locator(".countdown"), reconnect]) {
        await expect(part).toBeInViewport({ ratio: 1 });
      }
      const button = (await reconnect.boundingBox())!;
      const rest = (await card.locator("td.age").boundingBox())!;
      expect(button.y + button.height, "Reconnect comes before the token's details").toBeLessThanOrEqual(rest.y);
      expect(button.height, "a button a thumb can hit").toBeGreaterThanOrEqual(44);
      await reconnect.click();
      await expect(page.getByRole("heading", { name: `Reconnect @${handle}` })).toBeVisible();
      void consoleErrors;
    });

    test("the header folds into a menu whose links work", async ({ page, consoleErrors }) => {
      await page.goto("/");
      await hydrated(page);
      // "Needs you" stays in the header, outside the menu.
      await expect(page.locator("header .needs-you-badge")).toBeInViewport();
      const settings = page.getByRole("link", { name: "Settings", exact: true });
      await expect(settings).toBeHidden();
      await page.locator("header summary", { hasText: "Menu" }).click();
      await expect(settings).toBeInViewport();
      await expect(page.getByRole("button", { name: "Sign out" })).toBeVisible();
      await settings.click();
      await expect(page).toHaveURL(/\/settings$/);
      await expect(page.getByRole("heading", { name: "X app settings" })).toBeVisible();
      // Followed inside the app, the link closes the menu as a page load would.
      await expect(page.locator("header details.menu")).not.toHaveAttribute("open");
      await expectNoHorizontalOverflow(page, "the settings page");
      void consoleErrors;
    });

    test.describe("without JavaScript", () => {
      test.use({ javaScriptEnabled: false, signedInAs: null });
      test("the menu opens and its links work", async ({ page }) => {
        // The sign-in form and the menu are plain HTML.
        await page.goto("/sign-in");
        await page.getByLabel("Email").fill("ada@demo.authwatch");
        await page.getByLabel("Password").fill("demo-admin-password");
        await page.getByRole("button", { name: "Sign in" }).click();
        await expect(page).toHaveURL(/\/$/);
        await expect(page.locator(".hydration-mark")).toHaveAttribute("data-hydrated", "false");
        const users = page.getByRole("link", { name: "Users", exact: true });
        await expect(users).toBeHidden();
        await page.locator("header summary", { hasText: "Menu" }).click();
        await users.click();
        await expect(page).toHaveURL(/\/users$/);
        await expect(page.getByRole("heading", { name: "Users" })).toBeVisible();
      });
    });
  });
}

test.describe("on a 1400 px desktop", () => {
  test.use({ viewport: { width: 1400, height: 900 } });

  test("the header shows every item, with no menu button", async ({ page, consoleErrors }) => {
    await page.goto("/");
    await hydrated(page);
    await expect(page.locator("header summary")).toBeHidden();
    for (const name of ["Accounts", "Users", "Settings"]) {
      await expect(page.locator("header").getByRole("link", { name, exact: true })).toBeInViewport();
    }
    await expect(page.locator("header .viewer")).toContainText("Ada Admin");
    await expect(page.locator("header .viewer")).toBeInViewport();
    await expect(page.getByRole("button", { name: "Sign out" })).toBeInViewport();
    await expect(page.locator("header .env")).toBeInViewport();
    // The accounts stay a table with its column heads.
    await expect(page.getByRole("columnheader", { name: "Expires in" })).toBeVisible();
    await expect(page.locator("table.accounts tbody tr").first().locator("td.expiry")).toHaveCSS("display", "table-cell");
    const broken = await page.locator("td.who a").evaluateAll((links) =>
      // Taller than one line: wrapped.
      links.filter((a) => a.getBoundingClientRect().height > 1.8 * parseFloat(getComputedStyle(a).fontSize)).map((a) => a.textContent),
    );
    expect(broken, "handles broken across lines").toEqual([]);
    await page.getByRole("link", { name: "Users", exact: true }).click();
    await expect(page).toHaveURL(/\/users$/);
    void consoleErrors;
  });
});
