import { describe, expect, it } from "vitest";
import { splitBinaryHeaders } from "./split-binary-headers.ts";

describe("splitBinaryHeaders()", () => {
  it("puts each value of a joined -bin key on a line of its own, and leaves text keys joined", () => {
    expect(
      splitBinaryHeaders({
        "x-a-bin": "q6ur/w, AQ==",
        "x-one-bin": "AQ",
        "x-text": "a, b",
        "grpc-status-details-bin": "CAUSBG5vcGU",
      }),
    ).toEqual({ "x-a-bin": ["q6ur/w", "AQ=="], "x-one-bin": "AQ", "x-text": "a, b", "grpc-status-details-bin": "CAUSBG5vcGU" });
  });
});
