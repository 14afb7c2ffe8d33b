// Response bodies copied from the ServiceNow samples in test/fixtures/servicenow (provenance in SOURCES.md there)
// and helpers that wrap them the way the instance does: the status only in the
// status line, `{"error":{message,detail},"status":"failure"}` in the body.

import { HttpResponse } from 'msw';

export const JSON_TYPE = 'application/json;charset=UTF-8';

export function errorBody(message: string, detail: string | null): { error: { message: string; detail: string | null }; status: 'failure' } {
  return { error: { message, detail }, status: 'failure' };
}

export function jsonResponse(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new HttpResponse(JSON.stringify(body), { status, headers: { 'content-type': JSON_TYPE, ...headers } });
}

export function errorResponse(status: number, message: string, detail: string | null, headers: Record<string, string> = {}): Response {
  return jsonResponse(errorBody(message, detail), status, headers);
}

/** error_401_not_authenticated.json */
export function notAuthenticated(): Response {
  return errorResponse(401, 'User Not Authenticated', 'Required to provide Auth information', {
    'www-authenticate': 'BASIC realm="Service-now"',
  });
}

/** error_404_no_record_found.json */
export function noRecordFound(): Response {
  return errorResponse(404, 'No Record found', "Record doesn't exist or ACL restricts the record retrieval");
}

/** error_429_rate_limit.json, with the detail naming the configured limit. */
export function rateLimited(limit: number, windowSec: number, headers: Record<string, string>): Response {
  const per = windowSec === 3600 ? 'hour' : `${windowSec} seconds`;
  return errorResponse(429, 'Rate limit exceeded', `Rate limit of ${limit} requests per ${per} for Table API exceeded`, headers);
}

/** error_business_rule_abort_table_api.json, for a before-rule's setAbortAction(true). */
export function businessRuleAbort(table: string, rule: string, ruleSysId: string): Response {
  return errorResponse(
    403,
    'Operation Failed',
    `Operation against file '${table}' was aborted by Business Rule '${rule}^${ruleSysId}'. Business Rule Stack:${rule}`,
  );
}

/** oauth_token_error_401.json */
export function oauthAccessDenied(): Response {
  return jsonResponse({ error_description: 'access_denied', error: 'server_error' }, 401);
}

export function invalidTable(table: string): Response {
  return errorResponse(400, `Invalid table ${table}`, null);
}

export function badRequestBody(): Response {
  return errorResponse(400, 'Exception while reading request', 'The payload is not valid JSON.');
}

export function unknownResource(): Response {
  return errorResponse(400, 'Requested URI does not represent any resource', null);
}

export function htmlResponse(html: string, status: number): Response {
  return new HttpResponse(html, { status, headers: { 'content-type': 'text/html;charset=UTF-8' } });
}

// What an expired session or an SSO redirect serves instead of JSON: a 200 login form.
export const LOGIN_PAGE_HTML = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Log in | ServiceNow</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body class="login">
<div id="login_container"><form action="login.do" method="post" name="loginPage" id="loginPage">
<label for="user_name">User name</label><input type="text" id="user_name" name="user_name" autocomplete="username">
<label for="user_password">Password</label><input type="password" id="user_password" name="user_password" autocomplete="current-password">
<input type="hidden" name="sys_action" value="sysverb_login"><button type="submit" id="sysverb_login">Log in</button>
</form></div></body></html>
`;

export function errorPageHtml(status: number): string {
  const title = status === 503 ? 'Service Unavailable' : status === 502 ? 'Bad Gateway' : 'Internal Server Error';
  return `<!DOCTYPE html>
<html><head><title>${status} ${title}</title></head>
<body><h1>${title}</h1><p>The instance could not complete the request. Please try again later.</p>
<hr><address>ServiceNow</address></body></html>
`;
}
