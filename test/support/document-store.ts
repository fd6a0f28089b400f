/**
 * A document store on loopback that keeps the contract of ElasticSearch's
 * document API the ElasticSearch example uses (no ElasticSearch or OpenSearch
 * package installs from Debian): `PUT /<index>/_doc/<id>` with a JSON body
 * stores it (201 `created`, then 200 `updated`), `GET /<index>/_doc/<id>`
 * answers `{_index, _id, _version, found, _source}` (404 `found: false` when
 * absent). It counts every request and status, so a test can compare them with
 * what the run reported. With `corruptGets` every GET answers the stored
 * document with one character of its `value` changed, so a test can see the
 * example's check fail.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

const DOC_PATH = /^\/([^/_][^/]*)\/_doc\/([^/?]+)$/;

export interface DocumentStore {
  port: number;
  /** PUTs answered, by status. */
  readonly puts: Map<number, number>;
  /** GETs answered, by status. */
  readonly gets: Map<number, number>;
  /** Requests that were neither (answered 400/405). */
  readonly others: number;
  /** Documents stored, by `<index>/<id>`. */
  readonly documents: Map<string, { version: number; source: unknown }>;
  close(): Promise<void>;
}

export interface DocumentStoreOptions {
  /** GETs answer `_source` with the first character of its `value` changed (default false). */
  corruptGets?: boolean;
}

/** The document with the first character of its `value` changed; anything else unchanged. */
function corrupted(source: unknown): unknown {
  const value = (source as { value?: unknown } | null)?.value;
  if (typeof value !== 'string' || value === '') return source;
  return { ...(source as object), value: `${value[0] === 'A' ? 'B' : 'A'}${value.slice(1)}` };
}

export async function startDocumentStore(options: DocumentStoreOptions = {}): Promise<DocumentStore> {
  const documents = new Map<string, { version: number; source: unknown }>();
  const puts = new Map<number, number>();
  const gets = new Map<number, number>();
  let others = 0;
  const sockets = new Set<Socket>();
  const answer = (res: ServerResponse, tally: Map<number, number> | undefined, status: number, body: unknown): void => {
    if (tally !== undefined) tally.set(status, (tally.get(status) ?? 0) + 1);
    else others++;
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const match = DOC_PATH.exec(req.url ?? '');
      if (match === null) return answer(res, undefined, 400, { error: `no document API at ${req.url}` });
      const [, index, id] = match as unknown as [string, string, string];
      const key = `${index}/${id}`;
      if (req.method === 'PUT') {
        let source: unknown;
        try {
          source = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
          return answer(res, puts, 400, { error: 'mapper_parsing_exception: the body is not JSON' });
        }
        const previous = documents.get(key);
        const version = (previous?.version ?? 0) + 1;
        documents.set(key, { version, source });
        return answer(res, puts, previous === undefined ? 201 : 200, { _index: index, _id: id, _version: version, result: previous === undefined ? 'created' : 'updated' });
      }
      if (req.method === 'GET') {
        const doc = documents.get(key);
        if (doc === undefined) return answer(res, gets, 404, { _index: index, _id: id, found: false });
        const source = options.corruptGets ? corrupted(doc.source) : doc.source;
        return answer(res, gets, 200, { _index: index, _id: id, _version: doc.version, found: true, _source: source });
      }
      return answer(res, undefined, 405, { error: `${req.method} is not supported` });
    });
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    puts,
    gets,
    get others() {
      return others;
    },
    documents,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
