/**
 * Who may read the dashboard. Bound to loopback, only this machine can connect, so the one risk
 * is a web page elsewhere reaching it through DNS rebinding: requests must name a loopback Host.
 * Bound anywhere else, anyone on the network can connect, so every request must carry the
 * dashboard's token: `?token=` once (answered with a cookie), the cookie, or
 * `Authorization: Bearer <token>`.
 */
import { randomBytes, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { isIP } from "node:net";

/** The host name of a Host header or --host value, normalized as URLs do; undefined if malformed. */
function hostName(host: string): string | undefined {
  const urlHost = isIP(host) === 6 ? `[${host}]` : host; // --host ::1 comes without brackets
  // Only host[:port]: URL parsing would read `evil.com@127.0.0.1` as user info and host.
  if (!/^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$/.test(urlHost)) return undefined;
  try {
    return new URL(`http://${urlHost}`).hostname;
  } catch {
    return undefined;
  }
}

/**
 * True for names that can only mean this machine: `localhost`, an IPv4 address in 127.0.0.0/8,
 * `::1`. The name is read as a URL host (port stripped, forms such as `127.1` or `0x7f.1`
 * normalized), so `127.evil.com` is a DNS name like any other, not loopback.
 */
export function isLoopbackHost(host: string): boolean {
  const name = hostName(host);
  if (name === undefined) return false;
  if (name === "localhost" || name === "[::1]") return true;
  return isIP(name) === 4 && name.startsWith("127.");
}

/** A fresh token: 24 random bytes, URL-safe base64 (32 characters). */
export function newToken(): string {
  return randomBytes(24).toString("base64url");
}

/** The cookie's name carries the port: browsers share cookies between ports of one host. */
export function tokenCookieName(port: number): string {
  return `stillmotion_token_${port}`;
}

function sameToken(given: string | undefined, token: string): boolean {
  if (given === undefined) return false;
  const [a, b] = [Buffer.from(given), Buffer.from(token)];
  return a.length === b.length && timingSafeEqual(a, b);
}

function cookie(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

export interface AccessRule {
  /** Required on every request; without one, only requests naming a loopback Host are served. */
  token?: string;
  /** The bound port (names the cookie). */
  port: () => number;
}

/**
 * Answers the request itself (403, 401, or a redirect that trades `?token=` for a cookie) and
 * returns false, or returns true when the request may be served.
 */
export function admit(rule: AccessRule, req: IncomingMessage, res: ServerResponse): boolean {
  if (rule.token === undefined) {
    if (isLoopbackHost(req.headers.host ?? "")) return true;
    res.writeHead(403, { "content-type": "text/plain" }).end(`Host ${req.headers.host} is not served here\n`);
    return false;
  }
  const url = new URL(req.url ?? "/", "http://dashboard");
  const name = tokenCookieName(rule.port());
  const fromQuery = url.searchParams.get("token") ?? undefined;
  if (sameToken(fromQuery, rule.token)) {
    // The token leaves the address bar (and history, and Referer) for an HttpOnly cookie.
    url.searchParams.delete("token");
    res
      .writeHead(303, {
        location: `${url.pathname}${url.search}`,
        "set-cookie": `${name}=${rule.token}; Path=/; HttpOnly; SameSite=Strict`,
        "cache-control": "no-store",
      })
      .end();
    return false;
  }
  const bearer = /^Bearer (.+)$/i.exec(req.headers.authorization ?? "")?.[1];
  if (sameToken(cookie(req, name), rule.token) || sameToken(bearer, rule.token)) return true;
  res
    .writeHead(401, { "content-type": "text/plain", "www-authenticate": "Bearer" })
    .end("missing or wrong token: open the URL the dashboard printed (it ends in ?token=...)\n");
  return false;
}
