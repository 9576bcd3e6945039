import type { Metadata, Viewport } from "next";
import { GeistMono } from "geist/font/mono";
import { GeistSans } from "geist/font/sans";
import { connection } from "next/server";
import { StyleNonce } from "./_components/style-nonce";
import "./globals.css";

export const metadata: Metadata = {
  title: { default: "Keyscope", template: "%s · Keyscope" },
  description: "Scoped API keys for your endpoints.",
  icons: { icon: "/favicon.svg" },
};

export const viewport: Viewport = { width: "device-width", initialScale: 1 };

export default async function RootLayout({ children }: Readonly<{ children: React.ReactNode }>) {
  // Every page, the 404 page included, is rendered per request: Next.js can only put this
  // response's CSP nonce (proxy.ts) on its scripts when it renders them for this request.
  await connection();
  return (
    <html lang="en" className={`${GeistSans.variable} ${GeistMono.variable}`}>
      <body className="min-h-screen font-sans">
        <StyleNonce />
        {children}
      </body>
    </html>
  );
}
