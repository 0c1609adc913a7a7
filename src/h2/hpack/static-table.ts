/**
 * The static table of HPACK (RFC 7541 §2.3.1, Appendix A): 61 fields every
 * encoder and decoder know, indexes 1 to 61. Index 0 is not an entry (§6.1
 * makes it an error); it is "" here so that `staticNames[i]` needs no offset.
 */
export const staticNames: readonly string[] = [
  "",
  ":authority", // 1
  ":method", // 2
  ":method", // 3
  ":path", // 4
  ":path", // 5
  ":scheme", // 6
  ":scheme", // 7
  ":status", // 8
  ":status", // 9
  ":status", // 10
  ":status", // 11
  ":status", // 12
  ":status", // 13
  ":status", // 14
  "accept-charset", // 15
  "accept-encoding", // 16
  "accept-language", // 17
  "accept-ranges", // 18
  "accept", // 19
  "access-control-allow-origin", // 20
  "age", // 21
  "allow", // 22
  "authorization", // 23
  "cache-control", // 24
  "content-disposition", // 25
  "content-encoding", // 26
  "content-language", // 27
  "content-length", // 28
  "content-location", // 29
  "content-range", // 30
  "content-type", // 31
  "cookie", // 32
  "date", // 33
  "etag", // 34
  "expect", // 35
  "expires", // 36
  "from", // 37
  "host", // 38
  "if-match", // 39
  "if-modified-since", // 40
  "if-none-match", // 41
  "if-range", // 42
  "if-unmodified-since", // 43
  "last-modified", // 44
  "link", // 45
  "location", // 46
  "max-forwards", // 47
  "proxy-authenticate", // 48
  "proxy-authorization", // 49
  "range", // 50
  "referer", // 51
  "refresh", // 52
  "retry-after", // 53
  "server", // 54
  "set-cookie", // 55
  "strict-transport-security", // 56
  "transfer-encoding", // 57
  "user-agent", // 58
  "vary", // 59
  "via", // 60
  "www-authenticate", // 61
];

/** The values of the static table, by the same index as {@link staticNames}; "" where Appendix A gives none. */
export const staticValues: readonly string[] = [
  "",
  "",
  "GET", // 2
  "POST", // 3
  "/", // 4
  "/index.html", // 5
  "http", // 6
  "https", // 7
  "200", // 8
  "204", // 9
  "206", // 10
  "304", // 11
  "400", // 12
  "404", // 13
  "500", // 14
  ...Array.from({ length: 61 - 14 }, (_, i) => (i + 15 === 16 ? "gzip, deflate" : "")),
];

/** The number of static entries: dynamic indexes start after it (RFC 7541 §2.3.3). */
export const staticTableLength = 61;

/** Each static name to the lowest index that has it (entries with one name are adjacent in Appendix A). */
const firstIndex = new Map<string, number>();
for (let index = staticTableLength; index >= 1; index--) firstIndex.set(staticNames[index]!, index);

/**
 * The lowest static index whose name is `name`, or 0: what an encoder puts
 * in a literal's name index (RFC 7541 §6.2) instead of the name's octets.
 */
export function staticNameIndex(name: string): number {
  return firstIndex.get(name) ?? 0;
}

/**
 * The static index whose name and value are `name` and `value`, or 0: an
 * exact match is sent as one indexed field, a single octet (RFC 7541 §6.1).
 * `nameIndex` is {@link staticNameIndex}(name), which the encoder already
 * has; the entries with that name follow it, so this is one short scan
 * (`:status` has the most, seven) and allocates nothing.
 */
export function staticExactIndex(nameIndex: number, name: string, value: string): number {
  if (nameIndex === 0) return 0;
  for (let index = nameIndex; index <= staticTableLength && staticNames[index] === name; index++) {
    if (staticValues[index] === value) return index;
  }
  return 0;
}
