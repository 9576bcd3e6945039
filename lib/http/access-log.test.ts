import "@/testing/test-database";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAccount } from "@/lib/dal/accounts";
import { createScopedApiKey } from "@/lib/dal/api-keys";
import { createEndpoint } from "@/lib/dal/endpoints";
import { removeTestDatabase } from "@/testing/test-database";
import { hashKey } from "@/lib/core/keys/hash";
import { withAccessLog } from "./access-log";
import { handleEndpointApi } from "./endpoint-api";
import { createGraphqlHandler } from "./graphql/handler";

let key = "";
let keyId = "";
let endpointId = "";

beforeAll(async () => {
  const account = await createAccount("logs@example.com", "long enough password");
  if (!account.ok) throw new Error(account.message);
  const endpoint = await createEndpoint(account.value.id, "logged", { type: "dashboard" });
  if (!endpoint.ok) throw new Error(endpoint.message);
  endpointId = endpoint.value.id;
  const created = await createScopedApiKey(account.value.id, { name: "logged", scopes: { graphql: "read", endpointsAll: "read", endpoints: {} } }, { type: "dashboard" });
  if (!created.ok) throw new Error(created.message);
  key = created.value.plaintext;
  keyId = created.value.key.id;
});
afterAll(removeTestDatabase);

describe("access log", () => {
  it("names the key id for allowed and denied requests, never the key or its hash", async () => {
    const lines: string[] = [];
    const endpoint = withAccessLog(handleEndpointApi, (line) => lines.push(line));
    const graphql = withAccessLog(createGraphqlHandler(), (line) => lines.push(line));
    const auth = { authorization: `Bearer ${key}` };
    await endpoint(new Request(`http://test/v2/${endpointId}/health?wait=1`, { headers: auth }));
    await endpoint(new Request(`http://test/v2/${endpointId}/run`, { method: "POST", headers: auth, body: '{"input":1}' }));
    await endpoint(new Request(`http://test/v2/${endpointId}/health`, { headers: { authorization: `Bearer ${key.slice(0, -1)}${key.endsWith("x") ? "y" : "x"}` } }));
    await graphql(new Request("http://test/graphql", { method: "POST", headers: { ...auth, "content-type": "application/json" }, body: '{"query":"{ myself { id } }"}' }));

    expect(lines).toHaveLength(4);
    expect(lines[0]).toMatch(new RegExp(`^api GET /v2/${endpointId}/health 200 key=${keyId} \\d+\\.\\dms$`));
    expect(lines[1]).toMatch(new RegExp(`^api POST /v2/${endpointId}/run 403 key=${keyId} `));
    expect(lines[2]).toMatch(new RegExp(`^api GET /v2/${endpointId}/health 401 key=- `));
    expect(lines[3]).toMatch(new RegExp(`^api POST /graphql 200 key=${keyId} `));
    const all = lines.join("\n");
    expect(all).not.toContain(key);
    expect(all).not.toContain(key.slice(4, 34));
    expect(all).not.toContain(hashKey(key));
    expect(all).not.toContain("wait=");
  });
});
