import "server-only";
import {
  GraphQLBoolean,
  GraphQLError,
  GraphQLInputObjectType,
  GraphQLList,
  GraphQLNonNull,
  GraphQLObjectType,
  GraphQLSchema,
  GraphQLString,
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
import { findAccountById, type AccountDto } from "@/lib/dal/accounts";
import type { AuditActor } from "@/lib/dal/audit-log";
import { getDataPlane } from "@/lib/server/data-plane";
import { createEndpoint, deleteEndpoint, getEndpoint, listEndpoints, renameEndpoint, type EndpointDto } from "@/lib/dal/endpoints";
import { createPod, listPods, terminatePod, type PodDto } from "@/lib/dal/pods";
import type { DalResult } from "@/lib/dal/result";
import { DatabaseUnavailableError } from "@/lib/dal/sql-runner";
import { noteDecision, withAccessLog } from "@/lib/http/access-log";
import { apiError, jsonResponse, unavailable } from "@/lib/http/api-error";
import { findDocumentViolation, findLimitViolation, findQuerySizeViolation, GRAPHQL_LIMITS, selectExecutable } from "@/lib/http/graphql-limits";
import { readJsonBody } from "@/lib/http/read-body";
import { nameSchema } from "@/lib/core/names";
import { decide, readBearerToken, type Decision, type KeyStore } from "@/lib/core/verify/verifier";

// ---------------------------------------------------------------------------------------------
// Schema. Every resolver reads and writes only `context.accountId`, the verified key's account.

/** `actor` is the verified key, recorded in the audit log for every change a resolver makes. */
type GraphqlContext = { accountId: string; actor: AuditActor };
type ErrorCode = "NOT_FOUND" | "BAD_REQUEST" | "CONFLICT";

/** A resolver failure whose message is written for the client; anything else is "Internal error". */
class GraphqlFailure extends Error {
  override name = "GraphqlFailure";
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

function valueOf<T>(result: DalResult<T>): T {
  if (result.ok) return result.value;
  throw new GraphqlFailure(result.code, result.message);
}

function parseInput<T>(schema: z.ZodType<T>, input: unknown): T {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  throw new GraphqlFailure("BAD_REQUEST", parsed.error.issues[0]?.message ?? "The input is invalid.");
}

const endpointInputSchema = z.object({ id: z.string().nullish(), name: nameSchema });
const podInputSchema = z.object({ name: nameSchema });
const idArgsSchema = z.object({ id: z.string() });

const nonNullString = new GraphQLNonNull(GraphQLString);
const isoDate = { type: nonNullString, resolve: (source: { createdAt: Date }) => source.createdAt.toISOString() };

const endpointType = new GraphQLObjectType<EndpointDto, GraphqlContext>({
  name: "Endpoint",
  description: "A serverless endpoint. Its `id` is what the endpoint API (`/v2/{id}/…`) uses.",
  fields: { id: { type: nonNullString }, name: { type: nonNullString }, createdAt: isoDate },
});

const podType = new GraphQLObjectType<PodDto, GraphqlContext>({
  name: "Pod",
  description: "A GPU pod record. `status` is RUNNING, EXITED or TERMINATED.",
  fields: { id: { type: nonNullString }, name: { type: nonNullString }, status: { type: nonNullString }, createdAt: isoDate },
});

const endpointList = new GraphQLNonNull(new GraphQLList(new GraphQLNonNull(endpointType)));
const podList = new GraphQLNonNull(new GraphQLList(new GraphQLNonNull(podType)));

const userType = new GraphQLObjectType<AccountDto, GraphqlContext>({
  name: "User",
  description: "The account the API key belongs to.",
  fields: {
    id: { type: nonNullString },
    email: { type: nonNullString },
    endpoints: { type: endpointList, resolve: (_user, _args, context) => listEndpoints(context.accountId) },
    pods: { type: podList, resolve: (_user, _args, context) => listPods(context.accountId) },
  },
});

const queryType = new GraphQLObjectType<unknown, GraphqlContext>({
  name: "Query",
  fields: {
    myself: {
      type: new GraphQLNonNull(userType),
      resolve: async (_root, _args, context) => {
        const account = await findAccountById(context.accountId);
        if (!account) throw new GraphqlFailure("NOT_FOUND", "Account not found.");
        return account;
      },
    },
    endpoint: {
      type: endpointType,
      description: "One of the account's endpoints; null for an unknown id or another account's.",
      args: { id: { type: nonNullString } },
      resolve: (_root, args, context) => getEndpoint(context.accountId, parseInput(idArgsSchema, args).id),
    },
    pods: { type: podList, resolve: (_root, _args, context) => listPods(context.accountId) },
  },
});

const endpointInputType = new GraphQLInputObjectType({
  name: "EndpointInput",
  description: "Without `id`, creates an endpoint; with `id`, renames that endpoint.",
  fields: { id: { type: GraphQLString }, name: { type: nonNullString } },
});

const podInputType = new GraphQLInputObjectType({ name: "PodInput", fields: { name: { type: nonNullString } } });

const mutationType = new GraphQLObjectType<unknown, GraphqlContext>({
  name: "Mutation",
  fields: {
    saveEndpoint: {
      type: new GraphQLNonNull(endpointType),
      args: { input: { type: new GraphQLNonNull(endpointInputType) } },
      resolve: async (_root, args: { input?: unknown }, context) => {
        const input = parseInput(endpointInputSchema, args.input);
        return valueOf(
          input.id == null ? await createEndpoint(context.accountId, input.name, context.actor)
            : await renameEndpoint(context.accountId, input.id, input.name, context.actor),
        );
      },
    },
    deleteEndpoint: {
      type: new GraphQLNonNull(GraphQLBoolean),
      args: { id: { type: nonNullString } },
      resolve: async (_root, args, context) => {
        valueOf(await deleteEndpoint(context.accountId, parseInput(idArgsSchema, args).id, context.actor));
        return true;
      },
    },
    podCreate: {
      type: new GraphQLNonNull(podType),
      args: { input: { type: new GraphQLNonNull(podInputType) } },
      resolve: async (_root, args: { input?: unknown }, context) =>
        valueOf(await createPod(context.accountId, parseInput(podInputSchema, args.input).name)),
    },
    podTerminate: {
      type: new GraphQLNonNull(GraphQLBoolean),
      args: { id: { type: nonNullString } },
      resolve: async (_root, args, context) => {
        valueOf(await terminatePod(context.accountId, parseInput(idArgsSchema, args).id));
        return true;
      },
    },
  },
});

/** API keys are deliberately absent: they are managed only from a dashboard session. */
export const graphqlSchema = new GraphQLSchema({ query: queryType, mutation: mutationType });

// ---------------------------------------------------------------------------------------------
// GraphQL over HTTP.

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

const UNAVAILABLE_CODES = ["SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_CANTOPEN", "SQLITE_IOERR", "SERVER_ERROR"];

/** A locked or unreachable database, however deep drizzle or libSQL wrapped it. */
function isDatabaseUnavailable(error: unknown): boolean {
  for (let current = error, depth = 0; current instanceof Error && depth < 5; current = current.cause, depth += 1) {
    if (current instanceof DatabaseUnavailableError || current.name === "DatabaseUnavailableError") return true;
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && UNAVAILABLE_CODES.some((prefix) => code.startsWith(prefix))) return true;
  }
  return false;
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
    if (request.method !== "POST") return methodNotAllowed();
    const token = readBearerToken(request.headers.get("authorization"));
    const authorize = async (access: "read" | "read_write"): Promise<Decision> =>
      noteDecision(request, await decide(token, { resource: "graphql", access }, await loadKeyStore()));
    // An unusable request is described only to a caller who may read the GraphQL API.
    const refuse = async (errors: readonly (string | GraphQLError)[]): Promise<Response> => {
      const decision = await authorize("read");
      return decision.ok ? badRequest(errors) : apiError(decision.code);
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
      if (!decision.ok) return apiError(decision.code);

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
  };
}

export const handleGraphqlRequest = withAccessLog(createGraphqlHandler());
