import "server-only";
import { and, desc, eq } from "drizzle-orm";
import { getDb } from "@/db/handle";
import { pods } from "@/db/schema";
import { normalizeName } from "@/lib/core/names";
import { newId } from "./ids";
import { fail, ok, type DalResult } from "./result";

export type PodStatus = (typeof pods.$inferSelect)["status"];
export type PodDto = { id: string; name: string; status: PodStatus; createdAt: Date };

const podColumns = { id: pods.id, name: pods.name, status: pods.status, createdAt: pods.createdAt };
const NOT_FOUND = "Pod not found.";

/** The account's pods, newest first (terminated ones included: they stay on record). */
export async function listPods(accountId: string): Promise<PodDto[]> {
  const db = await getDb();
  return db
    .select(podColumns)
    .from(pods)
    .where(eq(pods.accountId, accountId))
    .orderBy(desc(pods.createdAt), desc(pods.id));
}

/** A new pod is RUNNING. The name is normalised by lib/core/names.ts, or refused. */
export async function createPod(accountId: string, rawName: string, now = new Date()): Promise<DalResult<PodDto>> {
  const checked = normalizeName(rawName);
  if (!checked.ok) return fail("BAD_REQUEST", checked.message);
  const name = checked.name;
  const db = await getDb();
  const [row] = await db
    .insert(pods)
    .values({ id: newId(), accountId, name, status: "RUNNING", createdAt: now })
    .returning(podColumns);
  return row ? ok(row) : fail("BAD_REQUEST", "The pod could not be created.");
}

/** Idempotent for the account's own pod; another account's id is NOT_FOUND, like an unknown one. */
export async function terminatePod(accountId: string, podId: string): Promise<DalResult<PodDto>> {
  const db = await getDb();
  const [row] = await db
    .update(pods)
    .set({ status: "TERMINATED" })
    .where(and(eq(pods.id, podId), eq(pods.accountId, accountId)))
    .returning(podColumns);
  return row ? ok(row) : fail("NOT_FOUND", NOT_FOUND);
}
