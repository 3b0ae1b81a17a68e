// The benchmarks' HTTP client: node:http with kept-alive connections. Node's fetch (undici) spent
// about 2.7 ms of CPU per request here, as much as the service under test, and on a 2-core machine
// the load generator's CPU is taken from the servers it measures; this one spends about 0.6 ms.
import http from "node:http";

const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

/** One request; resolves with the status, the body and the milliseconds to the last byte. */
export function request(url, { method = "GET", body, headers = {} } = {}) {
  const started = performance.now();
  const { hostname, port, pathname, search } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request({ hostname, port, path: pathname + search, method, agent, headers: body ? { ...headers, "content-length": body.length } : headers }, (res) => {
      const chunks = [];
      res.on("data", (chunk) => chunks.push(chunk));
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks), ms: performance.now() - started }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });
}
