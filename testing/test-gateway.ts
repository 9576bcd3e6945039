// Test-only helper: the standalone gateway on an ephemeral 127.0.0.1 port, in this process.
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { getDataPlane } from "@/lib/server/data-plane";
import { createGatewayServer, type GatewayOptions } from "@/lib/http/gateway";

export type TestGateway = { server: Server; origin: string; port: number; close(): Promise<void> };

export async function startTestGateway(options: GatewayOptions = {}): Promise<TestGateway> {
  await getDataPlane(); // migrated and ready before the first request
  const server = createGatewayServer(undefined, options);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    port,
    origin: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
