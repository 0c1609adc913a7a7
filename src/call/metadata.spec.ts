import { describe, expect, it } from "vitest";
import { grpcProtocolHeaders, metadataFromHeaders } from "./metadata.ts";

describe("metadataFromHeaders()", () => {
  it("keeps application metadata, -bin values untouched, repeated values joined", () => {
    const headers = new Headers([
      ["x-user", "alice"],
      ["x-trace-bin", "AAEC"],
      ["x-multi", "a"],
      ["x-multi", "b"],
      ["authorization", "Bearer t"],
    ]);
    const metadata = metadataFromHeaders(headers, grpcProtocolHeaders);
    expect(metadata.get("x-user")).toBe("alice");
    expect(metadata.get("x-trace-bin")).toBe("AAEC");
    expect(metadata.get("x-multi")).toBe("a, b");
    expect(metadata.get("authorization")).toBe("Bearer t");
  });

  it("drops hop-by-hop and protocol headers", () => {
    const headers = new Headers({
      connection: "keep-alive",
      "keep-alive": "timeout=5",
      "transfer-encoding": "chunked",
      te: "trailers",
      host: "example.com",
      "content-length": "12",
      "content-type": "application/grpc",
      "grpc-timeout": "1S",
      "grpc-encoding": "gzip",
      "grpc-status": "0",
      upgrade: "h2c",
      "x-kept": "yes",
    });
    expect([...metadataFromHeaders(headers, grpcProtocolHeaders).keys()]).toEqual(["x-kept"]);
  });

  it("drops the headers the Connection header names as hop-by-hop (RFC 9110 §7.6.1)", () => {
    const headers = new Headers({
      connection: "keep-alive, X-Hop-Secret ,x-other",
      "x-hop-secret": "for the gateway only",
      "x-other": "1",
      "x-kept": "yes",
    });
    expect([...metadataFromHeaders(headers, grpcProtocolHeaders).keys()]).toEqual(["x-kept"]);
  });
});
