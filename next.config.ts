import type { NextConfig } from "next";

const nextConfig: NextConfig = {
  poweredByHeader: false,
  // Native database and hashing bindings load from node_modules at run time.
  serverExternalPackages: ["@libsql/client", "libsql", "@node-rs/argon2"],
};

export default nextConfig;
