import "server-only";
import { hash, verify } from "@node-rs/argon2";
import { and, eq, sql } from "drizzle-orm";
import { getDb } from "@/db/handle";
import { accounts } from "@/db/schema";
import { newId } from "./ids";
import { fail, ok, type DalResult } from "./result";

export type AccountDto = { id: string; email: string; createdAt: Date };
/** A signed-in account and the session version its new session cookie records. */
export type SignInAccount = AccountDto & { sessionVersion: number };

const accountColumns = { id: accounts.id, email: accounts.email, createdAt: accounts.createdAt };

export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

// argon2id with the library's defaults (19 MiB, t=2: the OWASP baseline), run off the event loop.
// Verified against for unknown emails, so that a miss costs as much time as a wrong password.
let dummyHash: Promise<string> | undefined;
const getDummyHash = () => (dummyHash ??= hash("keyscope-timing-equaliser"));

export async function createAccount(email: string, password: string, now = new Date()): Promise<DalResult<AccountDto>> {
  const db = await getDb();
  const normalized = normalizeEmail(email);
  const passwordHash = await hash(password);
  const rows = await db
    .insert(accounts)
    .values({ id: newId(), email: normalized, passwordHash, createdAt: now })
    .onConflictDoNothing({ target: accounts.email })
    .returning(accountColumns);
  const row = rows[0];
  if (!row) return fail("CONFLICT", "An account with this email already exists.");
  return ok(row);
}

/** The account whose password matches, or null; takes about as long whether or not the email exists. */
export async function verifyAccountCredentials(email: string, password: string): Promise<SignInAccount | null> {
  const db = await getDb();
  const rows = await db
    .select({ ...accountColumns, passwordHash: accounts.passwordHash, sessionVersion: accounts.sessionVersion })
    .from(accounts)
    .where(eq(accounts.email, normalizeEmail(email)))
    .limit(1);
  const row = rows[0];
  if (!row) {
    await verify(await getDummyHash(), password).catch(() => false);
    return null;
  }
  const matches = await verify(row.passwordHash, password).catch(() => false);
  if (!matches) return null;
  return { id: row.id, email: row.email, createdAt: row.createdAt, sessionVersion: row.sessionVersion };
}

/**
 * Whether `password` is the account's own (elevation asks for it again, SPEC §8). Takes as long
 * for a deleted account as for a wrong password.
 */
export async function verifyAccountPassword(accountId: string, password: string): Promise<boolean> {
  const db = await getDb();
  const [row] = await db.select({ passwordHash: accounts.passwordHash }).from(accounts).where(eq(accounts.id, accountId)).limit(1);
  if (!row) {
    await verify(await getDummyHash(), password).catch(() => false);
    return false;
  }
  return verify(row.passwordHash, password).catch(() => false);
}

/** The account by id, or null once it is deleted. Sessions use findAccountForSession. */
export async function findAccountById(accountId: string): Promise<AccountDto | null> {
  const db = await getDb();
  const rows = await db.select(accountColumns).from(accounts).where(eq(accounts.id, accountId)).limit(1);
  return rows[0] ?? null;
}

/**
 * The account a session cookie names, if the cookie is still good: the account exists and the
 * session version the cookie was issued at is still the row's. One query, since it runs on every
 * request; a cookie from an ended session (or a deleted account) gets null.
 */
export async function findAccountForSession(accountId: string, sessionVersion: number): Promise<AccountDto | null> {
  const db = await getDb();
  const rows = await db
    .select(accountColumns)
    .from(accounts)
    .where(and(eq(accounts.id, accountId), eq(accounts.sessionVersion, sessionVersion)))
    .limit(1);
  return rows[0] ?? null;
}

/**
 * Ends every session of the account by moving its session version on: all cookies issued so far
 * carry an older version and are refused from now on. There is one version per account, so this
 * signs out every browser, not just the one asking (sign-out, and later password change).
 */
export async function endAccountSessions(accountId: string): Promise<DalResult<{ sessionVersion: number }>> {
  const db = await getDb();
  const rows = await db
    .update(accounts)
    .set({ sessionVersion: sql`${accounts.sessionVersion} + 1` })
    .where(eq(accounts.id, accountId))
    .returning({ sessionVersion: accounts.sessionVersion });
  const row = rows[0];
  if (!row) return fail("NOT_FOUND", "Account not found.");
  return ok(row);
}

/** For operator scripts (legacy import) that name an account by email. */
export async function findAccountByEmail(email: string): Promise<AccountDto | null> {
  const db = await getDb();
  const rows = await db.select(accountColumns).from(accounts).where(eq(accounts.email, normalizeEmail(email))).limit(1);
  return rows[0] ?? null;
}
