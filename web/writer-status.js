/**
 * How the website shows a writer that sends results elsewhere (CloudWatch): what
 * it delivered and gave up on, and a link to where they arrived. The live view
 * and the report page show it alike, and mark a writer that failed in red.
 */
import { el } from './format.js';

/** One writer's status (shared/live.ts WriterStatus) as text and a link, to append to an element; `live` adds what still waits. */
export function writerStatusParts(status, { live = false } = {}) {
  const counts = [`${status.sent} ${status.unit ?? 'metric data'} sent`, `${status.failed} failed`];
  if (live) counts.push(`${status.pending} waiting`);
  const parts = [counts.join(', ')];
  if (status.failed > 0 && status.lastError) parts.push(` (last error: ${status.lastError})`);
  if (status.link) {
    parts.push(' · ', el('a', { href: status.link, target: '_blank', rel: 'noopener noreferrer' }, `View the run's ${status.writer} metrics`));
  }
  return parts;
}
