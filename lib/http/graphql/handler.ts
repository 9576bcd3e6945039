import "server-only";
import {
  GraphQLError,
  Kind,
  execute,
  getOperationAST,
  parse,
  validate,
  type DocumentNode,
  type ExecutionResult,
  type GraphQLFormattedError,
} from "graphql";
import { z } from "zod";
import { isDatabaseUnavailable } from "@/db/unavailable";
import { getDataPlane } from "@/lib/server/data-plane";
import { noteDecision, withAccessLog } from "@/lib/http/access-log";
import { apiError, denialReply, jsonResponse, rateLimitHeaders, toResponse, unavailable } from "@/lib/http/api-error";
import { CLIENT_ADDRESS_HEADER } from "@/lib/http/front-door";
import { readJsonBody } from "@/lib/http/read-body";
import type { RequiredLevel } from "@/lib/core/scopes/levels";
import { decide, readBearerToken, type Decision, type KeyStore } from "@/lib/core/verify/verifier";
import { findDocumentViolation, findLimitViolation, findQuerySizeViolation, GRAPHQL_LIMITS, selectExecutable } from "./limits";
import { GraphqlFailure, graphqlSchema, type GraphqlContext } from "./schema";

// GraphQL over HTTP: the body, the gate (the key's graphql scope), the limits, validation,
// execution, and what an error may say to the client.

type GraphqlParams = { query: string; variables: Record<string, unknown> | undefined; operationName: string | undefined };

const paramsSchema = z.object(
  {
    query: z.string({ error: "`query` must be a string." }),
    // null is accepted as absent: several GraphQL clients send it.
    variables: z.record(z.string(), z.unknown(), { error: "`variables` must be an object." }).nullish(),
    operationName: z.string({ error: "`operationName` must be a string." }).nullish(),
  },
  { error: "The body must be a JSON object with a `query` string." },
);

type BodyResult = { ok: true; params: GraphqlParams } | { ok: false; message: string };

async function readParams(request: Request): Promise<BodyResult> {
  const body = await readJsonBody(request, GRAPHQL_LIMITS.maxBodyBytes);
  if (!body.ok) return body;
  const parsed = paramsSchema.safeParse(body.value);
  if (!parsed.success) return { ok: false, message: parsed.error.issues[0]?.message ?? "The body is invalid." };
  const { query, variables, operationName } = parsed.data;
  return { ok: true, params: { query, variables: variables ?? undefined, operationName: operationName ?? undefined } };
}

/** Both shapes: `error` as every Keyscope API answers, `errors` as GraphQL clients expect. */
function badRequest(errors: readonly (string | GraphQLError)[]): Response {
  const formatted: GraphQLFormattedError[] = errors.map((error) => (typeof error === "string" ? { message: error } : error.toJSON()));
  const message = formatted[0]?.message ?? "The request is invalid.";
  return jsonResponse({ error: { code: "BAD_REQUEST", message }, errors: formatted }, 400);
}

function methodNotAllowed(): Response {
  return jsonResponse({ error: { code: "BAD_REQUEST", message: "GraphQL requests must use POST." } }, 405, { allow: "POST" });
}

function operationProblem(document: DocumentNode, operationName: string | undefined): string {
  const count = document.definitions.filter((definition) => definition.kind === Kind.OPERATION_DEFINITION).length;
  if (count === 0) return "The document contains no operation.";
  if (operationName !== undefined) return "No operation in the document has this `operationName`.";
  return "The document has several operations: send `operationName` to pick one.";
}

function safeError(error: GraphQLError): GraphQLFormattedError {
  const original = error.originalError;
  if (original instanceof GraphqlFailure) return { ...error.toJSON(), extensions: { code: original.code } };
  // Errors graphql-js raises itself (argument coercion and the like) describe the request only.
  if (original === undefined || original instanceof GraphQLError) return error.toJSON();
  // Only the name: messages of unexpected errors may carry SQL, values or paths.
  console.error(`graphql: resolver failed (${original.name})`);
  const { locations, path } = error.toJSON();
  return { message: "Internal error", ...(locations ? { locations } : {}), ...(path ? { path } : {}), extensions: { code: "INTERNAL" } };
}

function respond(result: ExecutionResult): Response {
  const errors = result.errors ?? [];
  if (errors.some((error) => isDatabaseUnavailable(error.originalError))) return apiError("UNAVAILABLE");
  // No `data` at all: the request failed before execution (variables that do not coerce).
  if (result.data === undefined) return badRequest(errors);
  return jsonResponse(errors.length > 0 ? { data: result.data, errors: errors.map(safeError) } : { data: result.data });
}

export type GraphqlHandlerOptions = { loadKeyStore?: () => Promise<KeyStore> };

/**
 * `POST /graphql` as a plain Fetch handler. Nothing about the document is said to a caller the
 * verifier has not accepted, and the operation that would run is authorized (query → read,
 * mutation → read_write) before it is checked against the limits, validated or executed. The
 * whole document is bounded before any validation, and only that operation and the fragments it
 * spreads are validated and executed.
 */
export function createGraphqlHandler(options: GraphqlHandlerOptions = {}): (request: Request) => Promise<Response> {
  const loadKeyStore = options.loadKeyStore ?? (async () => (await getDataPlane()).keyStore);

  return async function handleGraphqlRequest(request: Request): Promise<Response> {
    // The last decision made for this request: its key's `RateLimit-*` headers go on the answer.
    let decided: Decision | undefined;
    const response = await handle(request, async (token, access) => {
      decided = await decide(token, { resource: "graphql", access }, await loadKeyStore(), {
        clientAddress: request.headers.get(CLIENT_ADDRESS_HEADER),
      });
      return decided;
    });
    if (decided?.rateLimit) for (const [name, value] of Object.entries(rateLimitHeaders(decided.rateLimit))) response.headers.set(name, value);
    return response;
  };

  async function handle(request: Request, decideFor: (token: string | null, access: RequiredLevel) => Promise<Decision>): Promise<Response> {
    if (request.method !== "POST") return methodNotAllowed();
    const token = readBearerToken(request.headers.get("authorization"));
    const authorize = async (access: RequiredLevel): Promise<Decision> => noteDecision(request, await decideFor(token, access));
    // An unusable request is described only to a caller who may read the GraphQL API.
    const refuse = async (errors: readonly (string | GraphQLError)[]): Promise<Response> => {
      const decision = await authorize("read");
      return decision.ok ? badRequest(errors) : toResponse(denialReply(decision));
    };

    try {
      const body = await readParams(request);
      if (!body.ok) return await refuse([body.message]);
      const { query, variables, operationName } = body.params;
      const tooLong = findQuerySizeViolation(query);
      if (tooLong) return await refuse([tooLong]);

      let document: DocumentNode;
      try {
        document = parse(query, { maxTokens: GRAPHQL_LIMITS.maxTokens });
      } catch (error) {
        if (error instanceof GraphQLError) return await refuse([error]);
        throw error;
      }
      const operation = getOperationAST(document, operationName);
      // A document over the limits is refused as such even when no operation can be picked from it.
      if (!operation) return await refuse([findDocumentViolation(document) ?? operationProblem(document, operationName)]);
      if (operation.operation === "subscription") return await refuse(["Subscriptions are not supported."]);

      const decision = await authorize(operation.operation === "mutation" ? "read_write" : "read");
      if (!decision.ok) return toResponse(denialReply(decision));

      const documentViolation = findDocumentViolation(document);
      if (documentViolation) return badRequest([documentViolation]);
      // Only what would run is checked, validated and executed: the cost of validation follows the
      // per-operation limits, and the operation authorized above is the only one `execute` can pick.
      const executable = selectExecutable(document, operation);
      const violation = findLimitViolation(executable, operation);
      if (violation) return badRequest([violation]);
      const errors = validate(graphqlSchema, executable);
      if (errors.length > 0) return badRequest(errors);

      const contextValue: GraphqlContext = { accountId: decision.accountId, actor: { type: "api_key", keyId: decision.keyId } };
      return respond(await execute({ schema: graphqlSchema, document: executable, operationName, variableValues: variables, contextValue }));
    } catch (error) {
      // The key store or the database failed outside a resolver: a 503 the client may retry.
      return unavailable(error);
    }
  }
}

export const handleGraphqlRequest = withAccessLog(createGraphqlHandler());
