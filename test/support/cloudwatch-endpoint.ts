/**
 * A stand-in for the CloudWatch API on loopback: records every request the real
 * AWS SDK sends it (the SDK pointed here by its `endpoint` setting) and answers
 * as CloudWatch does. CloudWatch speaks AWS JSON 1.0 in "query compatible" mode:
 * the operation is in `x-amz-target`, bodies are JSON (gzipped when large), and
 * an error carries its query-protocol code in `x-amzn-query-error`.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';

export interface RecordedDatum {
  MetricName: string;
  Dimensions?: { Name: string; Value: string }[];
  /** Seconds since the epoch, as the JSON protocol sends timestamps. */
  Timestamp?: number;
  Unit?: string;
  Value?: number;
  StatisticValues?: { SampleCount: number; Sum: number; Minimum: number; Maximum: number };
}

export interface RecordedRequest {
  target: string;
  contentEncoding: string | undefined;
  authorization: string | undefined;
  bytes: number;
  body: { Namespace?: string; MetricData?: RecordedDatum[] };
}

/** How the endpoint answers one request: success, CloudWatch's throttling, a server error, a refusal (no permission), or never. */
export type Answer = 'ok' | 'throttle' | 'server-error' | 'refuse' | 'hang';

export interface CloudWatchEndpoint {
  url: string;
  /** Every request received, answered or not, in order. */
  requests: RecordedRequest[];
  /** Every datum of every request that was answered 'ok', in order. */
  accepted(): RecordedDatum[];
  /** Decides each answer (by the request's index); default: always 'ok'. */
  answer: (index: number) => Answer;
  close(): Promise<void>;
}

export const CLOUDWATCH_TARGET = 'GraniteServiceVersion20100801.PutMetricData';

export async function startCloudWatchEndpoint(): Promise<CloudWatchEndpoint> {
  const answered: RecordedRequest[] = [];
  const hanging = new Set<ServerResponse>();
  const endpoint: CloudWatchEndpoint = {
    url: '',
    requests: [],
    accepted: () => answered.flatMap((r) => r.body.MetricData ?? []),
    answer: () => 'ok',
    close: async () => {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
  const server = createServer((req, res) => void handle(req, res));
  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    let raw = Buffer.concat(chunks);
    const contentEncoding = req.headers['content-encoding'];
    if (contentEncoding === 'gzip') raw = gunzipSync(raw);
    const request: RecordedRequest = {
      target: String(req.headers['x-amz-target'] ?? ''),
      contentEncoding,
      authorization: req.headers.authorization,
      bytes: raw.length,
      body: JSON.parse(raw.toString('utf8') || '{}') as RecordedRequest['body'],
    };
    const index = endpoint.requests.push(request) - 1;
    const answer = endpoint.answer(index);
    const json = (status: number, body: object, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': `req-${index}`, ...headers });
      res.end(JSON.stringify(body));
    };
    if (answer === 'hang') {
      hanging.add(res);
    } else if (answer === 'throttle') {
      json(400, { __type: 'com.amazon.coral.availability#ThrottlingException', message: 'Rate exceeded' }, { 'x-amzn-query-error': 'Throttling;Sender' });
    } else if (answer === 'refuse') {
      json(
        403,
        { __type: 'com.amazon.coral.service#AccessDeniedException', message: 'User: arn:aws:iam::123456789012:user/load is not authorized to perform: cloudwatch:PutMetricData' },
        { 'x-amzn-query-error': 'AccessDenied;Sender' },
      );
    } else if (answer === 'server-error') {
      json(500, { __type: 'com.amazonaws.cloudwatch#InternalServiceFault', message: 'Internal failure' }, { 'x-amzn-query-error': 'InternalServiceError;Receiver' });
    } else {
      answered.push(request);
      json(200, {});
    }
  }
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  endpoint.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return endpoint;
}
