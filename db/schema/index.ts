export { accounts } from "./accounts";
export { endpoints } from "./endpoints";
export { pods } from "./pods";
export { apiKeys } from "./api-keys";
export { apiKeyEndpointScopes } from "./api-key-endpoint-scopes";
export { jobs } from "./jobs";
export { auditLog } from "./audit-log";
export { decisionRevision } from "./decision-revision";
