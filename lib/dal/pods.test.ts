import { countRows, rawRows, removeTestDatabase, uniqueEmail } from "@/testing/test-database";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAccount } from "./accounts";
import { createPod, listPods, terminatePod, type PodDto } from "./pods";

afterAll(removeTestDatabase);

let accountA = "";
let accountB = "";

async function newAccount(label: string): Promise<string> {
  const result = await createAccount(uniqueEmail(label), `password-${label}-123`);
  if (!result.ok) throw new Error("setup failed");
  return result.value.id;
}

beforeAll(async () => {
  [accountA, accountB] = await Promise.all([newAccount("a"), newAccount("b")]);
});

async function newPod(accountId: string, name: string, now?: Date): Promise<PodDto> {
  const result = await createPod(accountId, name, now);
  if (!result.ok) throw new Error(`createPod failed: ${result.message}`);
  return result.value;
}

async function podRow(id: string) {
  const [row] = await rawRows("SELECT * FROM pods WHERE id = ?", [id]);
  return row;
}

describe("createPod", () => {
  it("creates a RUNNING pod with an opaque, URL-safe id, owned by the account", async () => {
    const now = new Date("2024-01-02T03:04:05.678Z");
    const pod = await newPod(accountA, "trainer", now);
    expect(pod).toEqual({ id: expect.stringMatching(/^[0-9a-z]{16}$/), name: "trainer", status: "RUNNING", createdAt: now });
    expect(await podRow(pod.id)).toEqual({ id: pod.id, account_id: accountA, name: "trainer", status: "RUNNING", created_at: now.getTime() });
  });

  it("gives every pod a distinct id", async () => {
    const created = await Promise.all(Array.from({ length: 10 }, (_, i) => newPod(accountA, `bulk-${i}`)));
    expect(new Set(created.map((pod) => pod.id)).size).toBe(10);
  });

  it("cross-account: a pod created for B is B's only, and A's pods are untouched", async () => {
    const beforeA = await listPods(accountA);
    const pod = await newPod(accountB, "b-pod");
    expect((await podRow(pod.id))?.account_id).toBe(accountB);
    expect(await listPods(accountA)).toEqual(beforeA);
  });
});

describe("listPods", () => {
  it("lists the account's own pods, newest first, stable within a millisecond", async () => {
    const account = await newAccount("list");
    const oldest = await newPod(account, "oldest", new Date("2024-01-01T00:00:00Z"));
    const newest = await newPod(account, "newest", new Date("2024-03-01T00:00:00Z"));
    const twinTime = new Date("2024-02-01T00:00:00Z");
    const twins = [await newPod(account, "twin-1", twinTime), await newPod(account, "twin-2", twinTime)];
    await newPod(accountB, "not mine", new Date("2024-02-15T00:00:00Z"));

    const listed = await listPods(account);
    expect(listed).toEqual([newest, ...[...twins].sort((x, y) => (x.id < y.id ? 1 : -1)), oldest]);
    expect(await listPods(account)).toEqual(listed);
  });

  it("returns an empty list for an account without pods, or an unknown account", async () => {
    expect(await listPods(await newAccount("empty"))).toEqual([]);
    expect(await listPods("nosuchaccount000")).toEqual([]);
  });

  it("cross-account: B sees none of A's pods", async () => {
    const mine = await newPod(accountA, "a-private");
    const seenByB = await listPods(accountB);
    expect(seenByB.map((pod) => pod.id)).not.toContain(mine.id);
    expect((await listPods(accountA)).map((pod) => pod.id)).toContain(mine.id);
  });
});

describe("terminatePod", () => {
  it("terminates the account's own pod, keeping its id, name and created date; repeating it is harmless", async () => {
    const pod = await newPod(accountA, "to-stop", new Date("2024-01-01T00:00:00Z"));
    const expected = { ok: true, value: { ...pod, status: "TERMINATED" } };
    expect(await terminatePod(accountA, pod.id)).toEqual(expected);
    expect((await podRow(pod.id))?.status).toBe("TERMINATED");
    expect(await terminatePod(accountA, pod.id)).toEqual(expected);
  });

  it.each([
    ["unknown id", "nosuchpod0000000"],
    ["empty id", ""],
  ])("returns NOT_FOUND for %s", async (_label, id) => {
    expect(await terminatePod(accountA, id)).toEqual({ ok: false, code: "NOT_FOUND", message: expect.any(String) });
  });

  it("cross-account: B terminating A's pod is NOT_FOUND and A's row is unchanged", async () => {
    const pod = await newPod(accountA, "a-keeps-running");
    const before = await podRow(pod.id);

    expect(await terminatePod(accountB, pod.id)).toEqual({ ok: false, code: "NOT_FOUND", message: expect.any(String) });

    expect(await podRow(pod.id)).toEqual(before);
    expect(await countRows("pods", "id = ? AND status = 'RUNNING'", [pod.id])).toBe(1);
  });
});
