import nextVitals from "eslint-config-next/core-web-vitals";
import nextTs from "eslint-config-next/typescript";

// lib/core is the pure core (keys, scopes, the decision, names): it takes what varies as
// arguments and imports only itself, zod, ipaddr.js and node built-ins — never the database, the DAL, HTTP,
// Next.js or React. Enforced here rather than hoped for (lib/core/purity.test.ts proves the rule bites).
const PURE_CORE = "lib/core is the pure core: it may import only lib/core, zod, ipaddr.js and node: built-ins (no db, DAL, HTTP, server, Next.js or React).";

const config = [
  ...nextVitals,
  ...nextTs,
  { ignores: [".next/**", "node_modules/**", "data/**", ".e2e/**", "test-results/**", "playwright-report/**", "next-env.d.ts", "db/migrations/**"] },
  {
    files: ["lib/core/**/*.ts", "lib/core/**/*.tsx"],
    ignores: ["lib/core/**/*.test.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            { group: ["@/db", "@/db/**", "@/app/**", "@/components/**", "@/testing/**", "@/scripts/**", "@/lib/*", "!@/lib/core", "!@/lib/core/**"], message: PURE_CORE },
            { group: ["../*", "../../*"], message: `${PURE_CORE} Import other core modules as @/lib/core/….` },
            {
              group: ["next", "next/*", "react", "react/*", "react-dom", "react-dom/*", "server-only", "libsql", "@libsql/*", "drizzle-orm", "drizzle-orm/*", "next-auth", "next-auth/*", "graphql"],
              message: PURE_CORE,
            },
          ],
        },
      ],
    },
  },
];

export default config;
