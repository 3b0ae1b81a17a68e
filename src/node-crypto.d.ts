// The one part of node:crypto the Worker uses (workerd provides it under nodejs_compat): the
// Workers types do not declare Node's modules, and @types/node would bring all of Node's globals.
declare module "node:crypto" {
  interface Cipher {
    update(data: Uint8Array): Uint8Array;
    setAutoPadding(on: boolean): Cipher;
  }
  export function createCipheriv(algorithm: "aes-256-ecb", key: Uint8Array, iv: Uint8Array): Cipher;
}
