import "server-only";
import {
  GraphQLBoolean,
  GraphQLInputObjectType,
  GraphQLList,
  GraphQLNonNull,
  GraphQLObjectType,
  GraphQLSchema,
  GraphQLString,
} from "graphql";
import { z } from "zod";
import { findAccountById, type AccountDto } from "@/lib/dal/accounts";
import type { AuditActor } from "@/lib/dal/audit-log";
import { createEndpoint, deleteEndpoint, getEndpoint, listEndpoints, renameEndpoint, type EndpointDto } from "@/lib/dal/endpoints";
import { createPod, listPods, terminatePod, type PodDto } from "@/lib/dal/pods";
import type { DalResult } from "@/lib/dal/result";
import { nameSchema } from "@/lib/core/names";

// The GraphQL schema: types and resolvers. Every resolver reads and writes only
// `context.accountId`, the verified key's account; authorization happens before execution, in
// ./handler.ts.

/** `actor` is the verified key, recorded in the audit log for every change a resolver makes. */
export type GraphqlContext = { accountId: string; actor: AuditActor };
type ErrorCode = "NOT_FOUND" | "BAD_REQUEST" | "CONFLICT";

/** A resolver failure whose message is written for the client; anything else is "Internal error". */
export class GraphqlFailure extends Error {
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
