// The native addons this package loads, each a napi-rs crate whose folder is
// also the node-gyp-build root (its package.json names the binary).
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');

export const addons = [
  { crate: 'hdr-native', lib: 'stressgrid_hdr_native', binary: 'stressgrid-hdr' },
  { crate: 'netio', lib: 'stressgrid_netio', binary: 'stressgrid-netio' },
].map((a) => ({
  ...a,
  dir: join(root, 'crates', a.crate),
}));
