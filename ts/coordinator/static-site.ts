/**
 * The management website: static files from one folder, served only when the
 * folder holds an index.html (a checkout may not have built it). Request paths
 * are resolved inside the folder and never leave it.
 */
import { createReadStream, type ReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** web/ of the package: dist/ts/coordinator/ → the package root. */
export const DEFAULT_WEB_DIR = fileURLToPath(new URL('../../../web/', import.meta.url));

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

export interface StaticFile {
  stream: ReadStream;
  contentType: string;
  bytes: number;
}

export class StaticSite {
  readonly root: string;

  constructor(root: string = DEFAULT_WEB_DIR) {
    this.root = resolve(root);
  }

  /** Whether there is a website to serve (checked per request: it may be installed while the coordinator runs). */
  async present(): Promise<boolean> {
    return (await stat(join(this.root, 'index.html')).catch(() => null))?.isFile() ?? false;
  }

  /** The file for a URL path (`/` and folders give their index.html), or null. */
  async open(urlPath: string): Promise<StaticFile | null> {
    let decoded: string;
    try {
      decoded = decodeURIComponent(urlPath);
    } catch {
      return null;
    }
    if (decoded.includes('\0')) return null;
    let path = resolve(this.root, `.${decoded.startsWith('/') ? decoded : `/${decoded}`}`);
    if (path !== this.root && !path.startsWith(this.root + sep)) return null;
    let info = await stat(path).catch(() => null);
    if (info?.isDirectory()) {
      path = join(path, 'index.html');
      info = await stat(path).catch(() => null);
    }
    if (!info?.isFile()) return null;
    return { stream: createReadStream(path), contentType: CONTENT_TYPES[extname(path).toLowerCase()] ?? 'application/octet-stream', bytes: info.size };
  }
}
