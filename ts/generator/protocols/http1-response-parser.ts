/**
 * An incremental HTTP/1.0 and HTTP/1.1 response parser (RFC 9112), fed the bytes
 * of one socket. It exists because a device holds only one request in flight and
 * needs no more than status, headers and a whole body: a parser this size costs
 * nothing while the connection is idle (it is created per response), unlike a
 * general client kept per device.
 */
import { DEVICE_ERROR, DeviceError } from '../../shared/errors.js';
import { HTTP_CHUNK_EXTENSIONS, HTTP_FIELD_VALUE, HTTP_TOKEN } from './http-grammar.js';

const enum State {
  Head,
  Length,
  ChunkSize,
  ChunkData,
  ChunkDataEnd,
  Trailers,
  UntilClose,
  Done,
}

/** Longest status line plus header block accepted, and longest chunk-size or trailer line. */
const MAX_HEAD_BYTES = 64 * 1024;
const MAX_LINE_BYTES = 8 * 1024;
const CRLF_CRLF = Buffer.from('\r\n\r\n');
const STATUS_LINE = /^HTTP\/1\.([01]) (\d{3})(?: [^\r\n]*)?$/;
const DECIMAL = /^\d+$/;
const HEX = /^[0-9a-fA-F]+$/;

const protocolError = (message: string): DeviceError => new DeviceError(DEVICE_ERROR.protocol, message);
/** Strips optional whitespace (RFC 9110 5.6.3: spaces and tabs only; String.trim would also take a latin1 no-break space, 0xA0, which is obs-text). */
const ows = (text: string): string => text.replace(/^[ \t]+|[ \t]+$/g, '');

export class Http1ResponseParser {
  status = 0;
  /** 0 for an HTTP/1.0 response, 1 for HTTP/1.1. */
  minorVersion = 1;
  headers: Array<[string, string]> = [];
  /** Whether the connection may carry another request once this response is complete. */
  keepAlive = false;
  /** Bytes the server sent after the end of the response (a broken server): the connection must not be reused. */
  trailingBytes = false;
  /** Those bytes, from the last chunk pushed: after a 101 they are the new protocol's first. */
  afterEnd: Buffer | undefined;

  private state = State.Head;
  private head: Buffer | undefined;
  private line = '';
  private remaining = 0;
  private crlfLeft = 0;
  private readonly body: Buffer[] = [];
  private bodyLength = 0;

  /**
   * @param bodyless the request was HEAD: whatever the headers say, no body follows.
   * @param requestMinorVersion 0 when the request was HTTP/1.0, which changes the keep-alive default.
   */
  constructor(
    private readonly bodyless: boolean,
    private readonly requestMinorVersion: 0 | 1,
  ) {}

  get headersComplete(): boolean {
    return this.state !== State.Head;
  }

  get done(): boolean {
    return this.state === State.Done;
  }

  /** Consumes `chunk`; throws a `protocol` DeviceError on malformed input. */
  push(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      switch (this.state) {
        case State.Head:
          at = this.pushHead(chunk, at);
          break;
        case State.Length: {
          const take = Math.min(this.remaining, chunk.length - at);
          this.addBody(chunk.subarray(at, at + take));
          at += take;
          this.remaining -= take;
          if (this.remaining === 0) this.finish();
          break;
        }
        case State.ChunkSize:
        case State.Trailers:
          at = this.pushLine(chunk, at);
          break;
        case State.ChunkData: {
          const take = Math.min(this.remaining, chunk.length - at);
          this.addBody(chunk.subarray(at, at + take));
          at += take;
          this.remaining -= take;
          if (this.remaining === 0) {
            this.state = State.ChunkDataEnd;
            this.crlfLeft = 2;
          }
          break;
        }
        case State.ChunkDataEnd: {
          const expected = this.crlfLeft === 2 ? 0x0d : 0x0a;
          if (chunk[at] !== expected) throw protocolError('chunk data not followed by CRLF');
          at++;
          if (--this.crlfLeft === 0) this.state = State.ChunkSize;
          break;
        }
        case State.UntilClose:
          this.addBody(at === 0 ? chunk : chunk.subarray(at));
          at = chunk.length;
          break;
        case State.Done:
          this.afterEnd = at === 0 ? chunk : chunk.subarray(at);
          this.trailingBytes = true;
          this.keepAlive = false;
          return;
      }
    }
  }

  /** The peer closed: completes a read-until-close body, else the response was cut short. */
  end(): void {
    if (this.state === State.UntilClose) {
      this.finish();
      return;
    }
    if (this.state !== State.Done) {
      throw new DeviceError(DEVICE_ERROR.closed, this.state === State.Head ? 'connection closed before the response headers were complete' : 'connection closed before the response body was complete');
    }
  }

  /** The whole body; valid once `done`. */
  bodyBytes(): Uint8Array {
    if (this.body.length === 1) return this.body[0]!;
    return Buffer.concat(this.body, this.bodyLength);
  }

  private addBody(part: Buffer): void {
    if (part.length === 0) return;
    this.body.push(part);
    this.bodyLength += part.length;
  }

  private pushHead(chunk: Buffer, at: number): number {
    const rest = at === 0 ? chunk : chunk.subarray(at);
    const previous = this.head?.length ?? 0;
    const buf = this.head === undefined ? rest : Buffer.concat([this.head, rest]);
    const end = buf.indexOf(CRLF_CRLF, Math.max(0, previous - 3));
    if (end === -1) {
      if (buf.length > MAX_HEAD_BYTES) throw protocolError(`response head larger than ${MAX_HEAD_BYTES} bytes`);
      // Copied so a partial head does not pin the socket's whole read buffer.
      this.head = Buffer.from(buf);
      return chunk.length;
    }
    this.head = undefined;
    this.parseHead(buf.toString('latin1', 0, end));
    // Bytes of `chunk` consumed: the head's end minus what was carried over from earlier chunks.
    return at + (end + 4 - previous);
  }

  private parseHead(text: string): void {
    const lines = text.split('\r\n');
    const statusLine = STATUS_LINE.exec(lines[0]!);
    if (statusLine === null) throw protocolError(`malformed status line ${JSON.stringify(lines[0]!.slice(0, 100))}`);
    const status = Number(statusLine[2]);
    const headers: Array<[string, string]> = [];
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i]!;
      const colon = line.indexOf(':');
      const name = colon > 0 ? line.slice(0, colon) : '';
      const value = line.slice(colon + 1);
      // A bare CR or LF, a NUL or another control character in a value is no field line of RFC 9112 (and a way to smuggle one).
      if (!HTTP_TOKEN.test(name) || !HTTP_FIELD_VALUE.test(value)) throw protocolError(`malformed header line ${JSON.stringify(line.slice(0, 100))}`);
      headers.push([name.toLowerCase(), ows(value)]);
    }
    // Interim responses (100 Continue, 103 Early Hints) precede the real one.
    if (status >= 100 && status < 200 && status !== 101) return;
    this.status = status;
    this.minorVersion = Number(statusLine[1]);
    this.headers = headers;
    this.frame();
  }

  /** Chooses how the body is delimited (RFC 9112 6.3) and whether the connection persists (9.3). */
  private frame(): void {
    let transferEncoding: string | undefined;
    let contentLength: string | undefined;
    const connection = new Set<string>();
    for (const [name, value] of this.headers) {
      if (name === 'transfer-encoding') transferEncoding = transferEncoding === undefined ? value : `${transferEncoding},${value}`;
      else if (name === 'content-length') {
        for (const part of value.split(',')) {
          const length = ows(part);
          if (!DECIMAL.test(length) || (contentLength !== undefined && contentLength !== length)) {
            throw protocolError(`invalid content-length ${JSON.stringify(value)}`);
          }
          contentLength = length;
        }
      } else if (name === 'connection') {
        for (const token of value.split(',')) connection.add(ows(token).toLowerCase());
      }
    }
    const persistent = this.requestMinorVersion === 1 && this.minorVersion === 1 ? !connection.has('close') : connection.has('keep-alive') && !connection.has('close');
    this.keepAlive = persistent;

    if (this.bodyless || this.status === 204 || this.status === 304 || this.status === 101) {
      this.finish();
    } else if (transferEncoding !== undefined) {
      const codings = transferEncoding.split(',');
      if (ows(codings[codings.length - 1]!).toLowerCase() === 'chunked') {
        this.state = State.ChunkSize;
        // A message with both framings may be a smuggling attempt; never reuse its connection.
        if (contentLength !== undefined) this.keepAlive = false;
      } else {
        this.startUntilClose();
      }
    } else if (contentLength !== undefined) {
      this.remaining = Number(contentLength);
      if (this.remaining === 0) this.finish();
      else this.state = State.Length;
    } else {
      this.startUntilClose();
    }
  }

  private startUntilClose(): void {
    this.state = State.UntilClose;
    this.keepAlive = false;
  }

  private finish(): void {
    this.state = State.Done;
  }

  /** Collects one CRLF-terminated line of the chunked framing, across chunks. */
  private pushLine(chunk: Buffer, at: number): number {
    const lf = chunk.indexOf(0x0a, at);
    const piece = chunk.toString('latin1', at, lf === -1 ? chunk.length : lf);
    if (this.line.length + piece.length > MAX_LINE_BYTES) throw protocolError('chunk-size or trailer line too long');
    this.line += piece;
    if (lf === -1) return chunk.length;
    // CRLF only: a bare LF or CR inside the framing is how one message is smuggled past another parser.
    if (!this.line.endsWith('\r') || this.line.indexOf('\r') !== this.line.length - 1) throw protocolError('chunk-size or trailer line not ended by CRLF');
    const line = this.line.slice(0, -1);
    this.line = '';
    if (this.state === State.ChunkSize) this.chunkSize(line);
    else if (line === '') this.finish();
    else this.trailer(line);
    return lf + 1;
  }

  /** A trailer field is read like a header field and, like most clients, dropped. */
  private trailer(line: string): void {
    const colon = line.indexOf(':');
    if (colon <= 0 || !HTTP_TOKEN.test(line.slice(0, colon)) || !HTTP_FIELD_VALUE.test(line.slice(colon + 1))) {
      throw protocolError(`malformed trailer line ${JSON.stringify(line.slice(0, 100))}`);
    }
  }

  private chunkSize(line: string): void {
    const semicolon = line.indexOf(';');
    const size = (semicolon === -1 ? line : line.slice(0, semicolon)).trimEnd();
    if (!HEX.test(size) || size.length > 12) throw protocolError(`invalid chunk size ${JSON.stringify(line.slice(0, 100))}`);
    if (semicolon !== -1 && !HTTP_CHUNK_EXTENSIONS.test(line.slice(semicolon))) throw protocolError(`invalid chunk extension ${JSON.stringify(line.slice(0, 100))}`);
    this.remaining = parseInt(size, 16);
    this.state = this.remaining === 0 ? State.Trailers : State.ChunkData;
  }
}
