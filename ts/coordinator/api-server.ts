/**
 * The management API on port 8000: start and abort runs, watch them live over a
 * WebSocket, list generators, list, download and delete reports, and the
 * website's static files. Every error is JSON `{ error: { code, message } }`
 * with a stable code (api-messages.ts).
 */
import fastifyWebsocket from '@fastify/websocket';
import Fastify, { type FastifyError, type FastifyReply } from 'fastify';
import { open } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { METRICS_PATH, chooseLiveProtocol, isGuardedPath, tokenCheck } from './token-auth.js';
import {
  API_ERROR,
  reportLinkOf,
  runEnded,
  runIdOfReportPage,
  type ApiErrorBody,
  type ApiErrorKind,
  type PlanChecked,
  type ReportDetail,
  type ReportEntry,
  type RunEnded,
  type RunStarted,
  type RunStatus,
} from './api-messages.js';
import { runIdOfArchive } from './archive.js';
import { htmlReportOfArchive } from './html-report.js';
import type { Coordinator, StartOutcome } from './coordinator.js';
import { DownloadLinks } from './download-links.js';
import type { Run } from './run.js';
import { GeneratorUtilisationTracker } from './generator-utilisation.js';
import { LiveStream } from './live-stream.js';
import { OPENMETRICS_CONTENT_TYPE, TEXT_CONTENT_TYPE, renderExposition, wantsOpenMetrics } from './prometheus-exposition.js';
import { PrometheusScrape } from './prometheus-scrape.js';
import { ReportReader, type ReportContents } from './report-reader.js';
import { REPORT_ERROR, ReportError } from './report-store.js';
import { isValidRunId } from './run-id.js';
import { rampStep } from './ramp.js';
import { StaticSite } from './static-site.js';
import { SETTINGS } from '../shared/settings.js';

export const DEFAULT_API_PORT = SETTINGS.port.fallback;
/** Plans carry their scripts; a few MiB is far beyond any real one and still cheap to refuse. */
export const DEFAULT_MAX_BODY_BYTES = 4 << 20;
/** Live-stream clients only listen. */
const MAX_CLIENT_MESSAGE_BYTES = 4096;
const MAX_ABORT_REASON_CHARS = 200;
/** How long close() lets responses in flight (downloads) finish. */
const CLOSE_GRACE_MS = 2000;

export interface ApiServerOptions {
  coordinator: Coordinator;
  /** Default 127.0.0.1: listening beyond loopback is the caller's explicit choice. */
  host?: string;
  /** Default 8000; 0 picks a free port. */
  port?: number;
  /** When set, /api and /results need it (token-auth.ts); archives are then served to signed links (download-links.ts). */
  token?: string;
  /** How long a signed download link is valid (default DEFAULT_LINK_EXPIRY_SECONDS). */
  linkExpirySeconds?: number;
  log?: (line: string) => void;
  maxBodyBytes?: number;
  /** The website's folder (default: the package's web/). */
  webDir?: string;
}

export interface ApiServer {
  port: number;
  /** `http://host:port`, with the address the server is bound to. */
  url: string;
  /** Live-stream clients connected now. */
  liveClients(): number;
  close(): Promise<void>;
}

function sendError(reply: FastifyReply, kind: ApiErrorKind, message: string, extra: Omit<ApiErrorBody, 'error'> = {}): FastifyReply {
  return reply.code(kind.status).send({ error: { code: kind.code, message }, ...extra } satisfies ApiErrorBody);
}

/** Fastify's own request failures, as our error codes with messages a user can act on. */
function frameworkError(error: FastifyError): { kind: ApiErrorKind; message: string } | undefined {
  switch (error.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return { kind: API_ERROR.invalidJson, message: `the request body is not valid JSON: ${error.message}` };
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { kind: API_ERROR.bodyTooLarge, message: error.message };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { kind: API_ERROR.unsupportedMediaType, message: 'send JSON with Content-Type: application/json' };
  }
  if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
    return { kind: { code: API_ERROR.badRequest.code, status: error.statusCode }, message: error.message };
  }
  return undefined;
}

export async function startApiServer(options: ApiServerOptions): Promise<ApiServer> {
  const { coordinator } = options;
  const log = options.log ?? ((line: string) => console.error(line));
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const app = Fastify({ logger: false, bodyLimit: maxBodyBytes, forceCloseConnections: 'idle' });
  const token = options.token === '' ? undefined : options.token;
  const links = new DownloadLinks({ token, ...(options.linkExpirySeconds !== undefined ? { expirySeconds: options.linkExpirySeconds } : {}) });
  const live = new LiveStream(coordinator, (runId) => links.path(runId));
  const generators = new GeneratorUtilisationTracker(coordinator.registry);
  const site = new StaticSite(options.webDir);
  const reader = new ReportReader();
  const scrape = new PrometheusScrape(coordinator.registry);
  const unobserve = coordinator.observe({ onSecond: (sample) => scrape.update(sample) });
  // Starts one after another: a second start waits for the first to be decided,
  // so it meets that run as active (409) instead of starting beside it.
  let starting: Promise<unknown> = Promise.resolve();

  // Plans are JSON; a text body must not reach validation as one long string.
  app.removeContentTypeParser('text/plain');
  app.setErrorHandler((error: FastifyError, _request, reply) => {
    const known = frameworkError(error);
    if (known) return sendError(reply, known.kind, known.message);
    log(`stressgrid coordinator: API failure: ${error.stack ?? error.message}`);
    return sendError(reply, API_ERROR.internal, `the coordinator failed: ${error.message}`);
  });
  app.setNotFoundHandler((request, reply) => sendError(reply, API_ERROR.notFound, `no ${request.method} ${request.url.split('?')[0]} here`));

  // Registered before the token hook: its own hooks must see an upgrade refused
  // by the token, or that socket is never closed and shutdown waits on it.
  await app.register(fastifyWebsocket, { options: { maxPayload: MAX_CLIENT_MESSAGE_BYTES, handleProtocols: chooseLiveProtocol } });

  if (token !== undefined) {
    const allowed = tokenCheck(token, 'api');
    app.addHook('onRequest', async (request, reply) => {
      const path = request.url.split('?')[0]!;
      if (!isGuardedPath(path)) return;
      const rawQuery = request.url.slice(path.length + 1);
      const query = new URLSearchParams(rawQuery);
      if (allowed({ method: request.method, path, authorization: request.headers.authorization, protocols: request.headers['sec-websocket-protocol'] })) return;
      const resultName = path.slice('/results/'.length);
      const archiveRunId = request.method === 'GET' && path.startsWith('/results/') ? (runIdOfArchive(resultName) ?? runIdOfReportPage(resultName)) : null;
      if (archiveRunId !== null) {
        const link = links.check(archiveRunId, query);
        if (link === 'ok') return;
        if (link === 'expired')
          return sendError(
            reply,
            API_ERROR.linkExpired,
            'this download link has expired: ask the coordinator for a new one (sgcli prints one at the end of a run; the website lists them under Reports)',
          );
        if (link === 'invalid') return sendError(reply, API_ERROR.linkInvalid, 'this download link was altered or signed with another token: use the link as the coordinator gave it');
      }
      reply.header('www-authenticate', 'Bearer realm="stressgrid"');
      return sendError(reply, API_ERROR.unauthorized, 'this coordinator needs its token: send Authorization: Bearer <STRESSGRID_TOKEN>');
    });
  }

  app.post('/api/runs', async (request, reply) => {
    const outcome: Promise<StartOutcome> = starting.then(() => coordinator.start(request.body));
    starting = outcome.catch(() => undefined);
    const started = await outcome;
    if (started.ok) {
      live.watch(started.run);
      return reply.code(201).send({ runId: started.run.runId } satisfies RunStarted);
    }
    if ('problems' in started) {
      const n = started.problems.length;
      return sendError(reply, API_ERROR.invalidPlan, `the plan has ${n} problem${n === 1 ? '' : 's'}`, { problems: started.problems });
    }
    const kind = started.code === 'run_active' ? API_ERROR.runActive : started.code === 'no_generators' ? API_ERROR.noGenerators : API_ERROR.noDevices;
    return sendError(reply, kind, started.message);
  });

  // The website checks the plan as the user types: compile errors at their line, the effective devices.
  app.post('/api/plans/check', async (request): Promise<PlanChecked> => {
    const { problems, generators, effective } = await coordinator.check(request.body);
    return {
      ok: problems.length === 0,
      problems,
      generators,
      stepSize: rampStep(generators),
      effectiveDevices: effective?.devices ?? null,
      effectiveMessage: effective?.message ?? null,
    };
  });

  app.get('/api/runs/current', async (_request, reply) => {
    const run = coordinator.run;
    if (!run) return sendError(reply, API_ERROR.noActiveRun, 'no run is active');
    return { state: 'active', snapshot: run.snapshot() } satisfies RunStatus;
  });

  app.get<{ Params: { runId: string } }>('/api/runs/:runId', async (request, reply) => {
    const { runId } = request.params;
    if (!isValidRunId(runId)) return notARunId(reply, request.params.runId);
    const run = coordinator.run;
    if (run?.runId === runId) return { state: 'active', snapshot: run.snapshot() } satisfies RunStatus;
    const result = live.ended(runId);
    if (result) return { state: 'ended', result } satisfies RunStatus;
    return sendError(reply, API_ERROR.notFound, `run ${runId} is not active and did not end recently; see /api/reports`);
  });

  const abortRun = async (run: Run, body: unknown): Promise<RunEnded> => {
    const given = (body as { reason?: unknown } | undefined)?.reason;
    const reason = typeof given === 'string' && given.trim() !== '' ? given.trim().slice(0, MAX_ABORT_REASON_CHARS) : undefined;
    live.watch(run);
    return runEnded(await run.abort(reason), (id) => links.path(id));
  };

  app.post('/api/runs/current/abort', async (request, reply) => {
    const run = coordinator.run;
    if (!run) return sendError(reply, API_ERROR.noActiveRun, 'no run is active');
    return abortRun(run, request.body);
  });

  // By id, so a client whose run already ended never aborts the next one.
  app.post<{ Params: { runId: string } }>('/api/runs/:runId/abort', async (request, reply) => {
    const { runId } = request.params;
    if (!isValidRunId(runId)) return notARunId(reply, request.params.runId);
    const run = coordinator.run;
    if (run?.runId === runId) return abortRun(run, request.body);
    const result = live.ended(runId);
    if (result) return result;
    return sendError(reply, API_ERROR.notFound, `run ${runId} is not active and did not end recently`);
  });

  app.get('/api/generators', () => generators.list());

  app.get('/api/reports', async () =>
    Promise.all(
      (await coordinator.store.list()).map(async (r): Promise<ReportEntry> => ({
        runId: r.runId,
        fileName: r.fileName,
        bytes: r.bytes,
        startedAt: r.startedAt,
        url: links.path(r.runId),
        reportUrl: reportLinkOf(links.path(r.runId)),
        summary: await reader.summary(r.path),
      })),
    ),
  );

  app.get<{ Params: { runId: string } }>('/api/reports/:runId', async (request, reply) => {
    const { runId } = request.params;
    const path = await reportCall(reply, () => coordinator.store.path(runId));
    if (path === undefined) return reply;
    if (path === null) return sendError(reply, API_ERROR.notFound, `there is no report of run ${runId}`);
    let contents: ReportContents;
    try {
      contents = await reader.contents(runId, path);
    } catch (error) {
      // Deleted between the two calls, or a file that is not an archive.
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return sendError(reply, API_ERROR.notFound, `there is no report of run ${runId}`);
      throw error;
    }
    return { ...contents, url: links.path(runId), reportUrl: reportLinkOf(links.path(runId)) } satisfies ReportDetail;
  });

  app.delete<{ Params: { runId: string } }>('/api/reports/:runId', async (request, reply) => {
    const { runId } = request.params;
    const deleted = await reportCall(reply, () => coordinator.store.delete(runId));
    if (deleted === undefined) return reply;
    if (!deleted) return sendError(reply, API_ERROR.notFound, `there is no report of run ${runId}`);
    return reply.code(204).send();
  });

  app.get<{ Params: { fileName: string } }>('/results/:fileName', async (request, reply) => {
    const { fileName } = request.params;
    const pageOf = runIdOfReportPage(fileName);
    if (pageOf !== null) return sendReportPage(reply, pageOf);
    const runId = runIdOfArchive(fileName);
    if (runId === null) return sendError(reply, API_ERROR.notFound, `reports are served as /results/<runId>.tar.gz, not ${fileName}`);
    const path = await reportCall(reply, () => coordinator.store.path(runId));
    if (path === undefined) return reply;
    // Opened before the headers go out, so a delete racing this download cannot cut it short.
    const handle = path === null ? null : await open(path).catch(() => null);
    if (handle === null) return sendError(reply, API_ERROR.notFound, `there is no report of run ${runId}`);
    const { size } = await handle.stat();
    return reply.header('content-type', 'application/gzip').header('content-length', size).header('content-disposition', `attachment; filename="${fileName}"`).send(handle.createReadStream());
  });

  // Prometheus scrapes here (OpenMetrics when it asks for it); the names are in ts/shared/prometheus-names.ts.
  app.get(METRICS_PATH, async (request, reply) => {
    const openMetrics = wantsOpenMetrics(request.headers.accept);
    return reply.header('content-type', openMetrics ? OPENMETRICS_CONTENT_TYPE : TEXT_CONTENT_TYPE).send(renderExposition(scrape.families(), openMetrics));
  });

  /** A run's HTML report: the one its archive carries, or one built from an older archive's files. */
  const sendReportPage = async (reply: FastifyReply, runId: string): Promise<FastifyReply> => {
    const path = await reportCall(reply, () => coordinator.store.path(runId));
    if (path === undefined) return reply;
    if (path === null) return sendError(reply, API_ERROR.notFound, `there is no report of run ${runId}`);
    let html: string;
    try {
      html = await htmlReportOfArchive(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return sendError(reply, API_ERROR.notFound, `there is no report of run ${runId}`);
      throw error;
    }
    return reply.header('content-type', 'text/html; charset=utf-8').send(html);
  };

  app.route({
    method: 'GET',
    url: '/api/live',
    handler: (_request, reply) => sendError(reply, API_ERROR.upgradeRequired, 'the live stream is a WebSocket: connect with ws://.../api/live'),
    wsHandler: (socket) => live.add(socket),
  });

  app.get('/*', async (request, reply) => {
    const path = request.url.split('?')[0]!;
    if (isGuardedPath(path) || !(await site.present()))
      return sendError(reply, API_ERROR.notFound, `no GET ${path} here${isGuardedPath(path) ? '' : ' (the website is not installed; the API is under /api)'}`);
    const file = await site.openWithMounts(path);
    if (file === null) return sendError(reply, API_ERROR.notFound, `no ${path} on the website`);
    return reply.header('content-type', file.contentType).header('content-length', file.bytes).send(file.stream);
  });

  await app.listen({ host: options.host ?? '127.0.0.1', port: options.port ?? DEFAULT_API_PORT });
  const address = app.server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  let closed: Promise<void> | undefined;
  return {
    port: address.port,
    url: `http://${host}:${address.port}`,
    liveClients: () => live.size,
    close() {
      closed ??= (async () => {
        live.close();
        generators.stop();
        unobserve();
        const closing = app.close();
        // A download to a client that stopped reading would hold shutdown forever.
        const grace = setTimeout(() => app.server.closeAllConnections(), CLOSE_GRACE_MS);
        await closing;
        clearTimeout(grace);
      })();
      return closed;
    },
  };
}

function notARunId(reply: FastifyReply, given: string): FastifyReply {
  return sendError(reply, API_ERROR.invalidRunId, `${JSON.stringify(given.slice(0, 80))} is not a run id (like checkout-20260101T120000Z-1a2b)`);
}

/** Runs a report-store call, answering 400 for a malformed run id; undefined when it answered. */
async function reportCall<T>(reply: FastifyReply, call: () => Promise<T>): Promise<T | undefined> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof ReportError && error.code === REPORT_ERROR.invalidRunId) {
      sendError(reply, API_ERROR.invalidRunId, error.message);
      return undefined;
    }
    throw error;
  }
}
