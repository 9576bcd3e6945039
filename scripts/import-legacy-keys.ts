// npm run keys:import-legacy -- --account <email> <file>
// Imports legacy keys, all or nothing. Prints counts and line numbers, never a key or a hash.
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { findAccountByEmail } from "@/lib/dal/accounts";
import { importLegacyApiKeys } from "@/lib/dal/api-keys";
import { parseLegacyKeyFile } from "@/lib/core/keys/legacy-file";

const USAGE = "usage: npm run keys:import-legacy -- --account <email> <file>";

async function main(): Promise<number> {
  let values: { account?: string };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ options: { account: { type: "string" } }, allowPositionals: true }));
  } catch (error) {
    console.error(`${error instanceof Error ? error.message : error}\n${USAGE}`);
    return 2;
  }
  const [file, ...extra] = positionals;
  if (!values.account || !file || extra.length > 0) {
    console.error(USAGE);
    return 2;
  }

  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    console.error(`Cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? "unknown error"}`);
    return 1;
  }
  const parsed = parseLegacyKeyFile(text);
  if (!parsed.ok) {
    console.error(`${file}:${parsed.line}: ${parsed.message}. Nothing was imported.`);
    return 1;
  }

  const account = await findAccountByEmail(values.account);
  if (!account) {
    console.error(`No account with the email ${values.account}. Nothing was imported.`);
    return 1;
  }
  const result = await importLegacyApiKeys(account.id, parsed.entries, { type: "cli", command: "keys:import-legacy" });
  if (!result.ok) {
    console.error(`${file}: ${result.message} Nothing was imported.`);
    return 1;
  }
  const count = result.value.ids.length;
  console.log(`Imported ${count} legacy key${count === 1 ? "" : "s"} into ${account.email}.`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(`Import failed: ${error instanceof Error ? error.name : "unknown error"}. Nothing was imported.`);
    process.exit(1);
  },
);
