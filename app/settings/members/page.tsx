import type { Metadata } from "next";
import { notFound } from "next/navigation";
import { requireAccount } from "@/lib/auth/session";
import { permissionRefusal } from "@/lib/core/teams/refusals";
import { ROLE_LABELS } from "@/lib/core/teams/roles";
import { listMembers, listPendingInvitations } from "@/lib/dal/members";
import { Timestamp } from "../api-keys/key-times";
import { formatExactTime, formatTimeUntil } from "../api-keys/relative-time";
import { ReadOnlyNote } from "../read-only-note";
import { InviteMemberDialog } from "./_components/invite-member-dialog";
import { MemberRoleSelect } from "./_components/member-role-select";
import { RemoveMemberButton } from "./_components/remove-member-button";

export const metadata: Metadata = { title: "Members" };

// Below the md breakpoint each row stacks into a card; explicit roles keep it a table for assistive tech.
const cell = "block px-4 py-1 md:table-cell md:py-3 md:align-middle";
const cellLabel = "mr-2 text-xs font-medium text-zinc-500 md:hidden";

export default async function MembersPage() {
  const account = await requireAccount();
  const [members, pending] = await Promise.all([listMembers(account.id, account.userId), listPendingInvitations(account.id, account.userId)]);
  // The session's membership was just checked; a miss here is a removal between the two reads.
  if (!members.ok) notFound();
  // SPEC §11: everyone sees who is in the team; owners invite, change roles and remove.
  const refusal = permissionRefusal(account.role, "members.manage");
  const manage = refusal === null;
  const now = new Date();

  return (
    <section className="flex flex-col gap-6">
      <div className="flex flex-wrap items-start justify-between gap-4">
        <div>
          <h1 className="text-2xl font-semibold tracking-tight">Members</h1>
          <p className="mt-1 max-w-2xl text-sm text-zinc-600">
            People who work in this team, and what their role lets them do. A removed member&apos;s keys in this team are disabled.
          </p>
        </div>
        {manage ? <InviteMemberDialog /> : <ReadOnlyNote reason={refusal} />}
      </div>

      <div className="overflow-hidden rounded-lg border border-zinc-200 bg-white">
        <table role="table" aria-label="Members" className="block w-full text-sm md:table">
          <thead role="rowgroup" className="hidden bg-zinc-50 text-left text-xs font-medium text-zinc-500 md:table-header-group">
            <tr role="row">
              <th role="columnheader" scope="col" className="px-4 py-2">Email</th>
              <th role="columnheader" scope="col" className="px-4 py-2">Role</th>
              <th role="columnheader" scope="col" className="px-4 py-2">Joined</th>
              {manage ? (
                <th role="columnheader" scope="col" className="px-4 py-2">
                  <span className="sr-only">Actions</span>
                </th>
              ) : null}
            </tr>
          </thead>
          <tbody role="rowgroup" className="block divide-y divide-zinc-100 md:table-row-group">
            {members.value.map((member) => {
              const self = member.userId === account.userId;
              return (
                <tr key={member.userId} role="row" aria-label={member.email} className="block py-2 md:table-row md:py-0">
                  <td role="cell" className={`${cell} break-all font-medium text-zinc-900`}>
                    {member.email}
                    {self ? <span className="ml-2 rounded-full bg-zinc-100 px-2 py-0.5 text-xs font-normal text-zinc-600">You</span> : null}
                  </td>
                  <td role="cell" className={cell}>
                    <span className={cellLabel}>Role</span>
                    {manage ? <MemberRoleSelect key={member.role} userId={member.userId} email={member.email} role={member.role} /> : ROLE_LABELS[member.role]}
                  </td>
                  <td role="cell" className={`${cell} text-zinc-700`}>
                    <span className={cellLabel}>Joined</span>
                    <Timestamp date={member.joinedAt} now={now} />
                  </td>
                  {manage ? (
                    <td role="cell" className={`${cell} md:text-right`}>
                      <RemoveMemberButton userId={member.userId} email={member.email} self={self} />
                    </td>
                  ) : null}
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>

      {manage && pending.length > 0 ? (
        <div className="flex flex-col gap-3">
          <h2 className="text-lg font-semibold tracking-tight">Pending invitations</h2>
          <ul aria-label="Pending invitations" className="divide-y divide-zinc-100 rounded-lg border border-zinc-200 bg-white">
            {pending.map((invitation) => (
              <li key={invitation.id} aria-label={invitation.email} className="flex flex-wrap items-baseline gap-x-4 gap-y-1 px-4 py-3 text-sm">
                <span className="break-all font-medium text-zinc-900">{invitation.email}</span>
                <span className="text-zinc-700">{ROLE_LABELS[invitation.role]}</span>
                <span className="text-xs text-zinc-500">
                  Link expires{" "}
                  <time dateTime={invitation.expiresAt.toISOString()} title={formatExactTime(invitation.expiresAt)}>
                    {formatTimeUntil(invitation.expiresAt, now)}
                  </time>
                </span>
              </li>
            ))}
          </ul>
          <p className="text-xs text-zinc-500">Inviting the same email again replaces its link.</p>
        </div>
      ) : null}
    </section>
  );
}
