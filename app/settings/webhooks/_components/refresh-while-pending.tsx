"use client";

import { useRouter } from "next/navigation";
import { useEffect } from "react";

/** While a delivery is pending, re-reads the page every few seconds, so its outcome shows without a reload. */
export function RefreshWhilePending({ pending, everyMs = 3_000 }: { pending: boolean; everyMs?: number }) {
  const router = useRouter();
  useEffect(() => {
    if (!pending) return;
    const timer = setInterval(() => router.refresh(), everyMs);
    return () => clearInterval(timer);
  }, [pending, everyMs, router]);
  return null;
}
