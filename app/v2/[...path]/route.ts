import { handleEndpointApi } from "@/lib/http/endpoint-api";

export const dynamic = "force-dynamic";
export { handleEndpointApi as GET, handleEndpointApi as POST, handleEndpointApi as PUT, handleEndpointApi as DELETE, handleEndpointApi as PATCH };
