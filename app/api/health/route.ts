// Liveness: answers without authentication or a database read (the benchmark's baseline for a
// Next.js route, and a probe for load balancers).
export const dynamic = "force-dynamic";

export function GET(): Response {
  return Response.json({ status: "ok" }, { headers: { "cache-control": "no-store" } });
}
