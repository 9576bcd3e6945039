import { handleLeaksApi } from "@/lib/http/leaks-api";

export const dynamic = "force-dynamic";
export { handleLeaksApi as GET, handleLeaksApi as POST };
