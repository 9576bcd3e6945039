// The soak suite's server: the standalone gateway (as `npm run start:gateway` runs it), which also
// performs dashboard writes through the DAL when its parent asks over IPC — so that one process
// serves both database paths while its file descriptors and memory are watched.
//
// IPC in: {op: "dal", id, count, accountId, endpointIds} | {op: "gc", id}; out: {id, ok, error?}.

import { getDataPlane } from "@/lib/server/data-plane";
import { createScopedApiKey, deleteApiKey, listApiKeys, setApiKeyEnabled, updateApiKeyScopes } from "@/lib/dal/api-keys";
import { createEndpoint, deleteEndpoint, renameEndpoint } from "@/lib/dal/endpoints";
import { readEnv } from "@/lib/env";
import { createGatewayServer } from "@/lib/http/gateway";

type Request = { op: "dal"; id: number; count: number; accountId: string; endpointIds: string[] } | { op: "gc"; id: number };

/** One dashboard change per step, cycling through every kind of write; each key is deleted again. */
async function dashboardWrites(accountId: string, endpointIds: string[], count: number): Promise<void> {
  for (let done = 0; done < count; ) {
    const endpointId = endpointIds[done % endpointIds.length]!;
    const created = await createScopedApiKey(accountId, { name: "soak", scopes: { graphql: "read", endpointsAll: "none", endpoints: { [endpointId]: "read_write" } } }, { type: "dashboard" });
    if (!created.ok) throw new Error(`create: ${created.code}`);
    const id = created.value.key.id;
    const steps = [
      () => updateApiKeyScopes(accountId, id, { graphql: "none", endpointsAll: "read", endpoints: {} }, { type: "dashboard" }),
      () => setApiKeyEnabled(accountId, id, false, { type: "dashboard" }),
      () => listApiKeys(accountId).then(() => ({ ok: true })),
      () => deleteApiKey(accountId, id, { type: "dashboard" }),
    ];
    done += 1;
    for (const step of steps) {
      if (done >= count) break;
      const result = await step();
      if (!result.ok) throw new Error("dashboard write refused");
      done += 1;
    }
    if (done < count && done % 50 === 0) {
      const endpoint = await createEndpoint(accountId, "soak-endpoint", { type: "dashboard" });
      if (!endpoint.ok) throw new Error("endpoint");
      await renameEndpoint(accountId, endpoint.value.id, "soak-renamed", { type: "dashboard" });
      await deleteEndpoint(accountId, endpoint.value.id, { type: "dashboard" });
      done += 3;
    }
  }
}

async function main() {
  const env = readEnv();
  await getDataPlane();
  const server = createGatewayServer();
  server.keepAliveTimeout = 65_000;
  server.listen(env.GATEWAY_PORT, env.GATEWAY_HOST);
  process.on("message", (message: Request) => {
    const answer = (body: Record<string, unknown>) => process.send?.({ id: message.id, ...body });
    if (message.op === "gc") {
      (globalThis as { gc?: () => void }).gc?.();
      answer({ ok: true });
      return;
    }
    dashboardWrites(message.accountId, message.endpointIds, message.count).then(
      () => answer({ ok: true }),
      (error: unknown) => answer({ ok: false, error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) }),
    );
  });
  process.on("SIGTERM", () => process.exit(0));
}

main().catch((error) => {
  console.error(`soak server failed: ${error instanceof Error ? error.message : error}`);
  process.exit(1);
});
