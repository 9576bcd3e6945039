import { z } from "zod";
import { getDataPlane } from "@/lib/server/data-plane";
import { decide, type Requirement } from "@/lib/core/verify/verifier";
import { noteDecision, withAccessLog } from "./access-log";
import { apiError, jsonResponse, unavailable } from "./api-error";
import { readJsonBody } from "./read-body";

const MAX_BODY_BYTES = 16_384;

const bodySchema = z.discriminatedUnion("resource", [
  z.object({ key: z.string(), resource: z.literal("graphql"), access: z.enum(["read", "read_write"]) }),
  z.object({
    key: z.string(),
    resource: z.literal("endpoint"),
    endpointId: z.string().min(1).max(128),
    access: z.enum(["read", "read_write"]),
  }),
]);

/**
 * `POST /api/v1/keys/verify`: the same decision as the APIs, for services that check a key
 * without calling through. Always 200 with `valid` and `code`; a malformed body is 400.
 */
export const handleVerifyApi = withAccessLog(verifyApi);

async function verifyApi(request: Request): Promise<Response> {
  if (request.method !== "POST") return apiError("NOT_FOUND", "No such route.");
  const body = await readJsonBody(request, MAX_BODY_BYTES);
  if (!body.ok) return apiError("BAD_REQUEST", body.message);
  const parsed = bodySchema.safeParse(body.value);
  if (!parsed.success) {
    return apiError("BAD_REQUEST", 'Expected {"key", "resource": "graphql" | "endpoint", "endpointId"?, "access": "read" | "read_write"}.');
  }
  const { key, ...rest } = parsed.data;
  const requirement: Requirement =
    rest.resource === "endpoint" ? { resource: "endpoint", endpointId: rest.endpointId, access: rest.access } : { resource: "graphql", access: rest.access };
  try {
    const decision = noteDecision(request, await decide(key, requirement, (await getDataPlane()).keyStore));
    return jsonResponse(decision.ok ? { valid: true, code: decision.code, keyId: decision.keyId, accountId: decision.accountId } : { valid: false, code: decision.code });
  } catch (error) {
    return unavailable(error);
  }
}
