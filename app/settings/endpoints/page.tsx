import type { Metadata } from "next";
import { CopyButton } from "@/components/ui/copy-button";
import { listEndpoints } from "@/lib/dal/endpoints";
import { requireAccount } from "@/lib/auth/session";
import { CreateEndpointForm } from "./_components/create-endpoint-form";
import { EndpointActions } from "./_components/endpoint-actions";
import { permissionRefusal } from "@/lib/core/teams/refusals";
import { ReadOnlyNote } from "../read-only-note";

export const metadata: Metadata = { title: "Endpoints" };

export default async function EndpointsPage() {
  const account = await requireAccount();
  const endpoints = await listEndpoints(account.id);
  // SPEC §11: Members and Viewers see the endpoints; Owners and Admins change them.
  const refusal = permissionRefusal(account.role, "endpoints.manage");
  return (
    <section className="flex flex-col gap-6">
      <div>
        <h1 className="text-2xl font-semibold tracking-tight">Endpoints</h1>
        <p className="mt-1 max-w-2xl text-sm text-zinc-600">
          Serverless endpoints of this account. API calls address an endpoint by its id: <code className="font-mono">/v2/&lt;id&gt;/run</code>.
        </p>
      </div>
      {refusal === null ? <CreateEndpointForm /> : <ReadOnlyNote reason={refusal} />}
      {endpoints.length === 0 ? (
        <div className="rounded-lg border border-dashed border-zinc-300 bg-white p-8 text-center text-sm text-zinc-600">No endpoints yet.</div>
      ) : (
        <ul aria-label="Endpoints" className="divide-y divide-zinc-100 rounded-lg border border-zinc-200 bg-white">
          {endpoints.map((endpoint) => (
            <li key={endpoint.id} aria-label={endpoint.name} className="flex flex-col gap-2 px-4 py-3 sm:flex-row sm:items-center">
              <div className="min-w-0 flex-1">
                <div className="truncate font-medium">{endpoint.name}</div>
                <div className="mt-0.5 flex items-center gap-2">
                  <code className="truncate font-mono text-xs text-zinc-600">{endpoint.id}</code>
                  <CopyButton value={endpoint.id} label={`Copy id of ${endpoint.name}`} />
                </div>
              </div>
              {refusal === null ? <EndpointActions endpointId={endpoint.id} name={endpoint.name} /> : null}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
