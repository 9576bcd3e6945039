import { handleGraphqlRequest } from "@/lib/http/graphql/handler";

// Every method goes to the handler: anything but POST gets its own JSON 405 with `Allow: POST`.
export const POST = handleGraphqlRequest;
export const GET = handleGraphqlRequest;
export const PUT = handleGraphqlRequest;
export const PATCH = handleGraphqlRequest;
export const DELETE = handleGraphqlRequest;
export const OPTIONS = handleGraphqlRequest;

export const dynamic = "force-dynamic";
