import { HpackError } from "./hpack-error.ts";
import { huffmanCodeTable, huffmanEos } from "./huffman-code.ts";
import { latin1String } from "./latin1-string.ts";

// RFC 7541 §5.2 / Appendix B: the static Huffman code of HPACK strings.
//
// Encoding looks up each octet's code and packs bits most significant first,
// padding the last octet with the high bits of EOS (all ones).
//
// Decoding is a 4-bit state machine, the technique of nghttp2
// (lib/nghttp2_hd_huffman.c) and h2o: a state is an internal node of the
// code tree (there are 256), and a table gives, for each state and each
// nibble of input, the state after those 4 bits, whether a symbol completed
// on the way and which, and whether the walk met EOS. Codes are at least 5
// bits long, so a nibble completes at most one symbol. Two table reads per
// input octet, no branching on individual bits, no allocation.

const codes = new Uint32Array(257);
const lengths = new Uint8Array(257);
for (let symbol = 0; symbol <= huffmanEos; symbol++) {
  codes[symbol] = huffmanCodeTable[2 * symbol]!;
  lengths[symbol] = huffmanCodeTable[2 * symbol + 1]!;
}

const emitFlag = 1 << 16;
const failFlag = 1 << 17;
/** `transitions[state * 16 + nibble]`: next state (bits 0-7), symbol (8-15), emitFlag, failFlag. */
const transitions = new Uint32Array(256 * 16);
/** For each state, what ending there means: 0 valid padding (or none), 1 padding over 7 bits, 2 padding not all ones. */
const endFault = new Uint8Array(256);

buildDecoder();

function buildDecoder(): void {
  // The code tree: internal nodes 0..255 (0 the root); a child >= 0 is an
  // internal node, a child < 0 is the leaf of symbol -child - 1.
  const child = new Int16Array(256 * 2);
  const depth = new Uint8Array(256);
  const allOnes = new Uint8Array(256);
  allOnes[0] = 1;
  let nodes = 1;
  for (let symbol = 0; symbol <= huffmanEos; symbol++) {
    const code = codes[symbol]!;
    const length = lengths[symbol]!;
    let node = 0;
    for (let bit = length - 1; bit > 0; bit--) {
      const side = (code >>> bit) & 1;
      let next = child[node * 2 + side]!;
      if (next === 0) {
        next = nodes++;
        child[node * 2 + side] = next;
        depth[next] = depth[node]! + 1;
        allOnes[next] = allOnes[node]! & side;
      }
      node = next;
    }
    child[node * 2 + (code & 1)] = -symbol - 1;
  }
  for (let state = 0; state < 256; state++) {
    endFault[state] = allOnes[state] === 0 ? 2 : depth[state]! > 7 ? 1 : 0;
    for (let nibble = 0; nibble < 16; nibble++) {
      let node = state;
      let entry = 0;
      for (let bit = 3; bit >= 0; bit--) {
        const next = child[node * 2 + ((nibble >>> bit) & 1)]!;
        if (next >= 0) {
          node = next;
          continue;
        }
        const symbol = -next - 1;
        if (symbol === huffmanEos) {
          entry = failFlag;
          break;
        }
        entry = emitFlag | (symbol << 8);
        node = 0;
      }
      transitions[state * 16 + nibble] = entry | (entry & failFlag ? 0 : node);
    }
  }
}

/**
 * The length in octets of `text` Huffman-encoded (RFC 7541 §5.2), so the
 * encoder can choose Huffman only when it is shorter; -1 if a char is above
 * 0xff (such a string has no octets to encode: see latin1String).
 */
export function huffmanEncodedLength(text: string): number {
  let bits = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 0xff) return -1;
    bits += lengths[c]!;
  }
  return (bits + 7) >>> 3;
}

/**
 * Writes `text` (one octet per char, all at most 0xff: check with
 * {@link huffmanEncodedLength} first) Huffman-encoded at `at`, padded with
 * ones to the octet (RFC 7541 §5.2), and returns the position after it. The
 * caller guarantees room for `huffmanEncodedLength(text)` octets.
 */
export function huffmanEncode(text: string, out: Uint8Array, at: number): number {
  let acc = 0; // the pending bits, fewer than 8 between symbols
  let pending = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    let code = codes[c]!;
    let length = lengths[c]!;
    if (length > 24) {
      // Keep acc within 31 bits: emit the code's high part first.
      const high = length - 16;
      acc = (acc << high) | (code >>> 16);
      pending += high;
      while (pending >= 8) {
        pending -= 8;
        out[at++] = acc >>> pending;
      }
      acc &= (1 << pending) - 1;
      code &= 0xffff;
      length = 16;
    }
    acc = (acc << length) | code;
    pending += length;
    while (pending >= 8) {
      pending -= 8;
      out[at++] = acc >>> pending;
    }
    acc &= (1 << pending) - 1;
  }
  if (pending > 0) out[at++] = (acc << (8 - pending)) | (0xff >>> pending);
  return at;
}

/** The most octets `length` octets of Huffman code can decode to: every code is at least 5 bits. */
export function huffmanDecodedMaxLength(length: number): number {
  return Math.floor((length * 8) / 5);
}

/**
 * Decodes the Huffman string `src[start..end)` into `out` at `at` and
 * returns the position after the last octet. The caller guarantees room for
 * {@link huffmanDecodedMaxLength} octets.
 *
 * Throws an {@link HpackError} (COMPRESSION_ERROR) for each decoding error
 * of RFC 7541 §5.2: `huffman-eos` when the EOS symbol appears in the
 * string, `huffman-padding` when the string ends in more than 7 bits of
 * padding, or in bits that are not all ones (the prefix of EOS), which is
 * also how a code cut off by the end of the string shows.
 */
export function huffmanDecodeInto(src: Uint8Array, start: number, end: number, out: Uint8Array, at: number): number {
  let state = 0;
  for (let i = start; i < end; i++) {
    const octet = src[i]!;
    let entry = transitions[(state << 4) | (octet >>> 4)]!;
    if (entry >= emitFlag) {
      if (entry >= failFlag) throw eosInside();
      out[at++] = entry >>> 8;
    }
    entry = transitions[((entry & 0xff) << 4) | (octet & 0x0f)]!;
    if (entry >= emitFlag) {
      if (entry >= failFlag) throw eosInside();
      out[at++] = entry >>> 8;
    }
    state = entry & 0xff;
  }
  const fault = endFault[state];
  if (fault !== 0) {
    throw new HpackError(
      "huffman-padding",
      fault === 1
        ? "a Huffman string ends in padding longer than 7 bits (RFC 7541 §5.2)"
        : "a Huffman string ends in padding that is not all ones, or in a cut-off code (RFC 7541 §5.2)",
    );
  }
  return at;
}

let scratch = new Uint8Array(256);

/**
 * Decodes the Huffman string `src[start..end)` to a latin1 string (one char
 * per octet), with the errors of {@link huffmanDecodeInto}. For tests and
 * callers off the hot path; the decoder decodes into its own buffer.
 */
export function huffmanDecode(src: Uint8Array, start: number, end: number): string {
  const room = huffmanDecodedMaxLength(end - start);
  if (scratch.length < room) scratch = new Uint8Array(room);
  return latin1String(scratch, 0, huffmanDecodeInto(src, start, end, scratch, 0));
}

function eosInside(): HpackError {
  return new HpackError("huffman-eos", "a Huffman string contains the EOS symbol (RFC 7541 §5.2)");
}
