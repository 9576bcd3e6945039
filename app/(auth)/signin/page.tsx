import type { Metadata } from "next";
import { redirect } from "next/navigation";
import { getCurrentAccount } from "@/lib/auth/session";
import { signInAction } from "../actions";
import { AuthForm } from "../auth-form";
import { formInvitation } from "../invite/join";

export const metadata: Metadata = { title: "Sign in" };

export default async function SignInPage({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  // Opened from an invitation link (SPEC §11): the form carries it, and joins the team on the way in.
  const invite = await formInvitation((await searchParams).invite);
  if (await getCurrentAccount()) redirect(invite ? `/invite/${invite.token}` : "/settings/api-keys");
  return <AuthForm mode="signin" action={signInAction} invite={invite} />;
}
