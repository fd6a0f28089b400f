/**
 * sgcli's distributed mode: the plan runs on a coordinator reached through its
 * management API. It takes the embedded runner's options and returns its result,
 * so verdicts and exit codes are decided by the same code either way; the
 * archive is named by its URL instead of a path.
 *
 * The live stream is opened before the plan is submitted, so not one second of
 * the run is missed. The plan is submitted exactly once, never retried: a retry
 * after a lost answer could start a second run.
 */
import { WebSocket } from 'ws';
import type { EmbeddedOptions, EmbeddedResult } from '../coordinator/embedded.js';
import type { ApiErrorBody, LiveMessage, RunEnded, RunStarted, RunStatus } from '../coordinator/api-messages.js';
import { CLI_ERROR, CliError } from './cli-errors.js';
import { coordinatorPath } from './coordinator-url.js';

export interface RemoteOptions extends Pick<EmbeddedOptions, 'signal' | 'onLive' | 'onNotice'> {
  /** Base URL of the coordinator's API (coordinator-url.ts). */
  coordinator: URL;
  token?: string;
  /** How long the live stream may stay lost before sgcli gives up on the run (default 60 s). */
  reconnectForMs?: number;
}

const RECONNECT_FOR_MS = 60_000;
const FIRST_RETRY_MS = 250;
const MAX_RETRY_MS = 5000;

export async function runRemote(plan: unknown, options: RemoteOptions): Promise<EmbeddedResult> {
  const api = new CoordinatorApi(options.coordinator, options.token);
  const stream = new RunStream(api, options);
  await stream.connect();
  try {
    if (options.signal.aborted) return { outcome: 'aborted', archivePath: null, criticalErrors: 0 };
    const response = await api.request('POST', 'api/runs', plan);
    if (response.status !== 201) {
      const body = (await response.json().catch(() => null)) as ApiErrorBody | null;
      if (response.status === 400 && body?.problems) return { outcome: 'failed', archivePath: null, problems: body.problems, criticalErrors: 0 };
      options.onNotice(`the coordinator refused the run (${response.status}): ${body?.error.message ?? response.statusText}`);
      return { outcome: 'failed', archivePath: null, criticalErrors: 1 };
    }
    const { runId } = (await response.json()) as RunStarted;
    const ended = await stream.follow(runId);
    if (ended.reason && ended.outcome === 'failed') options.onNotice(ended.reason);
    return {
      outcome: ended.outcome,
      archivePath: ended.archiveUrl === null ? null : coordinatorPath(options.coordinator, ended.archiveUrl).href,
      criticalErrors: ended.criticalErrors,
      summary: ended.summary,
      ...(ended.reason ? { reason: ended.reason } : {}),
    };
  } finally {
    stream.close();
  }
}

/** HTTP calls to the API, with the token and errors a user can act on. */
class CoordinatorApi {
  constructor(
    readonly base: URL,
    readonly token: string | undefined,
  ) {}

  get headers(): Record<string, string> {
    return this.token ? { authorization: `Bearer ${this.token}` } : {};
  }

  async request(method: 'GET' | 'POST', path: string, body?: unknown): Promise<Response> {
    const url = coordinatorPath(this.base, path);
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers: { ...this.headers, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
    } catch (error) {
      throw unreachable(this.base, error);
    }
    if (response.status === 401) throw unauthorized(this.base, this.token);
    return response;
  }
}

/**
 * The live stream of one run: snapshots and notices go to the view until the
 * run's ending arrives. A stream that drops is reopened, and the run's state is
 * asked for by id, so an ending sent while it was down is not lost.
 */
class RunStream {
  private socket: WebSocket | undefined;
  private runId: string | undefined;
  private closed = false;
  private settle: ((ended: RunEnded) => void) | undefined;
  private fail: ((error: Error) => void) | undefined;
  /** Endings that arrived before the start was answered (a run of seconds may end that fast). */
  private readonly early = new Map<string, RunEnded>();
  /** Set when the stream was lost for good. */
  private failure: Error | undefined;

  constructor(
    private readonly api: CoordinatorApi,
    private readonly options: RemoteOptions,
  ) {}

  /** Opens the stream; throws a CliError when the coordinator cannot be reached or refuses the token. */
  connect(): Promise<void> {
    const url = coordinatorPath(this.api.base, 'api/live');
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url, { headers: this.api.headers });
      socket.once('unexpected-response', (request, response) => {
        request.destroy();
        reject(
          response.statusCode === 401
            ? unauthorized(this.api.base, this.api.token)
            : new CliError(CLI_ERROR.runFailed, `${url.href} answered ${response.statusCode}: is ${this.api.base.href} a Stressgrid coordinator's API?`),
        );
      });
      socket.once('error', (error) => reject(unreachable(this.api.base, error)));
      socket.once('open', () => {
        socket.removeAllListeners('error');
        socket.on('error', () => undefined);
        this.socket = socket;
        socket.on('message', (data: Buffer) => this.onMessage(data.toString()));
        socket.once('close', () => void this.onDrop());
        resolve();
      });
    });
  }

  /** Resolves with the run's ending; Ctrl-C (the signal) aborts the run on the coordinator. */
  follow(runId: string): Promise<RunEnded> {
    this.runId = runId;
    return new Promise<RunEnded>((resolve, reject) => {
      this.settle = resolve;
      this.fail = reject;
      const early = this.early.get(runId);
      if (early) return resolve(early);
      if (this.failure) return reject(this.failure);
      const abort = () => void this.abort(runId);
      if (this.options.signal.aborted) abort();
      else this.options.signal.addEventListener('abort', abort, { once: true });
    }).finally(() => {
      this.settle = undefined;
      this.fail = undefined;
    });
  }

  close(): void {
    this.closed = true;
    this.socket?.close();
  }

  private onMessage(text: string): void {
    let message: LiveMessage;
    try {
      message = JSON.parse(text) as LiveMessage;
    } catch {
      return;
    }
    if (message.type === 'notice') this.options.onNotice(message.message);
    else if (message.type === 'live') {
      // Until the start is answered the run id is unknown; another run's values are never shown.
      if (message.snapshot.runId === this.runId) this.options.onLive(message.snapshot);
    } else if (message.type === 'ended') this.ended(message.result);
  }

  private ended(result: RunEnded): void {
    if (this.runId === undefined) this.early.set(result.runId, result);
    else if (result.runId === this.runId) this.settle?.(result);
  }

  private async abort(runId: string): Promise<void> {
    try {
      const response = await this.api.request('POST', `api/runs/${encodeURIComponent(runId)}/abort`);
      // The answer comes once the report is written: the ending itself, whatever the stream does.
      if (response.ok) this.ended((await response.json()) as RunEnded);
      else this.options.onNotice(`the coordinator did not abort run ${runId} (${response.status}): ${((await response.json().catch(() => null)) as ApiErrorBody | null)?.error.message ?? ''}`);
    } catch (error) {
      this.options.onNotice(`could not abort run ${runId}: ${(error as Error).message}`);
    }
  }

  private async onDrop(): Promise<void> {
    this.socket = undefined;
    if (this.closed) return;
    this.options.onNotice('lost the live stream of the coordinator; reconnecting');
    const deadline = Date.now() + (this.options.reconnectForMs ?? RECONNECT_FOR_MS);
    let wait = FIRST_RETRY_MS;
    let lastError: unknown;
    while (!this.closed && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, wait));
      wait = Math.min(wait * 2, MAX_RETRY_MS);
      if (this.closed) return;
      try {
        await this.connect();
      } catch (error) {
        lastError = error;
        continue;
      }
      this.options.onNotice('live stream back');
      // The stream is up again; should this check fail, the ending still comes over it.
      if (this.runId !== undefined) await this.recheck(this.runId).catch(() => undefined);
      return;
    }
    if (this.closed) return;
    this.failure = new CliError(CLI_ERROR.runFailed, `lost the coordinator at ${this.api.base.href}: ${(lastError as Error | undefined)?.message ?? 'no answer'}`);
    this.fail?.(this.failure);
  }

  /** Whether the run ended while the stream was down. */
  private async recheck(runId: string): Promise<void> {
    const response = await this.api.request('GET', `api/runs/${encodeURIComponent(runId)}`);
    if (response.status === 404) {
      this.ended({ runId, outcome: 'failed', reason: `the coordinator no longer knows run ${runId} (was it restarted?)`, criticalErrors: 1, archiveUrl: null, summary: null });
      return;
    }
    const status = (await response.json()) as RunStatus;
    if (status.state === 'ended') this.ended(status.result);
  }
}

function unreachable(base: URL, error: unknown): CliError {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  const why = cause?.code ?? cause?.message ?? (error as Error).message;
  return new CliError(CLI_ERROR.runFailed, `cannot reach the coordinator at ${base.href}: ${why}`, ['is stressgrid-coordinator running there, and is its API port (8000) open to you?']);
}

function unauthorized(base: URL, token: string | undefined): CliError {
  return new CliError(CLI_ERROR.runFailed, `the coordinator at ${base.href} refused ${token ? 'the token' : 'sgcli: it needs a token'} (401)`, [
    'give its STRESSGRID_TOKEN with --token or the STRESSGRID_TOKEN environment variable',
  ]);
}
