import { buildSchema, isInputObjectType, isObjectType, type GraphQLSchema } from "graphql";
import { describe, expect, it } from "vitest";
import { graphqlSchema } from "./schema";

// The served schema, on its own; what each field does for a key is tested through the handler
// (./handler.test.ts), where the gate and the account come from a verified key.

describe("schema", () => {
  const EXPECTED = buildSchema(`
    type Query { myself: User!  endpoint(id: String!): Endpoint  pods: [Pod!]! }
    type User { id: String! email: String! endpoints: [Endpoint!]! pods: [Pod!]! }
    type Endpoint { id: String! name: String! createdAt: String! }
    type Pod { id: String! name: String! status: String! createdAt: String! }
    input EndpointInput { id: String name: String! }
    input PodInput { name: String! }
    type Mutation {
      saveEndpoint(input: EndpointInput!): Endpoint!
      deleteEndpoint(id: String!): Boolean!
      podCreate(input: PodInput!): Pod!
      podTerminate(id: String!): Boolean!
    }
  `);

  function shape(schema: GraphQLSchema) {
    const types: Record<string, Record<string, string>> = {};
    for (const [name, type] of Object.entries(schema.getTypeMap())) {
      if (name.startsWith("__")) continue;
      if (isObjectType(type)) {
        types[name] = Object.fromEntries(
          Object.values(type.getFields()).map((field) => [field.name, `(${field.args.map((arg) => `${arg.name}: ${String(arg.type)}`).join(", ")}): ${String(field.type)}`]),
        );
      } else if (isInputObjectType(type)) {
        types[name] = Object.fromEntries(Object.values(type.getFields()).map((field) => [field.name, String(field.type)]));
      }
    }
    return types;
  }

  it("is exactly the documented schema: no API key types or fields at all", () => {
    expect(shape(graphqlSchema)).toEqual(shape(EXPECTED));
  });
});
