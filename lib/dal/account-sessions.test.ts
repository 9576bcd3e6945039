import { rawRows, removeTestDatabase, uniqueEmail } from "@/testing/test-database";
import { afterAll, describe, expect, it } from "vitest";
import { createAccount, endAccountSessions, findAccountForSession, verifyAccountCredentials, type AccountDto } from "./accounts";

afterAll(removeTestDatabase);

const PASSWORD = "correct horse battery staple";

async function newAccount(label: string): Promise<AccountDto> {
  const created = await createAccount(uniqueEmail(label), PASSWORD);
  if (!created.ok) throw new Error("setup failed");
  return created.value;
}

async function storedVersion(accountId: string): Promise<number> {
  const [row] = await rawRows("SELECT session_version FROM accounts WHERE id = ?", [accountId]);
  return Number(row?.session_version);
}

describe("endAccountSessions", () => {
  it("starts new accounts at version 0 and moves the version on by one per call", async () => {
    const account = await newAccount("bump");
    expect(await storedVersion(account.id)).toBe(0);
    expect(await endAccountSessions(account.id)).toEqual({ ok: true, value: { sessionVersion: 1 } });
    expect(await endAccountSessions(account.id)).toEqual({ ok: true, value: { sessionVersion: 2 } });
    expect(await storedVersion(account.id)).toBe(2);
  });

  it("the next sign-in records the moved-on version", async () => {
    const account = await newAccount("resign");
    await endAccountSessions(account.id);
    expect(await verifyAccountCredentials(account.email, PASSWORD)).toMatchObject({ id: account.id, sessionVersion: 1 });
  });

  it("touches only the given account: ending A's sessions leaves B's version and B's session alone", async () => {
    const a = await newAccount("a");
    const b = await newAccount("b");
    await endAccountSessions(b.id);
    const before = await rawRows("SELECT * FROM accounts WHERE id != ? ORDER BY id", [a.id]);

    expect((await endAccountSessions(a.id)).ok).toBe(true);

    expect(await rawRows("SELECT * FROM accounts WHERE id != ? ORDER BY id", [a.id])).toEqual(before);
    expect(await findAccountForSession(b.id, 1)).toEqual(b);
    expect(await findAccountForSession(a.id, 0)).toBeNull();
  });

  it.each([["unknown id", "nosuchaccount000"], ["empty id", ""]])("answers NOT_FOUND for %s and changes nothing", async (_label, id) => {
    await newAccount("bystander");
    const before = await rawRows("SELECT * FROM accounts ORDER BY id");
    expect(await endAccountSessions(id)).toEqual({ ok: false, code: "NOT_FOUND", message: expect.any(String) });
    expect(await rawRows("SELECT * FROM accounts ORDER BY id")).toEqual(before);
  });
});

describe("findAccountForSession", () => {
  it("accepts only the current version: older and newer ones are refused", async () => {
    const account = await newAccount("check");
    await endAccountSessions(account.id);
    await endAccountSessions(account.id);
    // The row is at version 2 now.
    const cases: [number, boolean][] = [
      [0, false],
      [1, false],
      [2, true],
      [3, false],
      [-1, false],
    ];
    for (const [version, accepted] of cases) {
      const found = await findAccountForSession(account.id, version);
      expect(found, `version ${version}`).toEqual(accepted ? account : null);
    }
  });

  it("a cookie from before sign-out stops working; one from after it works", async () => {
    const account = await newAccount("signout");
    const issuedBefore = (await verifyAccountCredentials(account.email, PASSWORD))!.sessionVersion;
    expect(await findAccountForSession(account.id, issuedBefore)).toEqual(account);

    await endAccountSessions(account.id);

    expect(await findAccountForSession(account.id, issuedBefore)).toBeNull();
    const issuedAfter = (await verifyAccountCredentials(account.email, PASSWORD))!.sessionVersion;
    expect(await findAccountForSession(account.id, issuedAfter)).toEqual(account);
  });

  it("returns the DTO only, never the hash or the version", async () => {
    const account = await newAccount("dto");
    const found = await findAccountForSession(account.id, 0);
    expect(Object.keys(found ?? {}).sort()).toEqual(["createdAt", "email", "id"]);
  });

  it("each account's version is its own: another account's current version does not pass", async () => {
    const a = await newAccount("cross-a");
    const b = await newAccount("cross-b");
    await endAccountSessions(b.id);
    expect(await findAccountForSession(a.id, 1)).toBeNull();
    expect(await findAccountForSession(b.id, 0)).toBeNull();
  });

  it.each([["unknown id", "nosuchaccount000"], ["empty id", ""]])("returns null for %s", async (_label, id) => {
    expect(await findAccountForSession(id, 0)).toBeNull();
  });

  it("returns null once the account is deleted", async () => {
    const account = await newAccount("gone");
    await rawRows("DELETE FROM accounts WHERE id = ?", [account.id]);
    expect(await findAccountForSession(account.id, 0)).toBeNull();
  });
});
