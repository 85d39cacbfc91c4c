import AxeBuilder from "@axe-core/playwright";
import type { Page } from "@playwright/test";
import { test, expect, hydrated, signedInPages, Who } from "./fixtures";

// axe-core's WCAG 2.0 and 2.1 A and AA rules on every page, on a phone and
// on a desktop, for the admin and a manager: zero findings. A failure lists
// each finding with the elements it names.

const TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"];

const SCREENS = [
  { name: "phone", viewport: { width: 390, height: 844 } },
  { name: "desktop", viewport: { width: 1400, height: 900 } },
];

/** axe's findings on the page as it is now, one line per element. */
async function findings(page: Page, what: string): Promise<string[]> {
  const { violations } = await new AxeBuilder({ page }).withTags(TAGS).analyze();
  return violations.flatMap((v) =>
    v.nodes.map((n) => `${what}: ${v.id} (${v.impact}) ${v.help}: ${n.target.join(" ")}\n    ${n.failureSummary ?? ""}`),
  );
}

function report(found: string[]): string {
  return `${found.length} accessibility finding(s):\n${found.join("\n")}`;
}

for (const screen of SCREENS) {
  test.describe(`on a ${screen.name}`, () => {
    test.use({ viewport: screen.viewport });

    for (const who of ["admin", "manager"] as Who[]) {
      test.describe(`as the ${who}`, () => {
        test.use({ signedInAs: who });

        test("every page has no WCAG 2 A or AA finding", async ({ page, consoleErrors }) => {
          test.slow(); // seven pages, each loaded, hydrated and checked
          const found: string[] = [];
          for (const [name, path] of await signedInPages(page, who)) {
            await page.goto(path);
            await hydrated(page);
            found.push(...(await findings(page, name)));
          }
          if (screen.name === "phone") {
            // The menu's contents are only laid out once it is open.
            await page.goto("/");
            await hydrated(page);
            const menu = page.locator("header summary", { hasText: "Menu" });
            if (await menu.isVisible()) {
              await menu.click();
              found.push(...(await findings(page, "dashboard, menu open")));
            } else {
              found.push("dashboard: the header has no menu to open");
            }
          }
          expect(found.length, report(found)).toBe(0);
          void consoleErrors;
        });
      });
    }

    test.describe("signed out", () => {
      test.use({ signedInAs: null });

      test("the sign-in page has no WCAG 2 A or AA finding", async ({ page, consoleErrors }) => {
        await page.goto("/sign-in");
        await hydrated(page);
        const found = await findings(page, "sign-in");
        expect(found.length, report(found)).toBe(0);
        void consoleErrors;
      });
    });
  });
}
