/**
 * The management website: static files from one folder, served only when the
 * folder holds an index.html (a checkout may not have built it). Request paths
 * are resolved inside the folder and never leave it.
 */
import { createReadStream, type ReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** web/ of the package: dist/ts/coordinator/ → the package root. */
export const DEFAULT_WEB_DIR = fileURLToPath(new URL('../../../web/', import.meta.url));

/**
 * Modules the website imports from outside its folder, served under a prefix:
 * uPlot from the installed npm package (never a CDN), and the browser-safe
 * shared definitions (plan fields, protocols, live snapshot, metric names), so
 * the site and the coordinator read one definition. Only the listed files of a
 * mount are served.
 */
interface Mount {
  prefix: string;
  site: StaticSite;
  files: ReadonlySet<string>;
}

const SHARED_DIR = fileURLToPath(new URL('../shared/', import.meta.url));
/** Shared modules that import nothing from Node, so a browser can load them. */
export const BROWSER_SHARED_MODULES = ['plan.js', 'live.js', 'metrics.js', 'thresholds.js', 'json-shape.js'] as const;

function uplotDir(): string | null {
  try {
    return join(dirname(createRequire(import.meta.url).resolve('uplot/package.json')), 'dist');
  } catch {
    return null;
  }
}

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
  private mounts: Mount[] | undefined;

  constructor(root: string = DEFAULT_WEB_DIR) {
    this.root = resolve(root);
  }

  /** Whether there is a website to serve (checked per request: it may be installed while the coordinator runs). */
  async present(): Promise<boolean> {
    return (await stat(join(this.root, 'index.html')).catch(() => null))?.isFile() ?? false;
  }

  /** The site's file for a URL path, looking in the mounts (see Mount) before the folder. */
  async openWithMounts(urlPath: string): Promise<StaticFile | null> {
    this.mounts ??= siteMounts();
    for (const mount of this.mounts) {
      if (!urlPath.startsWith(mount.prefix)) continue;
      const rest = urlPath.slice(mount.prefix.length);
      return mount.files.has(rest) ? mount.site.open(`/${rest}`) : null;
    }
    return this.open(urlPath);
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

function siteMounts(): Mount[] {
  const mounts: Mount[] = [{ prefix: '/shared/', site: new StaticSite(SHARED_DIR), files: new Set(BROWSER_SHARED_MODULES) }];
  const uplot = uplotDir();
  if (uplot) mounts.push({ prefix: '/vendor/uplot/', site: new StaticSite(uplot), files: new Set(['uPlot.esm.js', 'uPlot.min.css']) });
  return mounts;
}
