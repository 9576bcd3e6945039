// Runs once when a Next.js server process starts: create and migrate the database, and start the
// data plane (echo worker, last-used writer flushed on exit) before the first request, so
// `next start` needs no separate step.
export async function register() {
  if (process.env.NEXT_RUNTIME === "nodejs") {
    const { getDataPlane } = await import("./lib/server/data-plane");
    await getDataPlane();
  }
}
