import { describe, expect, it } from "vitest";
import { createRouteTable } from "./route-table.ts";

describe("createRouteTable()", () => {
  const table = createRouteTable([
    { services: ["greet.v1.GreetService"], backend: "greet" },
    { services: ["shop.v1."], backend: "shop" },
    { services: undefined, backend: "fallback" },
  ]);

  it("matches a full service name exactly", () => {
    expect(table.match("greet.v1.GreetService")?.backend).toBe("greet");
    expect(table.match("greet.v1.GreetServiceX")?.backend).toBe("fallback");
  });

  it("matches a package prefix ending in a dot, sub-packages included", () => {
    expect(table.match("shop.v1.CartService")?.backend).toBe("shop");
    expect(table.match("shop.v1.admin.AuditService")?.backend).toBe("shop");
    expect(table.match("shop.v10.CartService")?.backend).toBe("fallback");
  });

  it("lets the first matching route win", () => {
    const first = createRouteTable([
      { services: ["a."], backend: "one" },
      { services: ["a.B"], backend: "two" },
    ]);
    expect(first.match("a.B")?.backend).toBe("one");
  });

  it("returns undefined when nothing matches", () => {
    expect(createRouteTable([{ services: ["a.B"], backend: "x" }]).match("c.D")).toBeUndefined();
  });
});
