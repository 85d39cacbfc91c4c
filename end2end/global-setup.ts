// cargo-leptos starts the server and runs Playwright without waiting for the
// port: wait here until authwatch answers, or fail with a clear message.
export default async function globalSetup(): Promise<void> {
  const url = process.env.AUTHWATCH_E2E_URL ?? "http://127.0.0.1:3000";
  const deadline = Date.now() + 120_000;
  let last = "";
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${url}/healthz`);
      if (res.ok) return;
      last = `HTTP ${res.status}`;
    } catch (e) {
      last = String(e);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`authwatch did not answer at ${url}/healthz within 120 s (last: ${last})`);
}
