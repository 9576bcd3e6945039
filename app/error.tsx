"use client";

// Shown instead of a bare 500 when a page fails to render (for example while the database is
// locked past its timeout). It never shows the error's message: only the digest, for the logs.
export default function ErrorPage({ error, reset }: { error: Error & { digest?: string }; reset: () => void }) {
  return (
    <main className="flex min-h-screen flex-col items-center justify-center gap-3 px-4 text-center">
      <h1 className="text-2xl font-semibold tracking-tight">Something went wrong</h1>
      <p className="text-sm text-zinc-600">The page could not be loaded. Try again in a moment.</p>
      <button type="button" onClick={reset} className="rounded-md bg-zinc-900 px-3 py-1.5 text-sm font-medium text-white hover:bg-zinc-700">
        Try again
      </button>
      {error.digest ? <p className="text-xs text-zinc-400">Reference: {error.digest}</p> : null}
    </main>
  );
}
