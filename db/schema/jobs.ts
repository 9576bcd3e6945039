import { foreignKey, index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { endpoints } from "./endpoints";

export const JOB_STATUSES = ["IN_QUEUE", "IN_PROGRESS", "COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT"] as const;

/** Serverless jobs, run by the built-in echo worker; they persist across restarts. */
export const jobs = sqliteTable(
  "jobs",
  {
    id: text("id").primaryKey(),
    accountId: text("account_id").notNull(),
    endpointId: text("endpoint_id").notNull(),
    status: text("status", { enum: JOB_STATUSES }).notNull(),
    // JSON text of the request's `input`, and of the worker's output.
    input: text("input").notNull(),
    output: text("output"),
    retries: integer("retries").notNull().default(0),
    createdAt: integer("created_at").notNull(),
    startedAt: integer("started_at"),
    completedAt: integer("completed_at"),
  },
  (t) => [
    foreignKey({ columns: [t.accountId, t.endpointId], foreignColumns: [endpoints.accountId, endpoints.id] }).onDelete("cascade"),
    index("jobs_endpoint_status_idx").on(t.endpointId, t.status),
    index("jobs_queue_idx").on(t.status, t.createdAt),
    // Per-account quotas on unfinished jobs (count and input bytes) read this on every submission.
    index("jobs_account_status_idx").on(t.accountId, t.status),
    // The worker's round-robin claim: the next account with queued jobs, then its oldest job.
    index("jobs_claim_idx").on(t.status, t.accountId, t.createdAt),
  ],
);
