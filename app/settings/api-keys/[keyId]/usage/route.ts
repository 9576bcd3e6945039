import { z } from "zod";
import { getCurrentAccount } from "@/lib/auth/session";
import { isAccountKey, USAGE_RANGES } from "@/lib/dal/usage";
import { unavailable } from "@/lib/http/api-error";
import { loadUsageView } from "../_components/usage-load";
import { usageRouteError } from "./route-errors";

// SPEC §10: the key page's usage as JSON, polled by the page (TanStack Query) so that new requests
// show without a reload. Same session rule as every dashboard action: checked here, not trusted
// from the page that asked.

export const dynamic = "force-dynamic";

const rangeSchema = z.enum(USAGE_RANGES).default("24h");

export async function GET(request: Request, { params }: { params: Promise<{ keyId: string }> }): Promise<Response> {
  try {
    const account = await getCurrentAccount();
    if (!account) return usageRouteError("UNAUTHENTICATED");
    const range = rangeSchema.safeParse(new URL(request.url).searchParams.get("range") ?? undefined);
    if (!range.success) return usageRouteError("BAD_REQUEST", `range must be one of: ${USAGE_RANGES.join(", ")}.`);
    const { keyId } = await params;
    // Another account's key reads exactly like an id that never existed.
    if (!(await isAccountKey(account.id, keyId))) return usageRouteError("NOT_FOUND");
    const view = await loadUsageView(account.id, keyId, range.data);
    return Response.json(view, { headers: { "cache-control": "no-store" } });
  } catch (error) {
    return unavailable(error);
  }
}
