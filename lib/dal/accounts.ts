import "server-only";
import { hash, verify } from "@node-rs/argon2";
import { and, asc, eq, sql } from "drizzle-orm";
import { getDb } from "@/db/handle";
import { accounts, memberships, users } from "@/db/schema";
import type { TeamRole } from "@/lib/core/teams/roles";
import { newId } from "./ids";
import { fail, ok, type DalResult } from "./result";
import { runWriteBatch } from "./write-batch";

/**
 * A team as its members see it (SPEC §11; an "account" in §1–§10): `id` is the team's, which
 * every DAL query is scoped by. In a session, `userId`, `email` and `role` are the signed-in
 * member's (AccountDto's `email` is the user's own).
 */
export type AccountDto = { id: string; email: string; createdAt: Date };
/** The signed-in user in one of their teams: what pages and actions get. */
export type MemberDto = AccountDto & { userId: string; role: TeamRole };
/** A signed-in user and the session version their new session cookie records. */
export type SignInUser = { id: string; email: string; sessionVersion: number };

const accountColumns = { id: accounts.id, email: accounts.email, createdAt: accounts.createdAt };

export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

// argon2id with the library's defaults (19 MiB, t=2: the OWASP baseline), run off the event loop.
// Verified against for unknown emails, so that a miss costs as much time as a wrong password.
let dummyHash: Promise<string> | undefined;
const getDummyHash = () => (dummyHash ??= hash("keyscope-timing-equaliser"));

/**
 * Sign-up (SPEC §11): the user and a team of which they are the owner, in one batch. The team
 * carries the user's email as its name. Answers the team (as every caller scopes by it).
 */
export async function createAccount(email: string, password: string, now = new Date()): Promise<DalResult<MemberDto>> {
  const db = await getDb();
  const normalized = normalizeEmail(email);
  const passwordHash = await hash(password);
  const userId = newId();
  const teamId = newId();
  const [insertedUsers] = await runWriteBatch(db, [
    db.insert(users).values({ id: userId, email: normalized, passwordHash, createdAt: now }).onConflictDoNothing({ target: users.email }),
    // Only when the user was inserted just now (a taken email inserts nothing here either).
    db.insert(accounts).select(
      db
        .select({ id: sql<string>`${teamId}`.as("id"), email: users.email, passwordHash: sql<string>`'!'`.as("password_hash"), sessionVersion: sql<number>`0`.as("session_version"), createdAt: users.createdAt })
        .from(users)
        .where(eq(users.id, userId)),
    ),
    db.insert(memberships).select(
      db
        .select({ accountId: sql<string>`${teamId}`.as("account_id"), userId: users.id, role: sql<TeamRole>`'owner'`.as("role"), createdAt: users.createdAt })
        .from(users)
        .where(eq(users.id, userId)),
    ),
  ]);
  if (!insertedUsers) return fail("CONFLICT", "An account with this email already exists.");
  return ok({ id: teamId, email: normalized, createdAt: now, userId, role: "owner" });
}

/** The user whose password matches, or null; takes about as long whether or not the email exists. */
export async function verifyAccountCredentials(email: string, password: string): Promise<SignInUser | null> {
  const db = await getDb();
  const rows = await db
    .select({ id: users.id, email: users.email, passwordHash: users.passwordHash, sessionVersion: users.sessionVersion })
    .from(users)
    .where(eq(users.email, normalizeEmail(email)))
    .limit(1);
  const row = rows[0];
  if (!row) {
    await verify(await getDummyHash(), password).catch(() => false);
    return null;
  }
  const matches = await verify(row.passwordHash, password).catch(() => false);
  if (!matches) return null;
  return { id: row.id, email: row.email, sessionVersion: row.sessionVersion };
}

/**
 * Whether `password` is the user's own (elevation asks for it again, SPEC §8). Takes as long
 * for a deleted user as for a wrong password.
 */
export async function verifyAccountPassword(userId: string, password: string): Promise<boolean> {
  const db = await getDb();
  const [row] = await db.select({ passwordHash: users.passwordHash }).from(users).where(eq(users.id, userId)).limit(1);
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
 * The member a session cookie names, if the cookie is still good: the user exists, the session
 * version the cookie was issued at is still the user's, and they are in a team — `teamId` (the
 * team they switched to) if they are still in it, else their first team. One query, since it runs
 * on every request; null otherwise.
 */
export async function findAccountForSession(userId: string, sessionVersion: number, teamId: string | null = null): Promise<MemberDto | null> {
  const db = await getDb();
  const rows = await db
    .select({ ...accountColumns, userId: users.id, userEmail: users.email, role: memberships.role })
    .from(users)
    .innerJoin(memberships, eq(memberships.userId, users.id))
    .innerJoin(accounts, eq(accounts.id, memberships.accountId))
    .where(and(eq(users.id, userId), eq(users.sessionVersion, sessionVersion)))
    // The chosen team first, then the oldest membership.
    .orderBy(sql`${memberships.accountId} IS NOT ${teamId}`, asc(memberships.createdAt), asc(memberships.accountId))
    .limit(1);
  const row = rows[0];
  return row ? { id: row.id, email: row.userEmail, createdAt: row.createdAt, userId: row.userId, role: row.role } : null;
}

/**
 * Ends every session of the user by moving their session version on: all cookies issued so far
 * carry an older version and are refused from now on. There is one version per user, so this
 * signs out every browser, not just the one asking.
 */
export async function endAccountSessions(userId: string): Promise<DalResult<{ sessionVersion: number }>> {
  const db = await getDb();
  const rows = await db
    .update(users)
    .set({ sessionVersion: sql`${users.sessionVersion} + 1` })
    .where(eq(users.id, userId))
    .returning({ sessionVersion: users.sessionVersion });
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
