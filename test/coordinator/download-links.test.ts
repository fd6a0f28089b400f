/** Signed download links: what they hold, and every way one is refused. */
import test from 'ava';
import { DownloadLinks } from '../../ts/coordinator/download-links.js';

const RUN = 'checkout-20260101T120000Z-1a2b';
const query = (path: string) => new URL(path, 'http://coordinator').searchParams;

test('without a token a link is the plain path and everything is admitted', (t) => {
  const links = new DownloadLinks({ token: undefined });
  t.false(links.signed);
  t.is(links.path(RUN), `/results/${RUN}.tar.gz`);
  t.is(links.check(RUN, new URLSearchParams()), 'ok');
});

test('a signed link: valid until its expiry, refused after, bound to its run, its expiry and the token', (t) => {
  let now = Date.UTC(2026, 0, 1, 12);
  const links = new DownloadLinks({ token: 'tok', expirySeconds: 3600, now: () => now });
  const path = links.path(RUN);
  t.regex(path, new RegExp(`^/results/${RUN}\\.tar\\.gz\\?expires=${now / 1000 + 3600}&signature=[\\w-]{43}$`));
  t.false(path.includes('tok'));
  t.is(links.check(RUN, query(path)), 'ok');
  t.is(links.check('other-20260101T120000Z-1a2b', query(path)), 'invalid');
  t.is(new DownloadLinks({ token: 'other', now: () => now }).check(RUN, query(path)), 'invalid', 'another token');
  const later = query(path);
  later.set('expires', String(Number(later.get('expires')) + 1));
  t.is(links.check(RUN, later), 'invalid');
  const noSignature = query(path);
  noSignature.delete('signature');
  t.is(links.check(RUN, noSignature), 'invalid');
  t.is(links.check(RUN, new URLSearchParams()), 'unsigned');
  now += 3599_000;
  t.is(links.check(RUN, query(path)), 'ok');
  now += 1000;
  t.is(links.check(RUN, query(path)), 'expired');
});

test('links survive a restart of the coordinator with the same token', (t) => {
  const path = new DownloadLinks({ token: 'tok' }).path(RUN);
  t.is(new DownloadLinks({ token: 'tok' }).check(RUN, query(path)), 'ok');
});
