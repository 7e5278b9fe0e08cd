import { appendFileSync, mkdirSync, writeFileSync } from "node:fs";
import { get, type IncomingMessage } from "node:http";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { tempDir } from "../../test/helpers.js";
import { Code } from "../errors.js";
import { TailRunSource } from "./run-source.js";
import { type Dashboard, startDashboard } from "./server.js";

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

function fixtureRun(): string {
  const dir = join(tempDir("server"), "run-a");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "config.json"), JSON.stringify({ name: "run-a", stop: { max_steps: 10 } }));
  writeFileSync(join(dir, "metrics.jsonl"), `${JSON.stringify({ step: 1, kind: "train", total: 1 })}\n`);
  return dir;
}

async function serve(dir: string, host?: string): Promise<Dashboard> {
  const source = new TailRunSource(dir, { intervalMs: 50 });
  const dashboard = await startDashboard({ sources: [source], port: 0, host });
  cleanup.push(
    () => source.close(),
    () => dashboard.close(),
  );
  return dashboard;
}

function request(url: string, headers: Record<string, string> = {}): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => get(url, { headers }, resolve).on("error", reject));
}

async function body(res: IncomingMessage): Promise<string> {
  let text = "";
  for await (const chunk of res) text += chunk;
  return text;
}

describe("dashboard server", () => {
  it("serves one self-contained page: inline data and script, nothing fetched from elsewhere", async () => {
    const { url } = await serve(fixtureRun());
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const res = await request(url);
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toMatch(/text\/html/);
    const html = await body(res);
    expect(html).toContain('<script type="application/json" id="sm-data">');
    expect(html).toContain('<script type="module">');
    expect(html).toContain('new EventSource("events")');
    expect(html).not.toMatch(/https?:\/\//);
    expect(html).not.toMatch(/\bimport\s*\(|\bfrom\s+["']/); // the inlined script imports nothing
  });

  it("streams a snapshot, then each new metric row, as Server-Sent Events", async () => {
    const dir = fixtureRun();
    const { url } = await serve(dir);
    const res = await request(`${url}events`);
    expect(res.headers["content-type"]).toMatch(/text\/event-stream/);
    let text = "";
    const seen = (pattern: RegExp) =>
      new Promise<void>((resolve) => {
        const check = () => pattern.test(text) && resolve();
        res.on("data", (chunk) => {
          text += chunk;
          check();
        });
        check();
      });
    await seen(/event: snapshot\ndata: \{"runs":\[\{"name":"run-a"/);
    appendFileSync(join(dir, "metrics.jsonl"), `${JSON.stringify({ step: 2, kind: "train", total: 0.5 })}\n`);
    await seen(/event: metric\ndata: \{"run":0,"record":\{"step":2,"kind":"train","total":0.5\}\}/);
    res.destroy();
  });

  it("refuses a request for another Host while bound to loopback (DNS rebinding)", async () => {
    const { url } = await serve(fixtureRun());
    const res = await request(url, { host: "attacker.example:80" });
    expect(res.statusCode).toBe(403);
    expect((await request(`${url}nope`)).statusCode).toBe(404);
  });

  it("parses the Host: a DNS name starting with 127. is not loopback", async () => {
    const { url, port, token } = await serve(fixtureRun());
    expect(token).toBeUndefined();
    for (const host of ["127.evil.com", `127.evil.com:${port}`, `evil.com@127.0.0.1:${port}`]) {
      expect((await request(`${url}api/runs`, { host })).statusCode, host).toBe(403);
    }
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, "127.0.0.2"]) {
      expect((await request(`${url}api/runs`, { host })).statusCode, host).toBe(200);
    }
  });

  it("off loopback, serves only requests carrying its token: ?token= once, then the cookie or a Bearer header", async () => {
    const { url, port, token } = await serve(fixtureRun(), "0.0.0.0");
    expect(token).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(url).toBe(`http://127.0.0.1:${port}/?token=${token}`);
    const base = `http://127.0.0.1:${port}/`;
    const host = { host: "dashboard.lan" }; // any Host: the token, not the name, is what counts
    expect((await request(base, host)).statusCode).toBe(401);
    expect((await request(`${base}api/runs?token=${token}x`, host)).statusCode).toBe(401);
    expect(
      (await request(`${base}api/runs`, { ...host, cookie: `stillmotion_token_${port}=nope` })).statusCode,
    ).toBe(401);

    const first = await request(url, host);
    expect(first.statusCode).toBe(303);
    expect(first.headers.location).toBe("/");
    const cookie = String(first.headers["set-cookie"]).split(";")[0];
    expect(cookie).toBe(`stillmotion_token_${port}=${token}`);
    expect(String(first.headers["set-cookie"])).toMatch(/HttpOnly; SameSite=Strict/);

    const page = await request(base, { ...host, cookie: `other=1; ${cookie}` });
    expect(page.statusCode).toBe(200);
    expect(await body(page)).toContain('new EventSource("events")');
    const runs = await request(`${base}api/runs`, { ...host, authorization: `Bearer ${token}` });
    expect(runs.statusCode).toBe(200);
    expect(JSON.parse(await body(runs))[0].name).toBe("run-a");
  });

  it("says which port is taken and how to pick another", async () => {
    const dir = fixtureRun();
    const { port } = await serve(dir);
    const source = new TailRunSource(dir);
    cleanup.push(() => source.close());
    await expect(startDashboard({ sources: [source], port })).rejects.toMatchObject({
      code: Code.ALREADY_EXISTS,
      message: expect.stringMatching(
        new RegExp(`port ${port} on 127.0.0.1 is in use: pick another with --port`),
      ),
    });
  });
});
