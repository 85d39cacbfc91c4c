import * as path from "node:path";
import { test, hydrated } from "./fixtures";

// The README's pictures, taken only when asked for
// (AUTHWATCH_SCREENSHOTS=1 cargo leptos end-to-end): the dashboard and an
// account page, on a phone and on a desktop, full length, while the demo's
// accounts still show their problems (this file runs before the specs that
// fix them).

const DIR = path.resolve(__dirname, "../../docs/screenshots");

test.skip(!process.env.AUTHWATCH_SCREENSHOTS, "set AUTHWATCH_SCREENSHOTS=1 to take the README's screenshots");

for (const width of [390, 1400]) {
  test.describe(`${width} px`, () => {
    test.use({ viewport: { width, height: width < 600 ? 844 : 900 } });

    test("screenshots of the dashboard and an account page", async ({ page, consoleErrors }) => {
      await page.goto("/");
      await hydrated(page);
      await page.screenshot({ path: path.join(DIR, `dashboard-${width}.png`), fullPage: true });
      await page.locator('tr[data-account="acme_events"] td.who a').click();
      await hydrated(page);
      await page.locator("table.timeline").waitFor();
      await page.screenshot({ path: path.join(DIR, `account-${width}.png`), fullPage: true });
      void consoleErrors;
    });
  });
}
