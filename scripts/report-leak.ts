// npm run keys:report-leak -- [--url <where>] [--source <what>] <file>
// Signs a secret scanner's findings with LEAK_REPORT_SECRET and posts them to KEYSCOPE_URL's
// /api/v1/leaks (SPEC §9): every token that is a key there is disabled. Prints counts, never a
// token or a hash. The file is the route's JSON array, or one token per line (type "manual").
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { z } from "zod";
import { parseFindingsFile, reportBodies } from "@/lib/core/leaks/findings-file";
import { LEAK_SIGNATURE_HEADER, signLeakReport } from "@/lib/core/leaks/report";
import { readEnv } from "@/lib/env";

const USAGE = "usage: npm run keys:report-leak -- [--url <where found>] [--source <what found it>] <file>";
const DEFAULT_URL = "http://127.0.0.1:3000";
const TIMEOUT_MS = 30_000;

const answerSchema = z.array(z.object({ token_hash: z.string(), token_type: z.string(), label: z.enum(["true_positive", "false_positive"]) }));
const errorSchema = z.object({ error: z.object({ code: z.string(), message: z.string() }) });

const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

function summary(truePositives: number, falsePositives: number): string {
  const disabled = truePositives === 0 ? "" : truePositives === 1 ? " (its key is disabled)" : " (their keys are disabled)";
  return `${plural(truePositives, "true positive", "true positives")}${disabled}, ${plural(falsePositives, "false positive", "false positives")}`;
}

async function main(): Promise<number> {
  let values: { url?: string; source?: string };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ options: { url: { type: "string" }, source: { type: "string" } }, allowPositionals: true }));
  } catch (error) {
    console.error(`${error instanceof Error ? error.message : error}\n${USAGE}`);
    return 2;
  }
  const [file, ...extra] = positionals;
  if (!file || extra.length > 0) {
    console.error(USAGE);
    return 2;
  }

  let secret: string | undefined;
  try {
    secret = readEnv().LEAK_REPORT_SECRET;
  } catch (error) {
    console.error(error instanceof Error ? error.message : "Invalid environment.");
    return 1;
  }
  if (!secret) {
    console.error("LEAK_REPORT_SECRET is not set: it must be the same secret the server has. Nothing was reported.");
    return 1;
  }
  const base = process.env.KEYSCOPE_URL || DEFAULT_URL;
  let endpoint: URL;
  try {
    endpoint = new URL(`${base.replace(/\/+$/, "")}/api/v1/leaks`);
    if (endpoint.protocol !== "http:" && endpoint.protocol !== "https:") throw new TypeError("not http(s)");
  } catch {
    console.error("KEYSCOPE_URL must be an http(s) URL, for example https://keys.example.com. Nothing was reported.");
    return 1;
  }

  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    console.error(`Cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? "unknown error"}`);
    return 1;
  }
  const parsed = parseFindingsFile(text, { url: values.url ?? "", source: values.source ?? "manual" });
  if (!parsed.ok) {
    console.error(`${file}: ${parsed.message}. Nothing was reported.`);
    return 1;
  }
  if (parsed.findings.length === 0) {
    console.log("No findings to report.");
    return 0;
  }

  // Over the route's limits, the findings go in several requests, in order.
  const bodies = reportBodies(parsed.findings);
  let truePositives = 0;
  let falsePositives = 0;
  for (const [index, body] of bodies.entries()) {
    const part = bodies.length > 1 ? ` (part ${index + 1} of ${bodies.length})` : "";
    const sentSoFar = index > 0 ? ` Reported before it: ${summary(truePositives, falsePositives)}.` : " Nothing was reported.";
    let response: Response;
    try {
      response = await fetch(endpoint, {
        method: "POST",
        headers: { "content-type": "application/json", [LEAK_SIGNATURE_HEADER]: signLeakReport(body, secret) },
        body,
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
    } catch (error) {
      // A system error's code (ECONNREFUSED, ENOTFOUND), else what fetch said: never the body.
      const { cause } = error as { cause?: { code?: string; message?: string } };
      const reason = cause?.code ?? cause?.message ?? (error instanceof Error ? error.message : "unknown error");
      console.error(`Cannot reach ${endpoint.origin}${part}: ${reason}.${sentSoFar}`);
      return 1;
    }
    const answer: unknown = await response.json().catch(() => null);
    if (response.status !== 200) {
      const refusal = errorSchema.safeParse(answer);
      const why = refusal.success ? `${refusal.data.error.code}: ${refusal.data.error.message}` : "no details";
      const hint = response.status === 404 ? " Is LEAK_REPORT_SECRET set on the server?" : response.status === 401 ? " Is LEAK_REPORT_SECRET the server's?" : "";
      console.error(`The server answered ${response.status}${part} (${why}).${hint}${sentSoFar}`);
      return 1;
    }
    const labels = answerSchema.safeParse(answer);
    const expected = (JSON.parse(body) as unknown[]).length;
    if (!labels.success || labels.data.length !== expected) {
      console.error(`The server's answer${part} is not a leak report's answer.${sentSoFar}`);
      return 1;
    }
    for (const { label } of labels.data) {
      if (label === "true_positive") truePositives += 1;
      else falsePositives += 1;
    }
  }
  console.log(`Reported ${plural(parsed.findings.length, "finding", "findings")}: ${summary(truePositives, falsePositives)}.`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(`Report failed: ${error instanceof Error ? error.name : "unknown error"}.`);
    process.exit(1);
  },
);
