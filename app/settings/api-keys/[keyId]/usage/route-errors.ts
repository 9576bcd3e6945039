// The usage routes' refusals: a JSON body like the APIs' errors, never cached.

const STATUS = { UNAUTHENTICATED: 401, BAD_REQUEST: 400, NOT_FOUND: 404 } as const;
const MESSAGES: Record<keyof typeof STATUS, string> = {
  UNAUTHENTICATED: "Sign in to see this key's usage.",
  BAD_REQUEST: "The request is invalid.",
  NOT_FOUND: "No such API key.",
};

export function usageRouteError(code: keyof typeof STATUS, message = MESSAGES[code]): Response {
  return Response.json({ error: { code, message } }, { status: STATUS[code], headers: { "cache-control": "no-store" } });
}
