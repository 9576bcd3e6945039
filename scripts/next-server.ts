// The Next.js app's server (`npm start`, the e2e suite, the benchmark): `next start` with the
// front door in front (lib/http/front-door.ts), the same one the gateway has. `next start` alone
// gives the app no way to know the TCP peer's address (it trusts a client's X-Forwarded-For) and
// answers a malformed path with a bare 500; here every request is admitted first.
//
// tsx scripts/next-server.ts [--port 3000] [--hostname 127.0.0.1]; PORT and HOST work too.
import { createServer } from "node:http";
import path from "node:path";
import { parseArgs } from "node:util";
import next from "next";
import { readEnv } from "@/lib/env";
import { admitRequest } from "@/lib/http/front-door";

const { values } = parseArgs({ options: { port: { type: "string" }, hostname: { type: "string" } } });
const port = Number(values.port ?? process.env.PORT ?? 3000);
const hostname = values.hostname ?? process.env.HOST ?? "127.0.0.1";
const dir = path.resolve(import.meta.dirname, "..");

async function main() {
  const frontDoor = { trustedProxies: readEnv().TRUST_PROXY };
  const app = next({ dev: false, dir, hostname, port });
  await app.prepare(); // runs instrumentation.ts: the database is migrated before we listen
  const handle = app.getRequestHandler();
  const server = createServer((req, res) => {
    if (!admitRequest(req, res, frontDoor)) return;
    handle(req, res).catch(() => {
      // Next.js answers its own errors; this is only a failure of the handler itself.
      if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
      res.end();
    });
  });
  server.listen(port, hostname, () => console.log(`Keyscope listening on http://${hostname}:${port}`));

  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    console.log(`${signal}: stopping`);
    server.close();
    server.closeIdleConnections();
    // process.exit runs the data plane's exit hook, which writes pending last-used dates.
    void app.close().finally(() => process.exit(0));
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

main().catch((error) => {
  console.error(`server failed to start: ${error instanceof Error ? error.message : error}`);
  process.exit(1);
});
