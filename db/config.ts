import { z } from "zod";

/** The database's part of the environment; lib/env.ts includes it, so one schema validates all. */
export const databaseEnvShape = {
  DATABASE_URL: z.string().min(1).default("file:./data/keyscope.db"),
  DATABASE_AUTH_TOKEN: z.string().min(1).optional(),
  // Short on purpose: on file databases a statement waiting for the write lock blocks the
  // event loop for up to this long (see STACK.md).
  DATABASE_BUSY_TIMEOUT_MS: z.coerce.number().int().min(0).max(60_000).default(2_000),
};

const databaseEnvSchema = z.object(databaseEnvShape);
export type DatabaseConfig = z.infer<typeof databaseEnvSchema>;

let cached: DatabaseConfig | undefined;

/** Read once per process, like lib/env.ts's readEnv. */
export function readDatabaseConfig(): DatabaseConfig {
  if (cached) return cached;
  const parsed = databaseEnvSchema.safeParse(process.env);
  if (!parsed.success) {
    const fields = parsed.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`).join("; ");
    throw new Error(`Invalid environment: ${fields}`);
  }
  cached = parsed.data;
  return cached;
}
