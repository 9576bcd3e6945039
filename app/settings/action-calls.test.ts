import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

// One way for client components to call the dashboard's server actions: useActionCall
// (components/use-action-call.ts), which gives every call the same pending state, refusal
// message and field errors. Sign-in and sign-up (app/(auth)) are form actions, not session actions.
const ROOT = process.cwd();

function sourceFiles(dir: string): string[] {
  return readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
    const relative = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(relative);
    return /\.tsx?$/.test(entry.name) && !/\.test\.tsx?$/.test(entry.name) ? [relative] : [];
  });
}

const clientFiles = [...sourceFiles("app/settings"), ...sourceFiles("components")]
  .map((file) => ({ file, text: readFileSync(path.join(ROOT, file), "utf8") }))
  .filter(({ text }) => /^\s*["']use client["']/.test(text));
const IMPORTS_ACTIONS = /from\s+["'][^"']*\/actions["']/;
const callers = clientFiles.filter(({ text }) => IMPORTS_ACTIONS.test(text));

describe("client components call server actions through useActionCall", () => {
  it("finds the dashboard's callers (so the checks below are not vacuous)", () => {
    expect(callers.map(({ file }) => path.basename(file))).toEqual(expect.arrayContaining([
      "create-endpoint-form.tsx",
      "create-key-dialog.tsx",
      "delete-key-button.tsx",
      "edit-scopes-dialog.tsx",
      "endpoint-actions.tsx",
      "key-enabled-switch.tsx",
    ]));
  });

  it("ConfirmedActionButton, which runs the actions a confirmation guards, calls them through useActionCall", () => {
    const text = readFileSync(path.join(ROOT, "components/confirmed-action-button.tsx"), "utf8");
    expect(text).toMatch(/import \{ useActionCall \} from "\.\/use-action-call"/);
    expect(text).toMatch(/await action\.call\(run\)/);
  });

  it.each(callers.map(({ file, text }) => [file, text]))("%s", (_file, text) => {
    const confirmed = /import \{ ConfirmedActionButton \} from "@\/components\/confirmed-action-button"/.test(text);
    if (!confirmed) expect(text).toMatch(/import \{ useActionCall \} from "@\/components\/use-action-call"/);
    // Another path to the same actions: its own error handling, its own pending state.
    expect(text).not.toMatch(/\buseMutation\b|\buseActionState\b|\buseTransition\b|\buseFormStatus\b/);
    // Every call of an imported action is inside action.call(() => …).
    const imported = [...text.matchAll(/import \{([^}]*)\} from "[^"]*\/actions"/g)].flatMap((match) => match[1]!.split(",").map((name) => name.trim()).filter(Boolean));
    for (const name of imported) {
      const calls = text.split(`${name}(`).length - 1;
      // …or handed to ConfirmedActionButton as its `run`, which calls it that way.
      const wrapped = text.split(`.call(() => ${name}(`).length - 1 + (confirmed ? text.split(`run={() => ${name}(`).length - 1 : 0);
      expect({ name, calls }).toEqual({ name, calls: wrapped });
    }
  });
});
