import type { HttpRequest, HttpResponse } from '../../ts/generator/protocols/device-connection.js';
import { ScriptSandbox, type SandboxLimits } from '../../ts/generator/sandbox/script-sandbox.js';
import type { DeviceIO } from '../../ts/generator/sandbox/device-io.js';

import { RecordingSink } from '../support/recording-sink.js';

export { RecordingSink };

/** An HTTP device that answers every request with `respond` and remembers the requests. */
export function fakeHttp(respond: (req: HttpRequest) => HttpResponse | Promise<HttpResponse> = () => jsonResponse({ ok: true })): {
  io: DeviceIO;
  requests: HttpRequest[];
} {
  const requests: HttpRequest[] = [];
  return {
    requests,
    io: {
      http: async (req) => {
        requests.push(req);
        return respond(req);
      },
    },
  };
}

export function jsonResponse(value: unknown, status = 200): HttpResponse {
  return { status, headers: [['content-type', 'application/json']], body: Buffer.from(JSON.stringify(value)) };
}

/** Runs `source` as one device and returns what the script returned through `params.out`-free means: the sink and the outcome. */
export async function sandbox(source: string, params: unknown = {}, limits?: Partial<SandboxLimits>): Promise<{ sb: ScriptSandbox; sink: RecordingSink }> {
  const sink = new RecordingSink();
  const sb = await ScriptSandbox.create({ source, params, sink, limits });
  return { sb, sink };
}

/**
 * Runs a script whose last act is `await post('/result', {}, json(value))`,
 * and returns that value as the host saw it: a way to read guest values
 * without a back door into the guest.
 */
export async function evaluate(source: string, params: unknown = {}): Promise<unknown> {
  const { sb } = await sandbox(`const __r = await (async () => {\n${source}\n})();\nawait post('/result', {}, json(__r));`, params);
  let result: unknown;
  const { io } = fakeHttp((req) => {
    if (req.path === '/result') result = JSON.parse(Buffer.from(req.body!).toString('utf8'));
    return jsonResponse(null);
  });
  try {
    await sb.run(1, io);
  } finally {
    sb.dispose();
  }
  return result;
}
