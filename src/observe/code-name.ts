import { Code } from "@connectrpc/connect";

/** `ok`, `unavailable`, `deadline_exceeded`…: the Connect names, as labels and logs read best. */
export function codeName(code: Code | undefined): string {
  if (code === undefined) {
    return "ok";
  }
  const name = Code[code];
  return name === undefined ? String(code) : name.replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase();
}
