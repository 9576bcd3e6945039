import type { Metadata } from "next";
import Link from "next/link";
import type { ReactNode } from "react";
import { buttonClass } from "@/components/ui/button";
import { getCurrentAccount } from "@/lib/auth/session";
import { ROLE_LABELS } from "@/lib/core/teams/roles";
import { INVITATION_EXPIRED, INVITATION_INVALID, INVITATION_USED, listUserTeams, previewInvitation } from "@/lib/dal/members";
import { JoinTeamForm } from "./join-team-form";

export const metadata: Metadata = { title: "Invitation" };

const linkClass = "font-medium text-indigo-700 underline-offset-2 hover:underline";

/** A link that cannot be used: what is wrong, and where to go instead. Nothing was changed. */
function Refusal({ title, message, signedIn }: { title: string; message: ReactNode; signedIn: boolean }) {
  return (
    <div className="flex flex-col gap-4">
      <h1 className="text-lg font-semibold">{title}</h1>
      <p role="alert" className="rounded-md bg-red-50 px-3 py-2 text-sm text-red-700">
        {message}
      </p>
      <p className="text-center text-sm text-zinc-600">
        {signedIn ? (
          <Link href="/settings/api-keys" className={linkClass}>
            Go to your dashboard
          </Link>
        ) : (
          <Link href="/signin" className={linkClass}>
            Sign in
          </Link>
        )}
      </p>
    </div>
  );
}

/**
 * SPEC §11 invitation links: signed in as the invited email → `Join team`; signed out → sign in or
 * create an account with that email, which joins on the way in (app/(auth)/actions.ts). An unknown,
 * used or expired link, or a signed-in user with another email, gets a page saying so, and this
 * page never changes anything itself (a GET may be prefetched or previewed).
 */
export default async function InvitationPage({ params }: { params: Promise<{ token: string }> }) {
  const { token } = await params;
  const [preview, account] = await Promise.all([previewInvitation(token), getCurrentAccount()]);
  const signedIn = account !== null;
  if (!preview) return <Refusal title="Invitation not valid" message={INVITATION_INVALID} signedIn={signedIn} />;
  if (preview.status === "used") return <Refusal title="Invitation already used" message={INVITATION_USED} signedIn={signedIn} />;
  if (preview.status === "expired") return <Refusal title="Invitation expired" message={INVITATION_EXPIRED} signedIn={signedIn} />;

  const invitation = (
    <p className="text-sm text-zinc-700">
      You are invited to join the team <span className="break-all font-medium text-zinc-900">{preview.teamName}</span> as{" "}
      <span className="font-medium text-zinc-900">{ROLE_LABELS[preview.role]}</span>.
    </p>
  );

  if (account && account.email !== preview.email) {
    return (
      <Refusal
        title="This invitation is for someone else"
        message={
          <>
            This invitation is for <span className="break-all font-medium">{preview.email}</span>, but you are signed in as{" "}
            <span className="break-all font-medium">{account.email}</span>. Sign out and open the link again to join as {preview.email}.
          </>
        }
        signedIn
      />
    );
  }

  if (account) {
    const teams = await listUserTeams(account.userId);
    if (teams.some((team) => team.id === preview.teamId)) {
      return <Refusal title="Already a member" message="You are already a member of this team." signedIn />;
    }
    return (
      <div className="flex flex-col gap-4">
        <h1 className="text-lg font-semibold">Join team</h1>
        {invitation}
        <JoinTeamForm token={token} />
      </div>
    );
  }

  const query = `?invite=${encodeURIComponent(token)}`;
  return (
    <div className="flex flex-col gap-4">
      <h1 className="text-lg font-semibold">Join team</h1>
      {invitation}
      <p className="text-sm text-zinc-600">
        Sign in, or create an account, as <span className="break-all font-medium text-zinc-900">{preview.email}</span> to join.
      </p>
      <div className="flex flex-col gap-2">
        <Link href={`/signup${query}`} className={buttonClass("primary")}>
          Create account
        </Link>
        <Link href={`/signin${query}`} className={buttonClass("secondary")}>
          Sign in
        </Link>
      </div>
    </div>
  );
}
