/**
 * Reads OTLP JSON a chunk at a time, in the same forms as `parseOtlpJson` (one export, an array
 * of them, or one per line), and hands over each span as soon as its closing brace arrives. Only
 * one span's text is held at a time, so a file of any size is read in bounded memory. The scan
 * outside spans tracks nesting and keys byte by byte; each span's bytes go to `JSON.parse`.
 */
import { OtlpFormatError } from './otlp-json.js';

/** Longest single span accepted, bytes. */
export const MAX_SPAN_BYTES = 16 * 1024 * 1024;
const MAX_DEPTH = 64;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJ = 0x7b;
const CLOSE_OBJ = 0x7d;
const OPEN_ARR = 0x5b;
const CLOSE_ARR = 0x5d;

/** A container on the scan's stack: an object (with the key last seen) or an array (with the key it is under). */
interface Frame {
  readonly array: boolean;
  readonly under: string | undefined;
  key: string | undefined;
}

export interface OtlpStreamStats {
  /** Top-level JSON values read (exports). */
  exports: number;
  spans: number;
  bytes: number;
}

/**
 * Calls `onSpan` with each span object (parsed JSON) in the stream. Rejects with an
 * `OtlpFormatError` naming the byte offset when the text is not OTLP JSON.
 */
export async function streamOtlpSpans(
  source: AsyncIterable<Uint8Array | string>,
  onSpan: (span: Record<string, unknown>) => void,
): Promise<OtlpStreamStats> {
  const stats: OtlpStreamStats = { exports: 0, spans: 0, bytes: 0 };
  const stack: Frame[] = [];
  let inString = false;
  let escaped = false;
  /** Bytes of a key string that began in an earlier chunk. */
  let keyParts: Buffer[] | undefined;
  let keyStart = -1;
  /** While inside a span: its bytes from earlier chunks, and the nesting within it. */
  let spanParts: Buffer[] | undefined;
  let spanBytes = 0;
  let spanDepth = 0;
  let spanStart = -1;
  let sawResourceSpans = false;
  /** The last string read in an object, which is a key if a ':' follows. */
  let pendingKey: string | undefined;
  let offset = 0;

  const fail = (at: number, why: string): never => {
    throw new OtlpFormatError(`${why} at byte ${at}`);
  };

  const emit = (bytes: Buffer): void => {
    let span: unknown;
    try {
      span = JSON.parse(bytes.toString('utf8'));
    } catch {
      fail(offset, 'a span is not valid JSON');
    }
    stats.spans++;
    if (span !== null && typeof span === 'object' && !Array.isArray(span)) onSpan(span as Record<string, unknown>);
  };

  for await (const piece of source) {
    const chunk = typeof piece === 'string' ? Buffer.from(piece, 'utf8') : Buffer.isBuffer(piece) ? piece : Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength);
    const n = chunk.length;
    let i = 0;
    if (spanDepth > 0) spanStart = 0;
    if (keyParts !== undefined) keyStart = 0;
    while (i < n) {
      if (spanStart >= 0) {
        // Inside a span: only nesting and strings matter until it closes. Most of a span is
        // string content, skipped with indexOf rather than byte by byte.
        while (i < n) {
          if (inString) {
            if (escaped) {
              escaped = false;
              i++;
              continue;
            }
            const q = chunk.indexOf(QUOTE, i);
            if (q < 0) {
              let run = 0;
              for (let k = n - 1; k >= i && chunk[k] === BACKSLASH; k--) run++;
              escaped = run % 2 === 1;
              i = n;
              break;
            }
            let run = 0;
            for (let k = q - 1; k >= i && chunk[k] === BACKSLASH; k--) run++;
            i = q + 1;
            if (run % 2 === 0) inString = false;
            continue;
          }
          const c = chunk[i]!;
          if (c === QUOTE) inString = true;
          else if (c === OPEN_OBJ || c === OPEN_ARR) spanDepth++;
          else if (c === CLOSE_OBJ || c === CLOSE_ARR) {
            if (--spanDepth === 0) {
              const tail = chunk.subarray(spanStart, i + 1);
              const whole = spanParts === undefined ? tail : Buffer.concat([...spanParts, tail]);
              spanParts = undefined;
              spanStart = -1;
              spanBytes = 0;
              emit(whole);
              i++;
              break;
            }
          }
          i++;
        }
        continue;
      }
      const c = chunk[i]!;
      if (inString) {
        if (escaped) escaped = false;
        else if (c === BACKSLASH) escaped = true;
        else if (c === QUOTE) {
          inString = false;
          if (keyStart >= 0) {
            const tail = chunk.subarray(keyStart, i);
            const bytes = keyParts === undefined ? tail : Buffer.concat([...keyParts, tail]);
            keyParts = undefined;
            keyStart = -1;
            const top = stack[stack.length - 1];
            // A string in an object is a key or a value; a key is short and followed by ':'.
            if (top !== undefined && !top.array && bytes.length <= 64) pendingKey = bytes.toString('utf8');
          }
        }
        i++;
        continue;
      }
      switch (c) {
        case QUOTE: {
          inString = true;
          const top = stack[stack.length - 1];
          keyStart = top !== undefined && !top.array ? i + 1 : -1;
          pendingKey = undefined;
          break;
        }
        case 0x3a: {
          const top = stack[stack.length - 1];
          if (top !== undefined && !top.array) {
            top.key = pendingKey;
            if (stack.length === 1 && pendingKey === 'resourceSpans') sawResourceSpans = true;
            if (stack.length === 2 && stack[0]!.array && pendingKey === 'resourceSpans') sawResourceSpans = true;
          }
          pendingKey = undefined;
          break;
        }
        case OPEN_OBJ: {
          const top = stack[stack.length - 1];
          if (top !== undefined && top.array && top.under === 'spans') {
            spanStart = i;
            spanDepth = 1;
            i++;
            continue;
          }
          if (stack.length >= MAX_DEPTH) fail(offset + i, 'nesting is too deep');
          stack.push({ array: false, under: top?.key, key: undefined });
          break;
        }
        case OPEN_ARR: {
          if (stack.length >= MAX_DEPTH) fail(offset + i, 'nesting is too deep');
          const top = stack[stack.length - 1];
          stack.push({ array: true, under: top === undefined ? undefined : top.array ? top.under : top.key, key: undefined });
          break;
        }
        case CLOSE_OBJ:
        case CLOSE_ARR: {
          const top = stack.pop();
          if (top === undefined || top.array !== (c === CLOSE_ARR)) fail(offset + i, 'brackets do not match');
          const topLevel = stack.length === 0 || (stack.length === 1 && stack[0]!.array && stack[0]!.under === undefined);
          if (c === CLOSE_OBJ && topLevel) {
            stats.exports++;
            if (!sawResourceSpans) fail(offset + i, 'expected "resourceSpans" (OTLP JSON trace export)');
            sawResourceSpans = false;
          }
          break;
        }
        case 0x20:
        case 0x0a:
        case 0x0d:
        case 0x09:
        case 0x2c:
          break;
        default:
          if (stack.length === 0) fail(offset + i, 'expected OTLP JSON (an object, an array of them, or one per line)');
      }
      i++;
    }
    if (spanStart >= 0) {
      // The span goes on in the next chunk.
      spanBytes += n - spanStart;
      if (spanBytes > MAX_SPAN_BYTES) fail(offset + n, `a span is larger than ${MAX_SPAN_BYTES} bytes`);
      (spanParts ??= []).push(Buffer.from(chunk.subarray(spanStart)));
      spanStart = -1;
    }
    if (inString && keyStart >= 0) {
      (keyParts ??= []).push(Buffer.from(chunk.subarray(keyStart)));
      // A string this long is a value, not a key: stop collecting it.
      if (keyParts.reduce((sum, b) => sum + b.length, 0) > 4096) keyParts = undefined;
    }
    keyStart = -1;
    offset += n;
    stats.bytes = offset;
  }
  if (stack.length > 0 || spanDepth > 0 || inString) fail(offset, 'the JSON ends before it is complete');
  return stats;
}

