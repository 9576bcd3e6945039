// A dashboard-like writer for the crash suite: creates keys and replaces their scopes through the
// DAL, one change at a time, in a loop, until it is killed. Each change is announced on stdout
// before it starts ("begin") and confirmed once the DAL has returned ("ack"): an acknowledged
// change is one the dashboard would have shown as saved.
//
// env: DATABASE_URL, FAULT_ACCOUNT_ID, FAULT_ENDPOINT_IDS (comma-separated), FAULT_KEY_IDS (keys of
// earlier runs it may edit, comma-separated), FAULT_LABEL (prefix of the keys' names).

import { writeSync } from "node:fs";
import { createScopedApiKey, updateApiKeyScopes } from "@/lib/dal/api-keys";
import { ACCESS_LEVELS as LEVELS, type AccessLevel } from "@/lib/core/scopes/levels";

const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)]!;

export type Scopes = { graphql: AccessLevel; endpointsAll: AccessLevel; endpoints: Record<string, AccessLevel> };
export type WriterEvent =
  | { op: "begin-create"; name: string; scopes: Scopes }
  | { op: "ack-create"; name: string; id: string; plaintext: string; scopes: Scopes }
  | { op: "begin-edit"; id: string; scopes: Scopes }
  | { op: "ack-edit"; id: string; scopes: Scopes }
  | { op: "refused"; reason: string };

function emit(event: WriterEvent): void {
  // Synchronous: the line is out before the next change starts.
  writeSync(1, JSON.stringify(event) + "\n");
}

function randomScopes(endpointIds: string[]): Scopes {
  const endpoints: Record<string, AccessLevel> = {};
  // Many overrides per key, so that a torn write would show as a partial set.
  for (const id of endpointIds) if (Math.random() < 0.6) endpoints[id] = pick(LEVELS);
  return { graphql: pick(LEVELS), endpointsAll: pick(LEVELS), endpoints };
}

async function main() {
  const accountId = process.env.FAULT_ACCOUNT_ID!;
  const endpointIds = process.env.FAULT_ENDPOINT_IDS!.split(",");
  const keyIds = (process.env.FAULT_KEY_IDS ?? "").split(",").filter(Boolean);
  const label = process.env.FAULT_LABEL ?? "crash";
  for (let n = 0; ; n += 1) {
    const scopes = randomScopes(endpointIds);
    if (keyIds.length < 3 || Math.random() < 0.5) {
      const name = `${label}-${n}`;
      emit({ op: "begin-create", name, scopes });
      const result = await createScopedApiKey(accountId, { name, scopes }, { type: "dashboard" });
      if (!result.ok) {
        emit({ op: "refused", reason: result.code });
        continue;
      }
      keyIds.push(result.value.key.id);
      emit({ op: "ack-create", name, id: result.value.key.id, plaintext: result.value.plaintext, scopes });
    } else {
      const id = pick(keyIds);
      emit({ op: "begin-edit", id, scopes });
      const result = await updateApiKeyScopes(accountId, id, scopes, { type: "dashboard" });
      if (!result.ok) {
        emit({ op: "refused", reason: result.code });
        continue;
      }
      emit({ op: "ack-edit", id, scopes });
    }
  }
}

main().catch((error) => {
  console.error(`dal-writer: ${error instanceof Error ? `${error.name}: ${error.message}` : error}`);
  process.exit(1);
});
