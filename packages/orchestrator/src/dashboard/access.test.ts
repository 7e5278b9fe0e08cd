import { describe, expect, it } from "vitest";
import { isLoopbackHost, newToken } from "./access.js";

describe("isLoopbackHost", () => {
  it("accepts only names that can mean this machine alone", () => {
    for (const host of ["127.0.0.1", "127.0.0.1:6007", "127.8.9.10", "127.1", "localhost:80", "LOCALHOST"])
      expect(isLoopbackHost(host), host).toBe(true);
    for (const host of ["::1", "[::1]", "[::1]:6007", "[0:0:0:0:0:0:0:1]"])
      expect(isLoopbackHost(host), host).toBe(true);
  });

  it("refuses DNS names that merely start like loopback, user info tricks and malformed hosts", () => {
    for (const host of [
      "127.evil.com",
      "127.0.0.1.nip.io",
      "evil.com@127.0.0.1",
      "127.0.0.1/x",
      "localhost.evil.com",
      "0.0.0.0",
      "[::]",
      "",
      "[::1",
    ])
      expect(isLoopbackHost(host), host).toBe(false);
  });
});

describe("newToken", () => {
  it("is 32 URL-safe characters, different every time", () => {
    const [a, b] = [newToken(), newToken()];
    expect(a).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(a).not.toBe(b);
  });
});
