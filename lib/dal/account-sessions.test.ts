import { rawRows, removeTestDatabase, uniqueEmail } from "@/testing/test-database";
import { afterAll, describe, expect, it } from "vitest";
import { createAccount, endAccountSessions, findAccountForSession, verifyAccountCredentials, type MemberDto } from "./accounts";

afterAll(removeTestDatabase);

const PASSWORD = "correct horse battery staple";

// Sessions are the user's (SPEC §11): one version per user, whichever team they work in.
async function newAccount(label: string): Promise<MemberDto> {
  const created = await createAccount(uniqueEmail(label), PASSWORD);
  if (!created.ok) throw new Error("setup failed");
  return created.value;
}

async function storedVersion(userId: string): Promise<number> {
  const [row] = await rawRows("SELECT session_version FROM users WHERE id = ?", [userId]);
  return Number(row?.session_version);
}

describe("endAccountSessions", () => {
  it("starts new accounts at version 0 and moves the version on by one per call", async () => {
    const account = await newAccount("bump");
    expect(await storedVersion(account.userId)).toBe(0);
    expect(await endAccountSessions(account.userId)).toEqual({ ok: true, value: { sessionVersion: 1 } });
    expect(await endAccountSessions(account.userId)).toEqual({ ok: true, value: { sessionVersion: 2 } });
    expect(await storedVersion(account.userId)).toBe(2);
  });

  it("the next sign-in records the moved-on version", async () => {
    const account = await newAccount("resign");
    await endAccountSessions(account.userId);
    expect(await verifyAccountCredentials(account.email, PASSWORD)).toMatchObject({ id: account.userId, sessionVersion: 1 });
  });

  it("touches only the given account: ending A's sessions leaves B's version and B's session alone", async () => {
    const a = await newAccount("a");
    const b = await newAccount("b");
    await endAccountSessions(b.userId);
    const before = await rawRows("SELECT * FROM users WHERE id != ? ORDER BY id", [a.userId]);

    expect((await endAccountSessions(a.userId)).ok).toBe(true);

    expect(await rawRows("SELECT * FROM users WHERE id != ? ORDER BY id", [a.userId])).toEqual(before);
    expect(await findAccountForSession(b.userId, 1)).toEqual(b);
    expect(await findAccountForSession(a.userId, 0)).toBeNull();
  });

  it.each([["unknown id", "nosuchaccount000"], ["empty id", ""]])("answers NOT_FOUND for %s and changes nothing", async (_label, id) => {
    await newAccount("bystander");
    const before = await rawRows("SELECT * FROM users ORDER BY id");
    expect(await endAccountSessions(id)).toEqual({ ok: false, code: "NOT_FOUND", message: expect.any(String) });
    expect(await rawRows("SELECT * FROM users ORDER BY id")).toEqual(before);
  });
});

describe("findAccountForSession", () => {
  it("accepts only the current version: older and newer ones are refused", async () => {
    const account = await newAccount("check");
    await endAccountSessions(account.userId);
    await endAccountSessions(account.userId);
    // The row is at version 2 now.
    const cases: [number, boolean][] = [
      [0, false],
      [1, false],
      [2, true],
      [3, false],
      [-1, false],
    ];
    for (const [version, accepted] of cases) {
      const found = await findAccountForSession(account.userId, version);
      expect(found, `version ${version}`).toEqual(accepted ? account : null);
    }
  });

  it("a cookie from before sign-out stops working; one from after it works", async () => {
    const account = await newAccount("signout");
    const issuedBefore = (await verifyAccountCredentials(account.email, PASSWORD))!.sessionVersion;
    expect(await findAccountForSession(account.userId, issuedBefore)).toEqual(account);

    await endAccountSessions(account.userId);

    expect(await findAccountForSession(account.userId, issuedBefore)).toBeNull();
    const issuedAfter = (await verifyAccountCredentials(account.email, PASSWORD))!.sessionVersion;
    expect(await findAccountForSession(account.userId, issuedAfter)).toEqual(account);
  });

  it("returns the DTO only, never the hash or the version", async () => {
    const account = await newAccount("dto");
    const found = await findAccountForSession(account.userId, 0);
    expect(Object.keys(found ?? {}).sort()).toEqual(["createdAt", "email", "id", "role", "userId"]);
  });

  it("each account's version is its own: another account's current version does not pass", async () => {
    const a = await newAccount("cross-a");
    const b = await newAccount("cross-b");
    await endAccountSessions(b.userId);
    expect(await findAccountForSession(a.userId, 1)).toBeNull();
    expect(await findAccountForSession(b.userId, 0)).toBeNull();
  });

  it.each([["unknown id", "nosuchaccount000"], ["empty id", ""]])("returns null for %s", async (_label, id) => {
    expect(await findAccountForSession(id, 0)).toBeNull();
  });

  it("returns null once the account (its team) is deleted: the user is in no team", async () => {
    const account = await newAccount("gone");
    await rawRows("DELETE FROM accounts WHERE id = ?", [account.id]);
    expect(await findAccountForSession(account.userId, 0)).toBeNull();
  });

  it("returns null once the user is deleted", async () => {
    const account = await newAccount("gone-user");
    await rawRows("DELETE FROM users WHERE id = ?", [account.userId]);
    expect(await findAccountForSession(account.userId, 0)).toBeNull();
  });
});
