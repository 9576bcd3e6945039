export type DalErrorCode = "NOT_FOUND" | "BAD_REQUEST" | "CONFLICT";

/** Errors are values inside the app; routes and actions turn them into statuses or messages. */
export type DalResult<T> = { ok: true; value: T } | { ok: false; code: DalErrorCode; message: string };

export const ok = <T>(value: T): DalResult<T> => ({ ok: true, value });
export const fail = <T = never>(code: DalErrorCode, message: string): DalResult<T> => ({ ok: false, code, message });
