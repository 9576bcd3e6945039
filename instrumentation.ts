// Runs once when a Next.js server process starts: create and migrate the database before the
// first request, so `next start` needs no separate step.
export async function register() {
  if (process.env.NEXT_RUNTIME === "nodejs") {
    const { getDb } = await import("./db/client");
    await getDb();
  }
}
