import { getTableColumns } from "drizzle-orm";
import type { SQLiteTable } from "drizzle-orm/sqlite-core";
import { describe, expect, it } from "vitest";
import { ACCESS_LEVELS, REQUIRED_LEVELS } from "@/lib/core/scopes/levels";
import * as schema from "./index";

// Every level column takes its enum from the one table in lib/core/scopes/levels.ts.
const columns = Object.entries(schema as Record<string, SQLiteTable>).flatMap(([table, columnsOf]) =>
  Object.values(getTableColumns(columnsOf)).map((column) => ({ name: `${table}.${column.name}`, enumValues: column.enumValues })),
);
const levelColumns = columns.filter((column) => column.enumValues?.some((value: string) => (ACCESS_LEVELS as readonly string[]).includes(value)));

describe("the schema's level columns", () => {
  it("are the six we know of", () => {
    expect(levelColumns.map((column) => column.name).sort()).toEqual([
      "apiKeyElevations.level",
      "apiKeyEndpointScopes.level",
      "apiKeyUsageDaily.access",
      "apiKeyUsageHourly.access",
      "apiKeys.endpoints_all_level",
      "apiKeys.graphql_level",
    ]);
  });

  // An elevation raises a level, and usage counts what requests needed: the levels a request can
  // need, never `none`.
  const requiredOnly = new Set(["apiKeyElevations.level", "apiKeyUsageDaily.access", "apiKeyUsageHourly.access"]);
  const expected = (name: string) => (requiredOnly.has(name) ? [...REQUIRED_LEVELS] : [...ACCESS_LEVELS]);
  it.each(levelColumns.map((column) => [column.name, column.enumValues] as const))("%s takes exactly the table's ids", (name, enumValues) => {
    expect(enumValues).toEqual(expected(name));
  });
});
