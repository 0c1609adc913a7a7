import { describe, expect, it } from "vitest";
import { formatHostPort, parseHostPort } from "./parse-host-port.ts";

describe("parseHostPort", () => {
  it.each([
    ["127.0.0.1:8080", "127.0.0.1", 8080],
    ["0.0.0.0:1", "0.0.0.0", 1],
    ["[::1]:8080", "::1", 8080],
    ["[::]:443", "::", 443],
    ["[2001:db8::8a2e:370:7334]:50051", "2001:db8::8a2e:370:7334", 50051],
    ["[::ffff:192.0.2.1]:80", "::ffff:192.0.2.1", 80],
    ["[1:2:3:4:5:6:7:8]:80", "1:2:3:4:5:6:7:8", 80],
    ["localhost:50051", "localhost", 50051],
    ["my-svc.ns.svc.cluster.local:50051", "my-svc.ns.svc.cluster.local", 50051],
    ["my-svc.ns.svc.cluster.local.:50051", "my-svc.ns.svc.cluster.local.", 50051],
    ["host:65535", "host", 65535],
  ])("accepts %s", (text, host, port) => {
    expect(parseHostPort(text)).toEqual({ host, port });
  });

  it("accepts port 0 only with allowZero", () => {
    expect(parseHostPort("127.0.0.1:0", { allowZero: true })).toEqual({ host: "127.0.0.1", port: 0 });
    expect(parseHostPort("[::1]:0", { allowZero: true })).toEqual({ host: "::1", port: 0 });
    expect(() => parseHostPort("127.0.0.1:0")).toThrow('invalid address "127.0.0.1:0": port 0 is out of range (expected 1..65535)');
  });

  it.each([
    ["", "empty"],
    ["localhost", "missing port"],
    ["localhost:", "missing port"],
    ["127.0.0.1", "missing port"],
    ["[::1]", "missing port"],
    ["[::1]:", "missing port"],
    [":8080", "missing host"],
    ["127.0.0.1:65536", "port 65536 is out of range (expected 1..65535)"],
    ["127.0.0.1:123456", 'port "123456" is not a number'],
    ["127.0.0.1:http", 'port "http" is not a number'],
    ["127.0.0.1:-1", 'port "-1" is not a number'],
    ["127.0.0.1:80/path", 'port "80/path" is not a number'],
    ["localhost :8080", "must not contain whitespace"],
    [" localhost:8080", "must not contain whitespace"],
    ["localhost:8080\n", "must not contain whitespace"],
    ["http://localhost:8080", 'must not have a scheme such as "http://"'],
    ["dns:///my-svc:50051", "must not have a scheme"],
    ["::1:8080", "an IPv6 address must be in brackets, e.g. [::1]:8080"],
    ["[::1:8080", 'missing "]" after the IPv6 address'],
    ["[::1]8080", 'expected ":" and a port after "]"'],
    ["[localhost]:8080", '"localhost" is not an IPv6 address'],
    ["[1::2::3]:80", "is not an IPv6 address"],
    ["[1:2:3:4:5:6:7:8:9]:80", "is not an IPv6 address"],
    ["[1.2.3.4::]:80", "is not an IPv6 address"],
    ["256.0.0.1:80", '"256.0.0.1" is not an IPv4 address or a host name'],
    ["1.2.3:80", "is not an IPv4 address or a host name"],
    ["010.0.0.1:80", "is not an IPv4 address or a host name"],
    ["bad_host:80", "is not an IPv4 address or a host name"],
    ["-svc.ns:80", "is not an IPv4 address or a host name"],
    ["svc..ns:80", "is not an IPv4 address or a host name"],
    ["user@host:80", "is not an IPv4 address or a host name"],
  ])("rejects %j", (text, problem) => {
    expect(() => parseHostPort(text)).toThrow(`invalid address ${JSON.stringify(text)}: `);
    expect(() => parseHostPort(text)).toThrow(problem);
  });
});

describe("formatHostPort", () => {
  it("is the inverse of parseHostPort, IPv6 in brackets", () => {
    for (const text of ["127.0.0.1:8080", "[::1]:50051", "greet.shop.svc.cluster.local:443"]) {
      expect(formatHostPort(parseHostPort(text))).toBe(text);
    }
  });
});
