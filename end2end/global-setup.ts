// scripts/test.sh starts the server and runs Playwright without waiting for
// the port: wait here until authwatch answers, demo mode has connected its
// accounts (the last one is @acme_travel) and raised its prompts (the admin
// sees "Needs you"), or fail with a clear message.
export default async function globalSetup(): Promise<void> {
  const url = process.env.AUTHWATCH_E2E_URL ?? "http://127.0.0.1:3000";
  const deadline = Date.now() + 120_000;
  let last = "";
  while (Date.now() < deadline) {
    try {
      const health = await fetch(`${url}/healthz`);
      if (health.ok) {
        const signIn = await fetch(`${url}/auth/sign-in`, {
          method: "POST",
          redirect: "manual",
          headers: { Origin: url, "Content-Type": "application/x-www-form-urlencoded" },
          body: "email=ada%40demo.authwatch&password=demo-admin-password&next=%2F",
        });
        const cookie = (signIn.headers.get("set-cookie") ?? "").split(";")[0];
        const page = await (await fetch(`${url}/`, { headers: { Cookie: cookie }, redirect: "manual" })).text();
        if (page.includes('data-account="acme_travel"') && page.includes('class="needs-you"')) return;
        last = cookie ? "demo accounts or prompts not ready yet" : `sign-in answered HTTP ${signIn.status}`;
      } else {
        last = `HTTP ${health.status}`;
      }
    } catch (e) {
      last = String(e);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`authwatch was not ready at ${url} within 120 s (last: ${last})`);
}
