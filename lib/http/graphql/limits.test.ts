import { buildSchema, getIntrospectionQuery, getOperationAST, Kind, parse, validate, type DocumentNode } from "graphql";
import { describe, expect, it } from "vitest";
import { findDocumentViolation, findQuerySizeViolation, GRAPHQL_LIMITS, selectExecutable } from "./limits";

// The shape of the served schema; this module does not depend on it.
const schema = buildSchema(`
  type Query { myself: User!  endpoint(id: String!): Endpoint  pods: [Pod!]! }
  type User { id: String! email: String! endpoints: [Endpoint!]! pods: [Pod!]! }
  type Endpoint { id: String! name: String! createdAt: String! }
  type Pod { id: String! name: String! status: String! createdAt: String! }
`);

const { maxQueryBytes, maxOperations, maxFragments, maxDefinitions } = GRAPHQL_LIMITS;
const named = (count: number) => Array.from({ length: count }, (_, i) => `query Q${i} { __typename }`).join(" ");
const fragments = (count: number) => Array.from({ length: count }, (_, i) => `fragment F${i} on User { id }`).join(" ");
const ATTACK = `query Run { pods { id } } query Bad { apiKeys { id } } ${"{__typename} ".repeat(1240)}`;

function names(document: DocumentNode): string[] {
  return document.definitions.map((definition) => ("name" in definition && definition.name ? definition.name.value : definition.kind));
}

function executable(query: string, operationName?: string): DocumentNode {
  const document = parse(query);
  const operation = getOperationAST(document, operationName);
  if (!operation) throw new Error("test setup: no operation");
  return selectExecutable(document, operation);
}

describe("findQuerySizeViolation: UTF-8 bytes, not UTF-16 code units", () => {
  it.each([
    ["ASCII at the limit", "a".repeat(maxQueryBytes), null],
    ["ASCII one byte over", "a".repeat(maxQueryBytes + 1), "Query too long: at most 32768 bytes per document."],
    ["two-byte characters at the limit", "é".repeat(maxQueryBytes / 2), null],
    ["two-byte characters one over", "é".repeat(maxQueryBytes / 2 + 1), "Query too long: at most 32768 bytes per document."],
    ["four-byte characters one over", "😀".repeat(maxQueryBytes / 4 + 1), "Query too long: at most 32768 bytes per document."],
  ])("%s", (_label, query, expected) => {
    expect(findQuerySizeViolation(query)).toBe(expected);
  });
});

describe("findDocumentViolation: the whole document, before validation", () => {
  const tooManyOperations = `Too many operations: at most ${maxOperations} per document.`;
  it.each([
    ["the standard introspection query", getIntrospectionQuery(), null],
    ["one anonymous operation", "{ pods { id } }", null],
    [`${maxOperations} operations`, named(maxOperations), null],
    [`${maxOperations + 1} operations`, named(maxOperations + 1), tooManyOperations],
    ["the attack: ~1,240 operations in 17 KB", ATTACK, tooManyOperations],
    [`1 operation and ${maxFragments} fragments`, `{ myself { id } } ${fragments(maxFragments)}`, null],
    [`1 operation and ${maxFragments + 1} fragments`, `{ myself { id } } ${fragments(maxFragments + 1)}`, `Too many fragments: at most ${maxFragments} per document.`],
    [`${maxDefinitions} definitions`, `${named(maxOperations)} ${fragments(maxDefinitions - maxOperations)}`, null],
    [
      `${maxDefinitions + 1} definitions`,
      `${named(maxOperations)} ${fragments(maxDefinitions - maxOperations + 1)}`,
      `Too many definitions: at most ${maxDefinitions} operations and fragments per document.`,
    ],
    [`${maxDefinitions + 1} definitions, not all executable`, `{ pods { id } } ${"scalar S ".repeat(maxDefinitions)}`, `Too many definitions: at most ${maxDefinitions} operations and fragments per document.`],
    ["the counts come before the document's other problems", `type T { a: Int } ${named(maxOperations + 1)} { pods { id } }`, tooManyOperations],
    ["a type definition", "{ pods { id } } type Foo { a: Int }", 'The "Foo" definition is not executable.'],
    ["a schema definition", "{ pods { id } } schema { query: Query }", "The schema definition is not executable."],
    ["an anonymous operation beside another", "query A { pods { id } } { pods { id } }", "This anonymous operation must be the only defined operation."],
    ["two operations of one name", "query Q { pods { id } } mutation Q { x }", 'There can be only one operation named "Q".'],
    ["two fragments of one name (left to validation)", "{ myself { ...F } } fragment F on User { id } fragment F on User { email }", null],
  ])("%s", (_label, query, expected) => {
    expect(findDocumentViolation(parse(query))?.message ?? null).toBe(expected);
  });

  it("locates the definitions it refuses", () => {
    expect(findDocumentViolation(parse("query Q { pods { id } }\nquery Q { myself { id } }"))?.locations).toEqual([
      { line: 1, column: 7 },
      { line: 2, column: 7 },
    ]);
  });
});

describe("selectExecutable: the operation and the fragments it spreads, transitively", () => {
  it.each([
    ["the attack keeps only the operation that runs", ATTACK, "Run", ["Run"]],
    ["fragments of other operations and unused ones are dropped", "query A { myself { ...F } } query B { pods { id } } fragment F on User { id } fragment G on User { email }", "B", ["B"]],
    ["the operation's own fragment is kept", "query A { myself { ...F } } query B { pods { id } } fragment F on User { id } fragment G on User { email }", "A", ["A", "F"]],
    [
      "through fields, inline fragments and other fragments, in document order",
      "fragment H on Endpoint { id } query A { myself { ... on User { ...F } } } fragment G on User { id } fragment F on User { endpoints { ...H } }",
      "A",
      ["H", "A", "F"],
    ],
    ["a cycle ends (validation refuses it)", "query A { myself { ...F } } fragment F on User { ...G } fragment G on User { ...F }", "A", ["A", "F", "G"]],
    ["every definition of a spread name, for validation to refuse", "query A { myself { ...F } } fragment F on User { id } fragment F on User { email }", "A", ["A", "F", "F"]],
    ["an unknown spread is left to validation", "query A { myself { ...Missing } }", "A", ["A"]],
    ["non-executable definitions are dropped", "query A { pods { id } } type T { a: Int }", "A", ["A"]],
  ] as const)("%s", (_label, query, operationName, expected) => {
    expect(names(executable(query, operationName))).toEqual(expected);
  });

  it("walks each fragment once, however often it is spread", () => {
    // 2^40 paths if every spread were followed.
    const doubling = Array.from({ length: 40 }, (_, i) => `fragment U${i} on User { ...U${i + 1} ...U${i + 1} }`).join(" ");
    const document = executable(`{ myself { ...U0 } } ${doubling} fragment U40 on User { id }`);
    expect(document.definitions).toHaveLength(42);
  });

  it("is what validation sees: an invalid operation or fragment that does not run raises nothing", () => {
    const query = "query Run { myself { ...Used } } query Bad { apiKeys } fragment Used on User { id } fragment Unused on User { nope }";
    expect(validate(schema, parse(query)).map((error) => error.message).sort()).toEqual([
      'Cannot query field "apiKeys" on type "Query".',
      'Cannot query field "nope" on type "User".',
      'Fragment "Unused" is never used.',
    ]);
    expect(validate(schema, executable(query, "Run"))).toEqual([]);
    expect(validate(schema, executable(query, "Bad")).map((error) => error.message)).toEqual(['Cannot query field "apiKeys" on type "Query".']);
  });

  it("keeps the document a document", () => {
    const document = executable("query A { pods { id } } query B { myself { id } }", "B");
    expect(document.kind).toBe(Kind.DOCUMENT);
    expect(getOperationAST(document)?.name?.value).toBe("B");
  });
});
