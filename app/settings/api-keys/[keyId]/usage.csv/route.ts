import { getCurrentAccount } from "@/lib/auth/session";
import { getApiKey } from "@/lib/dal/api-keys";
import { listEndpoints } from "@/lib/dal/endpoints";
import { getUsageForExport } from "@/lib/dal/usage";
import { unavailable } from "@/lib/http/api-error";
import { usageCsv, usageCsvFilename } from "../_components/usage-csv";
import { usageRouteError } from "../usage/route-errors";

// SPEC §10 `Download usage`: everything kept of the key by day, as a CSV attachment. The session
// is checked here: a link is a GET anyone can send.

export const dynamic = "force-dynamic";

export async function GET(_request: Request, { params }: { params: Promise<{ keyId: string }> }): Promise<Response> {
  try {
    const account = await getCurrentAccount();
    if (!account) return usageRouteError("UNAUTHENTICATED");
    const { keyId } = await params;
    // Another account's key reads exactly like an id that never existed.
    const key = await getApiKey(account.id, keyId);
    if (!key) return usageRouteError("NOT_FOUND");
    const [rows, endpoints] = await Promise.all([getUsageForExport(account.id, keyId), listEndpoints(account.id)]);
    const body = usageCsv(rows, new Map(endpoints.map((endpoint) => [endpoint.id, endpoint.name])));
    return new Response(body, {
      headers: {
        "content-type": "text/csv; charset=utf-8",
        "content-disposition": `attachment; filename="${usageCsvFilename(key.name)}"`,
        "cache-control": "no-store",
      },
    });
  } catch (error) {
    return unavailable(error);
  }
}
