import { redirect } from "next/navigation";
import { getCurrentAccount } from "@/lib/auth/session";

export default async function HomePage() {
  const account = await getCurrentAccount();
  redirect(account ? "/settings/api-keys" : "/signin");
}
