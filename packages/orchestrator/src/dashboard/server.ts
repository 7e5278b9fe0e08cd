/**
 * The dashboard's HTTP server (node:http, no framework): GET / serves the page, GET /events
 * streams every change of every run as Server-Sent Events (a snapshot first, so a reconnecting
 * page is whole again), GET /api/runs returns the runs as JSON. Loopback only unless asked;
 * on loopback, requests naming another Host are refused (DNS rebinding); elsewhere every request
 * needs the dashboard's token (./access.ts).
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Code, StillMotionError } from "../errors.js";
import { admit, isLoopbackHost, newToken } from "./access.js";
import { pageScript, renderPage } from "./page.js";
import type { PageData, ReportSection, ServerMessage } from "./page-data.js";
import { runInfoHtml } from "./run-info.js";
import type { RunSource, RunUpdate } from "./run-source.js";

export const DEFAULT_PORT = 6007;
const KEEPALIVE_MS = 15_000;
/** The run info is re-read from disk (all of metrics.jsonl) at most this often. */
const INFO_EVERY_MS = 5_000;

export interface DashboardOptions {
  sources: RunSource[];
  /** Interface to listen on (default 127.0.0.1). */
  host?: string;
  /** 0 = any free port (default DEFAULT_PORT). */
  port?: number;
  title?: string;
  /** Extra sections, read at each page load (e.g. the run's saved report sections). */
  sections?: () => ReportSection[];
  /** Required of every request when not bound to loopback (default: a fresh random one). */
  token?: string;
}

export interface Dashboard {
  /** The page's URL; off loopback it carries `?token=`, which the page trades for a cookie. */
  url: string;
  /** What every request must carry when not bound to loopback; undefined on loopback. */
  token?: string;
  port: number;
  /** Ends every event stream (pages then show their last state) and stops listening. */
  close(): Promise<void>;
}

function toMessage(run: number, update: RunUpdate, source: RunSource): ServerMessage {
  switch (update.type) {
    case "metric":
      return { type: "metric", run, record: update.record };
    case "preview":
      return { type: "preview", run, preview: update.preview };
    case "status":
      return { type: "status", run, status: update.status };
    case "reset":
      return { type: "run", run, view: source.view() };
  }
}

function sse(res: ServerResponse, message: ServerMessage): void {
  const { type, ...body } = message;
  res.write(`event: ${type}\ndata: ${JSON.stringify(body)}\n\n`);
}

export async function startDashboard(options: DashboardOptions): Promise<Dashboard> {
  const host = options.host ?? "127.0.0.1";
  const token = isLoopbackHost(host) ? options.token : (options.token ?? newToken());
  let bound = 0;
  const script = await pageScript();
  const streams = new Set<ServerResponse>();
  const title =
    options.title ??
    (options.sources.length === 1 ? options.sources[0].view().name : `${options.sources.length} runs`);

  const runDirs = options.sources.map((s) => s.view().runDir);

  // The run info (config, summary, best val...) changes when a run starts, validates, ends.
  let infoTimer: NodeJS.Timeout | undefined;
  let lastInfo = 0;
  const sendInfo = () => {
    clearTimeout(infoTimer);
    infoTimer = undefined;
    lastInfo = Date.now();
    if (!streams.size) return;
    const html = runInfoHtml(runDirs);
    for (const res of streams) sse(res, { type: "info", html });
  };
  const infoChanged = (update: RunUpdate) => {
    const relevant =
      update.type === "status" ||
      update.type === "reset" ||
      (update.type === "metric" && update.record.kind === "val");
    if (!relevant || infoTimer) return;
    infoTimer = setTimeout(sendInfo, Math.max(0, lastInfo + INFO_EVERY_MS - Date.now()));
  };
  const unsubscribeInfo = options.sources.map((source) => source.subscribe(infoChanged));

  const page = (): string => {
    const views = options.sources.map((s) => s.view());
    const data: PageData = {
      mode: "live",
      title,
      generatedAt: new Date().toISOString(),
      runs: views,
      sections: options.sections?.() ?? [],
    };
    return renderPage(data, { infoHtml: runInfoHtml(runDirs), script });
  };

  const events = (req: IncomingMessage, res: ServerResponse): void => {
    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache",
      connection: "keep-alive",
    });
    res.write("retry: 2000\n\n");
    sse(res, { type: "snapshot", runs: options.sources.map((s) => s.view()) });
    const unsubscribe = options.sources.map((source, run) =>
      source.subscribe((update) => sse(res, toMessage(run, update, source))),
    );
    const keepalive = setInterval(() => res.write(": keep-alive\n\n"), KEEPALIVE_MS);
    streams.add(res);
    req.on("close", () => {
      clearInterval(keepalive);
      for (const fn of unsubscribe) fn();
      streams.delete(res);
    });
  };

  const server = createServer((req, res) => {
    if (!admit({ token, port: () => bound }, req, res)) return;
    const url = new URL(req.url ?? "/", "http://dashboard");
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD" }).end();
      return;
    }
    try {
      if (url.pathname === "/" || url.pathname === "/index.html") {
        res
          .writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" })
          .end(page());
      } else if (url.pathname === "/events") {
        events(req, res);
      } else if (url.pathname === "/api/runs") {
        const body = JSON.stringify(options.sources.map((s) => s.view()));
        res.writeHead(200, { "content-type": "application/json" }).end(body);
      } else {
        res.writeHead(404, { "content-type": "text/plain" }).end("not found: try /\n");
      }
    } catch (err) {
      res.writeHead(500, { "content-type": "text/plain" }).end(`${(err as Error).message}\n`);
    }
  });

  const port = options.port ?? DEFAULT_PORT;
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err: NodeJS.ErrnoException) => {
      const why =
        err.code === "EADDRINUSE"
          ? `port ${port} on ${host} is in use: pick another with --port, or --port 0 for any free port`
          : `cannot listen on ${host}:${port}: ${err.message}`;
      reject(
        new StillMotionError(err.code === "EADDRINUSE" ? Code.ALREADY_EXISTS : Code.UNAVAILABLE, why, {
          cause: err,
        }),
      );
    });
    server.listen(port, host, () => resolve());
  });
  bound = (server.address() as AddressInfo).port;
  const shownHost = host.includes(":") ? `[${host}]` : host === "0.0.0.0" ? "127.0.0.1" : host;

  return {
    url: `http://${shownHost}:${bound}/${token === undefined ? "" : `?token=${token}`}`,
    token,
    port: bound,
    close: async () => {
      for (const fn of unsubscribeInfo) fn();
      sendInfo(); // the final state (summary.json) for pages that stay open
      for (const res of streams) res.end();
      streams.clear();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
