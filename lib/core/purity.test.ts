import { ESLint } from "eslint";
import { beforeAll, describe, expect, it } from "vitest";

// The lint rule that keeps lib/core pure (eslint.config.mjs): these imports in a core file fail
// `npm run lint`, and the same lines outside the core do not.
const eslint = new ESLint({ cwd: process.cwd() });

async function restrictedImports(code: string, filePath: string): Promise<number> {
  const [result] = await eslint.lintText(code, { filePath });
  return result!.messages.filter((message) => message.ruleId === "no-restricted-imports").length;
}

// The first lint loads the whole config (Next's and TypeScript's rules): seconds on a busy machine,
// past a test's default timeout, so it is done once up front with room to spare.
beforeAll(async () => {
  await restrictedImports("export const x = 1;\n", "lib/core/verify/warm-up.ts");
}, 120_000);

describe("lib/core imports only itself, zod, ipaddr.js and node built-ins", () => {
  it.each([
    'import { getDb } from "@/db/client";',
    'import { createApiKey } from "@/lib/dal/api-keys";',
    'import { apiError } from "@/lib/http/api-error";',
    'import { getDataPlane } from "@/lib/server/data-plane";',
    'import { readEnv } from "@/lib/env";',
    'import { cache } from "react";',
    'import { redirect } from "next/navigation";',
    'import "server-only";',
    'import { eq } from "drizzle-orm";',
    'import { createClient } from "@libsql/client";',
    'import { readEnv } from "../../env";',
  ])("refuses %s in a core file", async (line) => {
    expect(await restrictedImports(`${line}\nexport const x = 1;\n`, "lib/core/verify/example.ts")).toBe(1);
  });

  it.each(['import { hashKey } from "@/lib/core/keys/hash";', 'import { z } from "zod";', 'import ipaddr from "ipaddr.js";', 'import { createHash } from "node:crypto";', 'import { levelAllows } from "./levels";'])(
    "allows %s in a core file",
    async (line) => {
      expect(await restrictedImports(`${line}\nexport const x = 1;\n`, "lib/core/scopes/example.ts")).toBe(0);
    },
  );

  it("leaves files outside the core alone", async () => {
    expect(await restrictedImports('import { getDb } from "@/db/client";\nexport const x = 1;\n', "lib/dal/example.ts")).toBe(0);
  });
});
