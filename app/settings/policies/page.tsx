import type { Metadata } from "next";
import { requireAccount } from "@/lib/auth/session";
import { permissionRefusal } from "@/lib/core/teams/refusals";
import { getPolicies } from "@/lib/dal/policies";
import { ReadOnlyNote } from "../read-only-note";
import { PoliciesForm } from "./_components/policies-form";

export const metadata: Metadata = { title: "Policies" };

// SPEC §11: owners change the team's policies; everyone else sees what is in force (why `No
// expiration` is missing from their `Expiration` choices, why their GraphQL Read / Write waits),
// with the controls off.
export default async function PoliciesPage() {
  const account = await requireAccount();
  const policies = await getPolicies(account.id);
  const refusal = permissionRefusal(account.role, "policies.manage");
  return (
    <section className="flex flex-col gap-6">
      <div>
        <h1 className="text-2xl font-semibold tracking-tight">Policies</h1>
        <p className="mt-1 max-w-2xl text-sm text-zinc-600">Rules for every key of this team, whoever creates or changes it.</p>
      </div>
      <ReadOnlyNote reason={refusal} className="max-w-2xl" />
      <PoliciesForm policies={policies} readOnly={refusal !== null} />
    </section>
  );
}
