import Link from "next/link";
import { signOut } from "@/lib/auth/next-auth";
import { endAccountSessions } from "@/lib/dal/accounts";
import { getCurrentAccount, requireAccount } from "@/lib/auth/session";
import { buttonClass } from "@/components/ui/button";
import { listUserTeams } from "@/lib/dal/members";
import { TeamSwitcher } from "./_components/team-switcher";
import { Providers } from "./providers";
import { SettingsNav } from "./settings-nav";

export default async function SettingsLayout({ children }: { children: React.ReactNode }) {
  const account = await requireAccount();
  // SPEC §11 `Team`: only for a user in more than one team.
  const teams = await listUserTeams(account.userId);
  async function signOutAction() {
    "use server";
    // Clearing the cookie alone would leave any copy of it working for its 7 days. Moving the
    // user's session version on refuses every cookie issued so far: with one version per user,
    // this signs the user out in every browser, by design (issue 7).
    const current = await getCurrentAccount();
    if (current) await endAccountSessions(current.userId);
    await signOut({ redirectTo: "/signin" });
  }
  return (
    <Providers>
      <header className="border-b border-zinc-200 bg-white">
        <div className="mx-auto flex max-w-5xl flex-wrap items-center gap-x-6 gap-y-2 px-4 py-3">
          <Link href="/settings/api-keys" className="font-semibold tracking-tight">
            Keyscope
          </Link>
          <SettingsNav />
          <div className="ml-auto flex items-center gap-3 text-sm text-zinc-600">
            {teams.length > 1 ? <TeamSwitcher teams={teams} currentTeamId={account.id} /> : null}
            <span className="hidden truncate sm:inline" title={account.email}>
              {account.email}
            </span>
            <form action={signOutAction}>
              <button type="submit" className={buttonClass("ghost")}>
                Sign out
              </button>
            </form>
          </div>
        </div>
      </header>
      <main className="mx-auto max-w-5xl px-4 py-6 sm:py-8">{children}</main>
    </Providers>
  );
}
