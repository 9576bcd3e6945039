// Test-only helper: the two accounts most integration tests start from — the one under test with
// an endpoint "alpha", and another with an endpoint "beta" (the cross-account side). Import
// testing/test-database first, as always.
import { createAccount } from "@/lib/dal/accounts";
import { createEndpoint } from "@/lib/dal/endpoints";
import { uniqueEmail } from "./test-database";

const DASHBOARD = { type: "dashboard" } as const;

export async function twoAccountsWithEndpoints(label: string): Promise<{ account: string; other: string; endpoint: string; othersEndpoint: string }> {
  const [a, b] = await Promise.all([createAccount(uniqueEmail(`${label}-a`), `password-${label}-1`), createAccount(uniqueEmail(`${label}-b`), `password-${label}-2`)]);
  if (!a.ok || !b.ok) throw new Error("setup: accounts");
  const [ep, otherEp] = await Promise.all([createEndpoint(a.value.id, "alpha", DASHBOARD), createEndpoint(b.value.id, "beta", DASHBOARD)]);
  if (!ep.ok || !otherEp.ok) throw new Error("setup: endpoints");
  return { account: a.value.id, other: b.value.id, endpoint: ep.value.id, othersEndpoint: otherEp.value.id };
}
