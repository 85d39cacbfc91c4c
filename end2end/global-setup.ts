// cargo-leptos starts the server and runs Playwright without waiting for the
// port: wait here until authwatch answers and demo mode has connected its
// accounts (the last one is @acme_travel), or fail with a clear message.
export default async function globalSetup(): Promise<void> {
  const url = process.env.AUTHWATCH_E2E_URL ?? "http://127.0.0.1:3000";
  const deadline = Date.now() + 120_000;
  let last = "";
  while (Date.now() < deadline) {
    try {
      const health = await fetch(`${url}/healthz`);
      if (health.ok) {
        const page = await (await fetch(`${url}/`)).text();
        if (page.includes('data-account="acme_travel"')) return;
        last = "demo accounts not connected yet";
      } else {
        last = `HTTP ${health.status}`;
      }
    } catch (e) {
      last = String(e);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`authwatch was not ready at ${url} within 120 s (last: ${last})`);
}
