import { describe, expect, it } from "vitest";
import path from "node:path";
import { diskFileOf, filePathOf } from "./url";

describe("filePathOf", () => {
  // Expected paths are the ones @libsql/client itself opens for the same URL.
  it.each([
    ["file:./data/keyscope.db", "./data/keyscope.db"],
    ["file:data/keyscope.db", "data/keyscope.db"],
    ["file:/var/lib/keyscope/keyscope.db", "/var/lib/keyscope/keyscope.db"],
    ["file:///var/lib/keyscope/keyscope.db", "/var/lib/keyscope/keyscope.db"],
    ["file://localhost/var/lib/keyscope/keyscope.db", "/var/lib/keyscope/keyscope.db"],
    ["file:/srv/my%20data/keyscope.db", "/srv/my data/keyscope.db"],
    ["file:./data/keyscope.db?foo=bar", "./data/keyscope.db"],
    ["file::memory:", ":memory:"],
  ])("%s → %s", (url, expected) => {
    expect(filePathOf(url)).toBe(expected);
  });

  it.each([
    ["libsql://keyscope-org.turso.io"],
    ["http://127.0.0.1:8080"],
    ["https://db.example.com"],
    ["ws://127.0.0.1:8080"],
  ])("%s is remote: null", (url) => {
    expect(filePathOf(url)).toBeNull();
  });
});

describe("diskFileOf", () => {
  it.each([
    ["file:/var/lib/keyscope/keyscope.db", "/var/lib/keyscope/keyscope.db"],
    ["file:///srv/my%20data/keyscope.db", "/srv/my data/keyscope.db"],
    ["file:data/keyscope.db", path.resolve("data/keyscope.db")],
    ["file::memory:", null],
    ["file:shared?mode=memory&cache=shared", null],
    ["libsql://keyscope-org.turso.io", null],
    ["http://127.0.0.1:8080", null],
  ])("%s → %s", (url, expected) => {
    expect(diskFileOf(url)).toBe(expected);
  });
});
