import {
  GraphQLError,
  Kind,
  type DefinitionNode,
  type DocumentNode,
  type FragmentDefinitionNode,
  type NameNode,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from "graphql";

// What a GraphQL request may cost, checked in this order: the query string before parsing, the
// whole document before anything is validated, then the operation that would run. Validation
// sees only that operation and the fragments it spreads, so its cost is bounded by the
// per-operation limits, never by definitions that do not run.
export const GRAPHQL_LIMITS = {
  maxBodyBytes: 100 * 1024,
  // The query string, before parsing: 5,000 tokens of ordinary GraphQL fit in well under half
  // of this; the standard introspection query is about 2 KB.
  maxQueryBytes: 32 * 1024,
  // Parsing the whole document; the standard introspection query is under 400 tokens.
  maxTokens: 5_000,
  // The whole document, every definition counted whether it runs or not: a few thousand tokens
  // are enough for over a thousand tiny operations, each of which graphql-js would otherwise
  // validate (a 17 KB document of them stalled the server). A client sends one operation and its
  // fragments (the standard introspection query is 1 and 3), an editor such as GraphiQL a few
  // operations side by side; our schema has four object types, so these are generous.
  maxOperations: 20,
  maxFragments: 50,
  maxDefinitions: 60,
  maxDepth: 8,
  maxFields: 200,
  maxRootFields: 10,
  // `__schema` / `__type` subtrees: exempt from depth and `maxFields` (the standard introspection
  // query is 15 deep and 220 fields), bounded by this budget and graphql-js's list-depth rule.
  maxIntrospectionFields: 500,
} as const;

/** Before parsing: the query string's size in UTF-8 bytes. */
export function findQuerySizeViolation(query: string): string | null {
  const bytes = Buffer.byteLength(query, "utf8");
  return bytes > GRAPHQL_LIMITS.maxQueryBytes ? `Query too long: at most ${GRAPHQL_LIMITS.maxQueryBytes} bytes per document.` : null;
}

function definitionLabel(definition: DefinitionNode): string {
  return "name" in definition && definition.name ? `"${definition.name.value}"` : "schema";
}

/**
 * Before validation, on the whole parsed document: its size, and the document-wide rules that
 * validating only the selected operation would no longer apply (graphql-js's wording). Linear
 * in the number of definitions.
 */
export function findDocumentViolation(document: DocumentNode): GraphQLError | null {
  const operations: OperationDefinitionNode[] = [];
  let fragments = 0;
  for (const definition of document.definitions) {
    if (definition.kind === Kind.OPERATION_DEFINITION) operations.push(definition);
    else if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments += 1;
  }
  const { maxOperations, maxFragments, maxDefinitions } = GRAPHQL_LIMITS;
  if (operations.length > maxOperations) return new GraphQLError(`Too many operations: at most ${maxOperations} per document.`);
  if (fragments > maxFragments) return new GraphQLError(`Too many fragments: at most ${maxFragments} per document.`);
  if (document.definitions.length > maxDefinitions) {
    return new GraphQLError(`Too many definitions: at most ${maxDefinitions} operations and fragments per document.`);
  }

  for (const definition of document.definitions) {
    if (definition.kind !== Kind.OPERATION_DEFINITION && definition.kind !== Kind.FRAGMENT_DEFINITION) {
      return new GraphQLError(`The ${definitionLabel(definition)} definition is not executable.`, { nodes: definition });
    }
  }
  // Validation sees one operation only: without these, a second operation of the name picked
  // (on the whole document, graphql-js's `execute` runs the last one) would pass unremarked.
  const named = new Map<string, NameNode>();
  for (const operation of operations) {
    if (!operation.name) {
      if (operations.length > 1) return new GraphQLError("This anonymous operation must be the only defined operation.", { nodes: operation });
      continue;
    }
    const first = named.get(operation.name.value);
    if (first) return new GraphQLError(`There can be only one operation named "${operation.name.value}".`, { nodes: [first, operation.name] });
    named.set(operation.name.value, operation.name);
  }
  return null;
}

/**
 * The document validation and execution get: `operation` and the fragments it spreads,
 * transitively, in their original order. Every definition of a spread name is kept, so
 * validation still refuses duplicate fragment names; unknown names are left to validation.
 */
export function selectExecutable(document: DocumentNode, operation: OperationDefinitionNode): DocumentNode {
  const fragments = new Map<string, FragmentDefinitionNode[]>();
  for (const definition of document.definitions) {
    if (definition.kind !== Kind.FRAGMENT_DEFINITION) continue;
    const name = definition.name.value;
    fragments.set(name, [...(fragments.get(name) ?? []), definition]);
  }
  // Each fragment is walked once, however often it is spread: linear in the document.
  const spread = new Set<string>();
  const pending: SelectionSetNode[] = [operation.selectionSet];
  for (let selectionSet = pending.pop(); selectionSet; selectionSet = pending.pop()) {
    for (const selection of selectionSet.selections) {
      if (selection.kind !== Kind.FRAGMENT_SPREAD) {
        if (selection.selectionSet) pending.push(selection.selectionSet);
      } else if (!spread.has(selection.name.value)) {
        spread.add(selection.name.value);
        for (const fragment of fragments.get(selection.name.value) ?? []) pending.push(fragment.selectionSet);
      }
    }
  }
  const definitions = document.definitions.filter(
    (definition) => definition === operation || (definition.kind === Kind.FRAGMENT_DEFINITION && spread.has(definition.name.value)),
  );
  return { ...document, definitions };
}

// ---------------------------------------------------------------------------------------------
// Limits on the AST of the operation that would run, fragments expanded.

class LimitExceeded extends Error {}

/** The first limit the operation exceeds, or null. Safe on documents that have not been validated. */
export function findLimitViolation(document: DocumentNode, operation: OperationDefinitionNode): string | null {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  }
  const counts = { root: 0, fields: 0, introspection: 0 };
  const spreading = new Set<string>();

  // Stops at the first excess, so the work is bounded by the limits, not by how many times
  // fragments would expand. Every path ends in a field once cycles are refused.
  function visit(selectionSet: SelectionSetNode, depth: number, inIntrospection: boolean): void {
    for (const selection of selectionSet.selections) {
      if (selection.kind === Kind.FIELD) {
        const name = selection.name.value;
        const introspection = inIntrospection || name === "__schema" || name === "__type";
        if (depth === 1 && ++counts.root > GRAPHQL_LIMITS.maxRootFields) {
          throw new LimitExceeded(`Too many root fields: at most ${GRAPHQL_LIMITS.maxRootFields} per operation.`);
        }
        if (introspection) {
          if (++counts.introspection > GRAPHQL_LIMITS.maxIntrospectionFields) {
            throw new LimitExceeded(`Introspection too large: at most ${GRAPHQL_LIMITS.maxIntrospectionFields} introspection fields per operation.`);
          }
        } else {
          if (depth > GRAPHQL_LIMITS.maxDepth) throw new LimitExceeded(`Query too deep: at most ${GRAPHQL_LIMITS.maxDepth} levels of fields.`);
          if (++counts.fields > GRAPHQL_LIMITS.maxFields) {
            throw new LimitExceeded(`Too many fields: at most ${GRAPHQL_LIMITS.maxFields} field selections per operation, with fragments expanded.`);
          }
        }
        if (selection.selectionSet) visit(selection.selectionSet, depth + 1, introspection);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        visit(selection.selectionSet, depth, inIntrospection);
      } else {
        const name = selection.name.value;
        const fragment = fragments.get(name);
        if (!fragment) continue; // reported by validation
        if (spreading.has(name)) throw new LimitExceeded(`Cannot spread fragment "${name}" within itself.`);
        spreading.add(name);
        visit(fragment.selectionSet, depth, inIntrospection);
        spreading.delete(name);
      }
    }
  }

  try {
    visit(operation.selectionSet, 1, false);
    return null;
  } catch (error) {
    if (error instanceof LimitExceeded) return error.message;
    throw error;
  }
}
