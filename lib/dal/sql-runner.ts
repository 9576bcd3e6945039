// The runner lives in db/ now, on the database handle (db/handle.ts); this name stays for
// key-store.ts until it imports the type from there.
export type { SqlRunner } from "@/db/sql-runner";
