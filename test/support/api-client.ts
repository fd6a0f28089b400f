/**
 * The few calls a test makes to the management API: JSON in and out.
 */

export const postJson = (url: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> =>
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });

export async function json<T>(response: Response): Promise<T> {
  return (await response.json()) as T;
}
