import Link from "next/link";

export default function NotFound() {
  return (
    <main className="flex min-h-screen flex-col items-center justify-center gap-3 px-4 text-center">
      <h1 className="text-2xl font-semibold tracking-tight">Page not found</h1>
      <p className="text-sm text-zinc-600">There is nothing at this address, or it belongs to another account.</p>
      <Link href="/settings/api-keys" className="text-sm font-medium text-indigo-700 underline-offset-2 hover:underline">
        Go to your API keys
      </Link>
    </main>
  );
}
