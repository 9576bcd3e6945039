"use client";

import Link from "next/link";
import { usePathname } from "next/navigation";

const links = [
  { href: "/settings/api-keys", label: "API keys" },
  { href: "/settings/endpoints", label: "Endpoints" },
  { href: "/settings/audit-log", label: "Audit log" },
  { href: "/settings/webhooks", label: "Webhooks" },
  { href: "/settings/members", label: "Members" },
  { href: "/settings/policies", label: "Policies" },
  { href: "/settings/approvals", label: "Approvals" },
];

export function SettingsNav() {
  const pathname = usePathname();
  return (
    <nav aria-label="Settings" className="flex flex-wrap gap-1 text-sm">
      {links.map((link) => {
        const current = pathname === link.href;
        return (
          <Link
            key={link.href}
            href={link.href}
            aria-current={current ? "page" : undefined}
            className={`rounded-md px-2.5 py-1.5 ${current ? "bg-zinc-100 font-medium text-zinc-900" : "text-zinc-600 hover:text-zinc-900"}`}
          >
            {link.label}
          </Link>
        );
      })}
    </nav>
  );
}
