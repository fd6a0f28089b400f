/**
 * Host half of the script's `ws*` functions (guest half in guest/prelude.ts).
 * Upgrade, send and receive are mailbox operations like HTTP requests; fetch is
 * a synchronous host call, since it never waits. A message reaches the guest as
 * the type the script asked for: text as a string (binary messages decoded as
 * UTF-8), bytes through the envelope's binary side channel, JSON inlined after a
 * validity check, as JSON response bodies are.
 */
import { DEVICE_ERROR, DeviceError } from '../../shared/errors.js';
import type { WebSocketConnection, WsMessage } from '../protocols/device-connection.js';
import { WsUpgradeRefused } from '../protocols/ws-upgrade-refused.js';
import { BODY, MESSAGE_AS, OPERATION, type MessageAs, type SentBody } from './mailbox.js';
import { responseFragment, type BinaryParts } from './response-body.js';

/** The operation kinds performed here: upgrade, send, receive. */
export const WS_OPERATIONS: ReadonlySet<string> = new Set([OPERATION.wsUpgrade, OPERATION.wsSend, OPERATION.wsReceive]);

type SendSpec = SentBody;

/**
 * Performs one ws operation; resolves with the result fragment the guest
 * decodes (guest/prelude.ts `settle`), rejects with a DeviceError.
 */
export function performWebSocket(ws: WebSocketConnection, kind: string, payload: unknown, binary: Uint8Array | undefined, out: BinaryParts): Promise<string> {
  switch (kind) {
    case OPERATION.wsUpgrade: {
      const [path, headers] = payload as [string, Array<[string, string]>];
      // A refusal resolves with its response too: the script reads the status, and the body says why.
      return ws.wsUpgrade(path, headers).then(
        (r) => `[${responseFragment(r, out)}]`,
        (err: unknown) => {
          if (!(err instanceof WsUpgradeRefused)) throw err;
          return `[${responseFragment(err.response, out)}]`;
        },
      );
    }
    case OPERATION.wsSend: {
      const [isBinary, data] = payload as [0 | 1, SendSpec];
      const bytes = data[0] === BODY.text ? data[1] : (binary ?? new Uint8Array(0)).subarray(data[1], data[1] + data[2]);
      return ws.wsSend(isBinary === 1, bytes).then(() => '0');
    }
    default: {
      const [as, timeoutMs] = payload as [MessageAs, number];
      return ws.wsReceive(timeoutMs).then((message) => messageFragment(message, as, out));
    }
  }
}

/** A received message as `[BODY.text, text]`, `[BODY.bytes, [offset, length]]` or `[BODY.json, value]`. */
function messageFragment(message: WsMessage, as: MessageAs, out: BinaryParts): string {
  if (as === MESSAGE_AS.binary) return `["${BODY.bytes}",[${out.append(message.data)},${message.data.length}]]`;
  const text = message.data.toString('utf8');
  if (as === MESSAGE_AS.text) return `["${BODY.text}",${JSON.stringify(text)}]`;
  return `["${BODY.json}",${jsonText(text)}]`;
}

function jsonText(text: string): string {
  try {
    JSON.parse(text);
  } catch {
    throw new DeviceError(DEVICE_ERROR.protocol, `WebSocket message is not JSON: ${JSON.stringify(text.slice(0, 100))}`);
  }
  return text;
}

/** The next buffered message for `wsFetch*`: text (also for JSON, which the guest parses), bytes, or null when none. */
export function fetchMessage(ws: WebSocketConnection | undefined, as: MessageAs): string | Buffer | null {
  if (ws === undefined) throw new DeviceError(DEVICE_ERROR.wrongProtocol, 'this device does not speak WebSocket (it needs an HTTP target)');
  const message = ws.wsFetch();
  if (message === undefined) return null;
  return as === MESSAGE_AS.binary ? message.data : message.data.toString('utf8');
}
