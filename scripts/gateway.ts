// npm run start:gateway — the standalone data plane (SPEC §4): the endpoint API, GraphQL API and
// verify API on GATEWAY_HOST:GATEWAY_PORT (default 127.0.0.1:3001), on the same database and with
// the same decisions as the Next.js app.
import { getDataPlane } from "@/lib/server/data-plane";
import { readEnv } from "@/lib/env";
import { createGatewayServer } from "@/lib/http/gateway";

async function main() {
  const env = readEnv();
  const plane = await getDataPlane(); // creates and migrates the database before listening
  const server = createGatewayServer();
  server.keepAliveTimeout = 65_000;
  server.listen(env.GATEWAY_PORT, env.GATEWAY_HOST, () => {
    const address = server.address();
    const port = typeof address === "object" && address ? address.port : env.GATEWAY_PORT;
    console.log(`Keyscope gateway listening on http://${env.GATEWAY_HOST}:${port}`);
  });

  let stopping = false;
  const stop = async (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    console.log(`${signal}: flushing last-used dates and usage counts, stopping`);
    server.close();
    server.closeIdleConnections();
    plane.worker.stop();
    plane.usage.stop();
    await plane.usage.flush();
    // What the usage counting wrote, for operators and for `npm run bench` (one transaction per interval).
    const { decisions, flushes, statements, failures } = plane.usage.stats;
    console.log(`usage: ${decisions} decisions counted, ${flushes} flushes, ${statements} statements, ${failures} failed`);
    process.exit(0);
  };
  process.on("SIGTERM", (signal) => void stop(signal));
  process.on("SIGINT", (signal) => void stop(signal));
}

main().catch((error) => {
  console.error(`gateway failed to start: ${error instanceof Error ? error.message : error}`);
  process.exit(1);
});
