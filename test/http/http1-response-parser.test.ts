import test from 'ava';
import { Http1ResponseParser } from '../../ts/generator/protocols/http1-response-parser.js';
import { codeOfCall } from '../support/code-of.js';

function parse(wire: string, { head = false, minor = 1, split = 0 }: { head?: boolean; minor?: 0 | 1; split?: number } = {}): Http1ResponseParser {
  const parser = new Http1ResponseParser(head, minor);
  const bytes = Buffer.from(wire, 'latin1');
  if (split === 0) parser.push(bytes);
  else for (let i = 0; i < bytes.length; i += split) parser.push(bytes.subarray(i, i + split));
  return parser;
}

test('content-length body, fed whole and one byte at a time', (t) => {
  for (const split of [0, 1, 3]) {
    const p = parse('HTTP/1.1 201 Created\r\nContent-Length: 5\r\nX-A:  spaced  \r\n\r\nhello', { split });
    t.true(p.done);
    t.is(p.status, 201);
    t.deepEqual(p.headers, [
      ['content-length', '5'],
      ['x-a', 'spaced'],
    ]);
    t.is(Buffer.from(p.bodyBytes()).toString(), 'hello');
    t.true(p.keepAlive);
  }
});

test('keep-alive follows the versions and the connection header', (t) => {
  t.false(parse('HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 0\r\n\r\n').keepAlive);
  t.false(parse('HTTP/1.0 200 OK\r\ncontent-length: 0\r\n\r\n').keepAlive);
  t.true(parse('HTTP/1.0 200 OK\r\nconnection: Keep-Alive\r\ncontent-length: 0\r\n\r\n').keepAlive);
  // An HTTP/1.0 request persists only when the server says keep-alive, even in an HTTP/1.1 response.
  t.false(parse('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n', { minor: 0 }).keepAlive);
  t.true(parse('HTTP/1.1 200 OK\r\nconnection: keep-alive\r\ncontent-length: 0\r\n\r\n', { minor: 0 }).keepAlive);
});

test('HEAD, 204 and 304 have no body whatever the headers say', (t) => {
  t.true(parse('HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n', { head: true }).done);
  t.true(parse('HTTP/1.1 204 No Content\r\n\r\n').done);
  t.true(parse('HTTP/1.1 304 Not Modified\r\ncontent-length: 10\r\n\r\n').done);
});

test('a body without framing is read until close and ends keep-alive', (t) => {
  const p = parse('HTTP/1.1 200 OK\r\n\r\nsome');
  t.false(p.done);
  p.push(Buffer.from(' more'));
  p.end();
  t.true(p.done);
  t.false(p.keepAlive);
  t.is(Buffer.from(p.bodyBytes()).toString(), 'some more');
});

test('a close before the end is closed, malformed input is protocol', (t) => {
  t.is(
    codeOfCall(() => parse('HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\nabc').end()),
    'closed',
  );
  t.is(
    codeOfCall(() => parse('HTTP/1.1 200 OK\r\ncont').end()),
    'closed',
  );
  t.is(
    codeOfCall(() => parse('HTTP/1.1 2000 OK\r\n\r\n')),
    'protocol',
  );
  t.is(
    codeOfCall(() => parse('HTTP/1.1 200 OK\r\nno colon here\r\n\r\n')),
    'protocol',
  );
  t.is(
    codeOfCall(() => parse('HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\n')),
    'protocol',
  );
  t.is(
    codeOfCall(() => parse('HTTP/1.1 200 OK\r\ncontent-length: -1\r\n\r\n')),
    'protocol',
  );
  t.is(
    codeOfCall(() => parse('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n')),
    'protocol',
  );
  t.is(
    codeOfCall(() => parse('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n1\r\nab\r\n')),
    'protocol',
  );
});

test('bytes after a complete response forbid reusing the connection', (t) => {
  const p = parse('HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\naEXTRA');
  t.true(p.done);
  t.true(p.trailingBytes);
  t.false(p.keepAlive);
});

test('chunked with content-length as well is read as chunked and not reused', (t) => {
  const p = parse('HTTP/1.1 200 OK\r\ncontent-length: 100\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n');
  t.true(p.done);
  t.is(Buffer.from(p.bodyBytes()).toString(), 'ok');
  t.false(p.keepAlive);
});
