import { rawRows, removeTestDatabase, uniqueEmail } from "@/testing/test-database";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAccount, findAccountById, normalizeEmail, verifyAccountCredentials, verifyAccountPassword } from "./accounts";

afterAll(removeTestDatabase);

const PASSWORD = "correct horse battery staple";

// Since SPEC §11 the person who signs in is a user, who owns the team sign-up makes.
async function accountRow(id: string) {
  const [row] = await rawRows("SELECT * FROM accounts WHERE id = ?", [id]);
  return row;
}

async function userRow(id: string) {
  const [row] = await rawRows("SELECT * FROM users WHERE id = ?", [id]);
  return row;
}

/** Every row sign-up writes, to prove a refused one wrote nothing. */
async function signUpRows() {
  return [await rawRows("SELECT * FROM accounts ORDER BY id"), await rawRows("SELECT * FROM users ORDER BY id"), await rawRows("SELECT * FROM memberships ORDER BY account_id, user_id")];
}

describe("normalizeEmail", () => {
  it.each([
    ["Alice@Example.COM", "alice@example.com"],
    ["  bob@example.com\t\n", "bob@example.com"],
    [" MiXeD@CaSe.Org ", "mixed@case.org"],
    ["already@lower.case", "already@lower.case"],
  ])("%j → %j", (input, expected) => {
    expect(normalizeEmail(input)).toBe(expected);
  });
});

describe("createAccount", () => {
  it("stores the email trimmed and lower-cased, and returns a DTO without the hash", async () => {
    const now = new Date("2024-05-06T07:08:09.123Z");
    const result = await createAccount("  New.User@Example.COM ", PASSWORD, now);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.value).toEqual({ id: expect.any(String), email: "new.user@example.com", createdAt: now, userId: expect.any(String), role: "owner" });
    expect(Object.keys(result.value).sort()).toEqual(["createdAt", "email", "id", "role", "userId"]);

    const user = await userRow(result.value.userId);
    expect(user?.email).toBe("new.user@example.com");
    expect(user?.created_at).toBe(now.getTime());
    // The team sign-up makes, named by the email, with its user as owner.
    const team = await accountRow(result.value.id);
    expect(team?.email).toBe("new.user@example.com");
    expect(team?.created_at).toBe(now.getTime());
    expect(await rawRows("SELECT user_id, role, created_at FROM memberships WHERE account_id = ?", [result.value.id])).toEqual([
      { user_id: result.value.userId, role: "owner", created_at: now.getTime() },
    ]);
  });

  it("stores an argon2id hash, never the password", async () => {
    const result = await createAccount(uniqueEmail(), PASSWORD);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const row = await userRow(result.value.userId);
    const passwordHash = String(row?.password_hash);
    expect(passwordHash.startsWith("$argon2id$")).toBe(true);
    expect(passwordHash).not.toContain(PASSWORD);
    for (const value of Object.values(row ?? {})) expect(String(value)).not.toContain(PASSWORD);
    for (const value of Object.values((await accountRow(result.value.id)) ?? {})) expect(String(value)).not.toContain(PASSWORD);
  });

  it("salts: the same password gives two different hashes", async () => {
    const a = await createAccount(uniqueEmail(), PASSWORD);
    const b = await createAccount(uniqueEmail(), PASSWORD);
    if (!a.ok || !b.ok) throw new Error("setup failed");
    const [rowA, rowB] = [await userRow(a.value.userId), await userRow(b.value.userId)];
    expect(rowA?.password_hash).not.toBe(rowB?.password_hash);
  });

  it.each([
    ["exact same spelling", "dup@example.com"],
    ["different case", "DUP@Example.Com"],
    ["surrounding whitespace", "  dup@example.com  "],
  ])("refuses a duplicate email (%s) with CONFLICT and writes nothing", async (_label, duplicate) => {
    // The first creation only succeeds once; the later cases find it already there.
    await createAccount("dup@example.com", PASSWORD);
    const before = await signUpRows();

    const result = await createAccount(duplicate, "another password");
    expect(result).toEqual({ ok: false, code: "CONFLICT", message: expect.any(String) });

    expect(await signUpRows()).toEqual(before);
    // The original password still works and the new one does not.
    expect(await verifyAccountCredentials("dup@example.com", PASSWORD)).not.toBeNull();
    expect(await verifyAccountCredentials("dup@example.com", "another password")).toBeNull();
  });
});

describe("verifyAccountCredentials", () => {
  const email = uniqueEmail("verify");
  let userId = "";

  beforeAll(async () => {
    const result = await createAccount(email, PASSWORD);
    if (!result.ok) throw new Error("setup failed");
    userId = result.value.userId;
  });

  it.each([
    ["right password", email, PASSWORD, true],
    ["right password, email in another case and padded", `  ${email.toUpperCase()} `, PASSWORD, true],
    ["wrong password", email, "wrong password", false],
    ["password in another case", email, PASSWORD.toUpperCase(), false],
    ["empty password", email, "", false],
    ["unknown email", uniqueEmail("nobody"), PASSWORD, false],
    ["empty email", "", PASSWORD, false],
  ] as const)("%s", async (_label, presentedEmail, password, matches) => {
    const account = await verifyAccountCredentials(presentedEmail, password);
    if (matches) {
      expect(account).toEqual({ id: userId, email, sessionVersion: 0 });
      expect(account).not.toHaveProperty("passwordHash");
    } else {
      expect(account).toBeNull();
    }
  });

  it("does not let one account's password sign in to another", async () => {
    const other = await createAccount(uniqueEmail("other"), "other account password");
    if (!other.ok) throw new Error("setup failed");
    expect(await verifyAccountCredentials(email, "other account password")).toBeNull();
    expect(await verifyAccountCredentials(other.value.email, PASSWORD)).toBeNull();
  });
});

describe("verifyAccountPassword", () => {
  let accountId = "";
  let otherId = "";

  beforeAll(async () => {
    const [account, other] = await Promise.all([createAccount(uniqueEmail("again"), PASSWORD), createAccount(uniqueEmail("again-other"), "other account password")]);
    if (!account.ok || !other.ok) throw new Error("setup failed");
    accountId = account.value.userId;
    otherId = other.value.userId;
  });

  it.each<[string, () => string, string, boolean]>([
    ["right password", () => accountId, PASSWORD, true],
    ["wrong password", () => accountId, "wrong password", false],
    ["password in another case", () => accountId, PASSWORD.toUpperCase(), false],
    ["password with a trailing space", () => accountId, `${PASSWORD} `, false],
    ["empty password", () => accountId, "", false],
    ["another account's password", () => accountId, "other account password", false],
    ["the right password for another account", () => otherId, PASSWORD, false],
    ["unknown account", () => "nosuchaccount000", PASSWORD, false],
    ["empty account id", () => "", PASSWORD, false],
  ])("%s", async (_label, idOf, password, matches) => {
    expect(await verifyAccountPassword(idOf(), password)).toBe(matches);
  });

  it("is false once the user is deleted", async () => {
    const created = await createAccount(uniqueEmail("deleted"), PASSWORD);
    if (!created.ok) throw new Error("setup failed");
    expect(await verifyAccountPassword(created.value.userId, PASSWORD)).toBe(true);
    await rawRows("DELETE FROM users WHERE id = ?", [created.value.userId]);
    expect(await verifyAccountPassword(created.value.userId, PASSWORD)).toBe(false);
  });
});

describe("findAccountById", () => {
  it("returns the account DTO, without the hash", async () => {
    const created = await createAccount(uniqueEmail("find"), PASSWORD);
    if (!created.ok) throw new Error("setup failed");
    const found = await findAccountById(created.value.id);
    // The team: its id, the email it is named by, and when it was made.
    expect(found).toEqual({ id: created.value.id, email: created.value.email, createdAt: created.value.createdAt });
    expect(found).not.toHaveProperty("passwordHash");
  });

  it.each([["unknown id", "nosuchaccount000"], ["empty id", ""], ["an email instead of an id", "find-1@example.test"]])(
    "returns null for %s",
    async (_label, id) => {
      expect(await findAccountById(id)).toBeNull();
    },
  );

  it("returns null once the account is deleted (a stale session does nothing)", async () => {
    const created = await createAccount(uniqueEmail("gone"), PASSWORD);
    if (!created.ok) throw new Error("setup failed");
    await rawRows("DELETE FROM accounts WHERE id = ?", [created.value.id]);
    expect(await findAccountById(created.value.id)).toBeNull();
  });
});
