import { constants } from "node:http2";
import { Code } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { h2ResetError, type StreamFate, whyNeverProcessed } from "./h2-reset-error.ts";

describe("h2ResetError()", () => {
  it.each([
    [constants.NGHTTP2_REFUSED_STREAM, Code.Unavailable],
    [constants.NGHTTP2_CANCEL, Code.Canceled],
    [constants.NGHTTP2_ENHANCE_YOUR_CALM, Code.ResourceExhausted],
    [constants.NGHTTP2_INTERNAL_ERROR, Code.Internal],
    [constants.NGHTTP2_PROTOCOL_ERROR, Code.Internal],
  ])("RST_STREAM 0x%s is %s", (rstCode, code) => {
    expect(h2ResetError(rstCode)?.code).toBe(code);
  });

  it.each([undefined, constants.NGHTTP2_NO_ERROR, constants.NGHTTP2_STREAM_CLOSED])("%s carries no status", (rstCode) => {
    expect(h2ResetError(rstCode)).toBeUndefined();
  });
});

describe("whyNeverProcessed()", () => {
  const sent: StreamFate = { created: true, id: 5, rstCode: constants.NGHTTP2_INTERNAL_ERROR, goawayLastStreamId: undefined };

  it("the connection failed when no stream was created", () => {
    expect(whyNeverProcessed({ created: false, id: undefined, rstCode: undefined, goawayLastStreamId: undefined })).toBe(
      "connect-failed",
    );
  });

  it("GOAWAY for a stream that never got an id (created on a session that had received one)", () => {
    expect(whyNeverProcessed({ ...sent, id: undefined })).toBe("goaway");
  });

  it("GOAWAY for a stream above its last-stream-id, whatever code closed it", () => {
    expect(whyNeverProcessed({ ...sent, goawayLastStreamId: 3 })).toBe("goaway");
    expect(whyNeverProcessed({ ...sent, goawayLastStreamId: 0 })).toBe("goaway");
    expect(whyNeverProcessed({ ...sent, rstCode: constants.NGHTTP2_REFUSED_STREAM, goawayLastStreamId: 3 })).toBe("goaway");
  });

  it("refused for a stream the pod refused, whenever it did", () => {
    expect(whyNeverProcessed({ ...sent, rstCode: constants.NGHTTP2_REFUSED_STREAM })).toBe("refused");
    expect(whyNeverProcessed({ ...sent, rstCode: constants.NGHTTP2_REFUSED_STREAM, goawayLastStreamId: 5 })).toBe("refused");
  });

  it("nothing for a stream that went out and ended otherwise: it may have been processed", () => {
    expect(whyNeverProcessed(sent)).toBeUndefined();
    expect(whyNeverProcessed({ ...sent, rstCode: constants.NGHTTP2_CANCEL })).toBeUndefined();
    expect(whyNeverProcessed({ ...sent, rstCode: constants.NGHTTP2_NO_ERROR })).toBeUndefined();
    expect(whyNeverProcessed({ ...sent, goawayLastStreamId: 5 })).toBeUndefined();
    expect(whyNeverProcessed({ ...sent, goawayLastStreamId: 7 })).toBeUndefined();
  });
});
