// One admin API call for the commands that drive a long operation step by step (reshard, rekey):
// JSON back, a refusal (400, 401) fatal at once, anything else tried again with backoff (the server
// restarting, say).

export function adminCaller(server, token, base) {
  return async function call(method, path) {
    for (let attempt = 1; ; attempt++) {
      try {
        const response = await fetch(`${server}${base}${path}`, { method, headers: { Authorization: `Bearer ${token}` } });
        const body = await response.json().catch(() => ({}));
        if (response.status === 400 || response.status === 401) throw Object.assign(new Error(body.error ?? response.statusText), { fatal: true });
        if (!response.ok) throw new Error(`HTTP ${response.status}`);
        return body;
      } catch (error) {
        if (error.fatal || attempt === 8) throw error;
        console.error(`${error.message}; trying again`);
        await new Promise((resolve) => setTimeout(resolve, 250 * 2 ** attempt));
      }
    }
  };
}
