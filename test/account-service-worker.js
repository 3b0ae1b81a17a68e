// A stand-in for the account service: another Worker that reaches ICD only through its Service
// Binding ICD (to the AccountService entrypoint), as in production. test/vitest.config.ts runs it
// beside the Worker under test; the tests drive it with JSON over its fetch:
//   POST /register {"id": hex, "token_hash": hex}   POST /delete {"id": hex}
//   POST /import {"users": [[hex, hex], ...], "announce": bool}   POST /call {"method": name}
// and it answers {"result": ...} or {"error": name, "message": ...} when the call threw.

const bytes = (hex) => Uint8Array.from(hex.match(/../g) ?? [], (pair) => parseInt(pair, 16));

export default {
  async fetch(request, env) {
    const body = await request.json();
    const path = new URL(request.url).pathname;
    try {
      let result;
      if (path === "/register") result = await env.ICD.register(bytes(body.id), bytes(body.token_hash));
      else if (path === "/delete") result = await env.ICD.delete(bytes(body.id));
      else if (path === "/import") result = await env.ICD.import(body.users.map(([id, hash]) => [bytes(id), bytes(hash)]), body.announce);
      // Any method by name, with raw JSON arguments: what else the entrypoint answers to.
      else if (path === "/call") result = await env.ICD[body.method](...(body.args ?? []));
      else return new Response("not found", { status: 404 });
      return Response.json({ result });
    } catch (error) {
      return Response.json({ error: error.name, message: error.message });
    }
  },
};
