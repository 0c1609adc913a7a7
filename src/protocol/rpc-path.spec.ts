import { describe, expect, it } from "vitest";
import { parseRpcPath } from "./rpc-path.ts";

describe("parseRpcPath()", () => {
  it("splits service and method", () => {
    expect(parseRpcPath("http://h:1/greet.v1.GreetService/Greet")).toEqual({
      path: "/greet.v1.GreetService/Greet",
      service: "greet.v1.GreetService",
      method: "Greet",
    });
  });

  it("ignores a query string (Connect GET)", () => {
    expect(parseRpcPath("http://h/a.B/C?connect=v1&message=x")?.path).toBe("/a.B/C");
  });

  it.each(["http://h/", "http://h/hello", "http://h/a.B/C/D", "http://h/a.B/", "http://h//C", "http://h/a%2FB/C"])(
    "rejects %s",
    (url) => {
      expect(parseRpcPath(url)).toBeUndefined();
    },
  );
});
