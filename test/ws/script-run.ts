/**
 * Runs a script as one device on a real connection (the transport a Device
 * would attach) and reports how it ended, so WebSocket tests can check both the
 * script's view (a failure's code) and the metrics its transport recorded.
 */
import { attach } from '../../ts/generator/device.js';
import type { Target } from '../../ts/generator/protocols/device-connection.js';
import { ScriptSandbox } from '../../ts/generator/sandbox/script-sandbox.js';
import { DeviceError } from '../../ts/shared/errors.js';
import { RecordingSink } from '../support/recording-sink.js';

export interface ScriptOutcome {
  sink: RecordingSink;
  /** The code the device failed with, or undefined when the body returned. */
  code: string | undefined;
  message: string;
}

export async function runScript(source: string, target: Target, params: unknown = {}): Promise<ScriptOutcome> {
  const sink = new RecordingSink();
  const sandbox = await ScriptSandbox.create({ source, params, sink });
  const attached = attach(target, sink);
  try {
    await attached.connection.connect();
    await sandbox.run(1, attached.io);
    return { sink, code: undefined, message: '' };
  } catch (err) {
    return { sink, code: err instanceof DeviceError ? err.code : 'not_a_device_error', message: String((err as Error).message) };
  } finally {
    attached.connection.close();
    sandbox.dispose();
  }
}

/** `same(got, expected, what)` fails the script unless the two serialise alike; `codesOf(calls)` awaits each call and lists the codes they failed with (`none` when one did not). */
export const ASSERT_PRELUDE = `const same = (got, expected, what) => {
  const g = JSON.stringify(got), e = JSON.stringify(expected);
  if (g !== e) throw new Error(what + ': expected ' + e + ', got ' + g);
};
const codesOf = async (calls) => {
  const codes = [];
  for (const f of calls) {
    try { await f(); codes.push('none'); } catch (e) { codes.push(e.code); }
  }
  return codes;
};
`;
