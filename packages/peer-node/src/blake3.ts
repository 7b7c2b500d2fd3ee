/**
 * Native BLAKE3 on Node: `@napi-rs/blake-hash` (a prebuilt Rust module, ~4-9 GB/s on 1 MiB
 * chunks here, against ~0.4-0.9 GB/s for the WebAssembly default). Chosen once per process
 * when the first peer is created; where the module cannot load (another platform, a
 * runtime without Node-API) the WebAssembly BLAKE3 stays, and the log says which is used.
 *
 * @packageDocumentation
 */
import { blake3BackendName, useBlake3 } from '@subwire/shared/protocol'
import type { Blake3Backend, Blake3Hasher } from '@subwire/shared/protocol'
import type { Logger } from '@libp2p/interface'

interface NativeModule {
  Blake3Hasher: new () => { reset: () => void, update: (input: Uint8Array) => unknown, digestBuffer: () => Uint8Array }
}

/** The native module as a {@link Blake3Backend}. */
function nativeBackend (mod: NativeModule): Blake3Backend {
  return {
    name: 'native (@napi-rs/blake-hash)',
    create: (): Blake3Hasher => {
      const h = new mod.Blake3Hasher()
      return {
        init: () => { h.reset() },
        update: (data) => { h.update(data) },
        digest: () => new Uint8Array(h.digestBuffer())
      }
    }
  }
}

let chosen: Promise<string> | undefined

/** Installs native BLAKE3 if it loads (once per process); resolves with the backend in use. */
export async function chooseBlake3 (log?: Logger): Promise<string> {
  chosen ??= (async () => {
    try {
      const mod = await import('@napi-rs/blake-hash') as unknown as NativeModule
      const name = await useBlake3(nativeBackend(mod))
      log?.('BLAKE3: %s', name)
      return name
    } catch (err) {
      log?.('BLAKE3: %s (the native module did not load: %s)', blake3BackendName(), (err as Error).message)
      return blake3BackendName()
    }
  })()
  return await chosen
}
