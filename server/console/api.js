// The console's only way to the server: the documented HTTP API (docs/http.md).
//
// Session: the access and refresh tokens live in this object only (page memory; no cookie,
// no localStorage), sent as `Authorization: Bearer`. The browser never attaches them by
// itself, so there is nothing for a cross-site request to ride on (no CSRF). An access
// token that expired is renewed once with the refresh token (which rotates it); when that
// fails too, the session is over and onExpired is told.

import { parseJSON } from "./exact-json.js";

const JSON_TYPE = "application/json";
// Ask for statuses on SQL errors (docs/http.md: the default 200 {error} is the featurebase
// client's contract; problem+json gives the envelope with its status).
const SQL_ACCEPT = "application/json, application/problem+json";
const REFRESH_MARGIN_MS = 30_000;

/** An error answer of the API: the unified envelope's code, message and details. */
export class ApiError extends Error {
  constructor(status, body, fallback) {
    const envelope = body && typeof body === "object" ? body : {};
    super(envelope.message || fallback || `HTTP ${status}`);
    this.status = status;
    this.code = envelope.code || (status === 0 ? "NetworkError" : `HTTP${status}`);
    const data = envelope.error_data && typeof envelope.error_data === "object" ? envelope.error_data : {};
    this.reason = data.name || "";
    this.requestId = data.request_id || "";
    this.data = data;
  }
}

function errorFrom(status, text, statusText) {
  let body = null;
  try {
    body = text ? parseJSON(text) : null;
  } catch {
    body = null;
  }
  return new ApiError(status, body, statusText || (text || "").slice(0, 200));
}

export class Api {
  constructor({ onExpired } = {}) {
    this.session = null;
    this.onExpired = onExpired || (() => {});
    this._refreshing = null;
  }

  get signedIn() {
    return this.session !== null;
  }

  /** Sign in with an email (contains "@") or an account name. */
  async signIn(user, password) {
    const body = user.includes("@") ? { email: user, password } : { name: user, password };
    const pair = await this._send("POST", "/v2/auth/token", { json: body });
    this._keep(pair, user);
    return this.session;
  }

  /** Revoke the refresh token's family (and its access tokens) and forget the session. */
  async signOut() {
    const session = this.session;
    this.session = null;
    if (session) {
      try {
        await this._send("POST", "/v2/auth/logout", { json: { refresh_token: session.refreshToken } });
      } catch {
        // the tokens are forgotten either way; an unreachable server cannot use them
      }
    }
  }

  _keep(pair, user) {
    this.session = {
      token: pair.token,
      refreshToken: pair.refresh_token,
      expiresAt: Date.now() + Number(pair.expires_in) * 1000,
      role: pair.role,
      accountId: pair.account_id,
      orgId: pair.org_id,
      user: user ?? this.session?.user,
    };
  }

  /** A new token pair from the refresh token; one refresh at a time. */
  refresh() {
    if (!this._refreshing) {
      const session = this.session;
      this._refreshing = (async () => {
        if (!session) throw new ApiError(401, { code: "MissingAuthenticationToken", message: "not signed in" });
        try {
          const pair = await this._send("POST", "/v2/auth/refresh", { json: { refresh_token: session.refreshToken } });
          if (this.session === session) this._keep(pair);
        } catch (err) {
          if (err instanceof ApiError && err.status === 401 && this.session === session) {
            this.session = null;
            this.onExpired(err);
          }
          throw err;
        }
      })().finally(() => {
        this._refreshing = null;
      });
    }
    return this._refreshing;
  }

  /** An authenticated call; renews an expired access token once. */
  async call(method, path, opts = {}) {
    if (!this.session) throw new ApiError(401, { code: "MissingAuthenticationToken", message: "not signed in" });
    if (this.session.expiresAt - Date.now() < REFRESH_MARGIN_MS) await this.refresh();
    try {
      return await this._send(method, path, { ...opts, token: this.session.token });
    } catch (err) {
      if (!(err instanceof ApiError) || err.code !== "TokenExpired" || !this.session) throw err;
      await this.refresh();
      return this._send(method, path, { ...opts, token: this.session.token });
    }
  }

  get(path, opts) {
    return this.call("GET", path, opts);
  }

  /** Every item of a paged list (follows `next`, up to maxPages pages). */
  async list(path, { limit = 64, maxPages = 20 } = {}) {
    const out = [];
    let next = "";
    for (let page = 0; page < maxPages; page++) {
      const sep = path.includes("?") ? "&" : "?";
      const body = await this.get(`${path}${sep}limit=${limit}${next ? `&next=${encodeURIComponent(next)}` : ""}`);
      out.push(...body.resources);
      next = body.next;
      if (!next) break;
    }
    return out;
  }

  sql(databaseId, text, signal) {
    return this.call("POST", `/v2/databases/${encodeURIComponent(databaseId)}/query/sql`,
      { text, accept: SQL_ACCEPT, signal });
  }

  pql(databaseId, table, statement, signal) {
    return this.call("POST", `/v2/databases/${encodeURIComponent(databaseId)}/query/pql`,
      { json: { table, statement }, signal });
  }

  async _send(method, path, { json, text, token, signal, accept = JSON_TYPE, raw = false } = {}) {
    const headers = { Accept: accept };
    let body;
    if (json !== undefined) {
      headers["Content-Type"] = JSON_TYPE;
      body = JSON.stringify(json);
    } else if (text !== undefined) {
      headers["Content-Type"] = "text/plain; charset=utf-8";
      body = text;
    }
    if (token) headers.Authorization = `Bearer ${token}`;
    let resp;
    try {
      resp = await fetch(path, { method, headers, body, signal, credentials: "omit", cache: "no-store" });
    } catch (err) {
      if (err.name === "AbortError") throw err;
      throw new ApiError(0, null, "the server cannot be reached");
    }
    const content = await resp.text();
    if (!resp.ok) throw errorFrom(resp.status, content, resp.statusText);
    if (raw) return { status: resp.status, text: content, type: resp.headers.get("content-type") || "" };
    return content ? parseJSON(content) : null;
  }
}
