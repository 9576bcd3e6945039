import "server-only";
import { and, desc, eq } from "drizzle-orm";
import { getDb } from "@/db/client";
import { endpoints } from "@/db/schema";
import { newId } from "./ids";
import { fail, ok, type DalResult } from "./result";

export type EndpointDto = { id: string; name: string; createdAt: Date };

const endpointColumns = { id: endpoints.id, name: endpoints.name, createdAt: endpoints.createdAt };
const NOT_FOUND = "Endpoint not found.";

export async function listEndpoints(accountId: string): Promise<EndpointDto[]> {
  const db = await getDb();
  return db
    .select(endpointColumns)
    .from(endpoints)
    .where(eq(endpoints.accountId, accountId))
    .orderBy(desc(endpoints.createdAt), desc(endpoints.id));
}

/** `name` must already be validated (lib/names.ts). */
export async function createEndpoint(accountId: string, name: string, now = new Date()): Promise<DalResult<EndpointDto>> {
  const db = await getDb();
  const [row] = await db
    .insert(endpoints)
    .values({ id: newId(), accountId, name, createdAt: now })
    .returning(endpointColumns);
  return row ? ok(row) : fail("BAD_REQUEST", "The endpoint could not be created.");
}

export async function renameEndpoint(accountId: string, endpointId: string, name: string): Promise<DalResult<EndpointDto>> {
  const db = await getDb();
  const [row] = await db
    .update(endpoints)
    .set({ name })
    .where(and(eq(endpoints.id, endpointId), eq(endpoints.accountId, accountId)))
    .returning(endpointColumns);
  return row ? ok(row) : fail("NOT_FOUND", NOT_FOUND);
}

/** Also removes every key's override for this endpoint (foreign key cascade). */
export async function deleteEndpoint(accountId: string, endpointId: string): Promise<DalResult<{ id: string }>> {
  const db = await getDb();
  const [row] = await db
    .delete(endpoints)
    .where(and(eq(endpoints.id, endpointId), eq(endpoints.accountId, accountId)))
    .returning({ id: endpoints.id });
  return row ? ok(row) : fail("NOT_FOUND", NOT_FOUND);
}

/** The account's own endpoint, or null: another account's id reads exactly like an unknown one. */
export async function getEndpoint(accountId: string, endpointId: string): Promise<EndpointDto | null> {
  const db = await getDb();
  const [row] = await db
    .select(endpointColumns)
    .from(endpoints)
    .where(and(eq(endpoints.id, endpointId), eq(endpoints.accountId, accountId)))
    .limit(1);
  return row ?? null;
}
