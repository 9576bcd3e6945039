import "server-only";
import { cookies, headers } from "next/headers";
import { TEAM_COOKIE } from "./session";

/**
 * Makes `teamId` the team this browser works in (SPEC §11 `Team`, and joining a team). Only for a
 * team the caller has just checked the user is in; even so the cookie is a preference, not a
 * grant: every read re-checks the membership (lib/auth/session.ts) and falls back to the user's
 * first team.
 */
export async function chooseTeam(teamId: string): Promise<void> {
  const https = (await headers()).get("x-forwarded-proto")?.split(",")[0]?.trim() === "https";
  (await cookies()).set(TEAM_COOKIE, teamId, { httpOnly: true, sameSite: "lax", path: "/", secure: https, maxAge: 365 * 24 * 60 * 60 });
}
