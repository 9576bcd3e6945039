import { z } from "zod";
import { getDataPlane } from "@/lib/server/data-plane";
import { REQUIRED_LEVELS } from "@/lib/core/scopes/levels";
import { isClientAddress } from "@/lib/core/restrictions/addresses";
import { decide, type Requirement } from "@/lib/core/verify/verifier";
import { apiErrorReply, jsonReply, unavailableReply, withRateLimit, type ApiReply } from "./api-error";
import { fetchHandler, type ApiRequest } from "./api-transport";

const MAX_BODY_BYTES = 16_384;

// SPEC §9: the address the caller's own client came from, for keys with an allowlist.
const ip = z
  .string()
  .max(64)
  // The allowlist's own parser: an address it could not read is a bad request, not a mismatch.
  .refine(isClientAddress, { message: "ip must be an IPv4 or IPv6 address" })
  .optional();

const bodySchema = z.discriminatedUnion("resource", [
  z.object({ key: z.string(), resource: z.literal("graphql"), access: z.enum(REQUIRED_LEVELS), ip }),
  z.object({
    key: z.string(),
    resource: z.literal("endpoint"),
    endpointId: z.string().min(1).max(128),
    access: z.enum(REQUIRED_LEVELS),
    ip,
  }),
]);

/**
 * `POST /api/v1/keys/verify`: the same decision as the APIs, for services that check a key
 * without calling through. Always 200 with `valid` and `code`; a malformed body is 400.
 */
export async function verifyApi(request: ApiRequest): Promise<ApiReply> {
  if (request.method !== "POST") return apiErrorReply("NOT_FOUND", "No such route.");
  const body = await request.readJsonBody(MAX_BODY_BYTES);
  if (!body.ok) return apiErrorReply("BAD_REQUEST", body.message);
  const parsed = bodySchema.safeParse(body.value);
  if (!parsed.success) {
    return apiErrorReply("BAD_REQUEST", 'Expected {"key", "resource": "graphql" | "endpoint", "endpointId"?, "access": "read" | "read_write", "ip"?}.');
  }
  const { key, ip: clientAddress, ...rest } = parsed.data;
  const requirement: Requirement =
    rest.resource === "endpoint" ? { resource: "endpoint", endpointId: rest.endpointId, access: rest.access } : { resource: "graphql", access: rest.access };
  try {
    // The verify API counts against the key's rate limit like any other route (SPEC §9).
    const decision = await decide(key, requirement, (await getDataPlane()).keyStore, { clientAddress: clientAddress ?? null, via: "verify" });
    const reply = withRateLimit(
      jsonReply(decision.ok ? { valid: true, code: decision.code, keyId: decision.keyId, accountId: decision.accountId } : { valid: false, code: decision.code }),
      decision,
    );
    if (decision.keyId) reply.keyId = decision.keyId;
    return reply;
  } catch (error) {
    return unavailableReply(error);
  }
}

export const handleVerifyApi = fetchHandler(verifyApi);
