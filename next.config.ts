import type { NextConfig } from "next";
import { API_CONTENT_SECURITY_POLICY, COMMON_SECURITY_HEADERS } from "./lib/security/content-security-policy";

// Added to the common headers on the JSON APIs (a later matching rule adds, or replaces the same key).
const apiHeaders = [{ key: "Content-Security-Policy", value: API_CONTENT_SECURITY_POLICY }];

const nextConfig: NextConfig = {
  poweredByHeader: false,
  // Native database and hashing bindings load from node_modules at run time.
  serverExternalPackages: ["@libsql/client", "libsql", "@node-rs/argon2"],
  // Pages get their Content-Security-Policy, with a per-request nonce, from proxy.ts.
  async headers() {
    return [
      { source: "/:path*", headers: [...COMMON_SECURITY_HEADERS] },
      { source: "/api/:path*", headers: apiHeaders },
      { source: "/v2/:path*", headers: apiHeaders },
      { source: "/graphql", headers: apiHeaders },
    ];
  },
};

export default nextConfig;
