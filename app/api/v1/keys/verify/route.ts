import { handleVerifyApi } from "@/lib/http/verify-api";

export const dynamic = "force-dynamic";
export { handleVerifyApi as GET, handleVerifyApi as POST };
