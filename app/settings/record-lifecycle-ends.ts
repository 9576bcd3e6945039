import "server-only";
import { recordExpiryEvents, recordLifecycleEnds } from "@/lib/dal/key-lifecycle";

/**
 * Before a page shows a key or the audit log: writes the elevations and grace periods that have
 * run out, and keys expiring or expired (SPEC §9 events), into the log, so the page is up to
 * date. Bookkeeping only (decisions never wait for it), so a database that refuses the write now
 * does not stop the page: the next reader, or the data plane's sweep, records them.
 */
export async function noteLifecycleEnds(): Promise<void> {
  try {
    await Promise.all([recordLifecycleEnds(), recordExpiryEvents()]);
  } catch (error) {
    console.error(`recording lifecycle ends failed: ${error instanceof Error ? error.name : "unknown"}`);
  }
}
