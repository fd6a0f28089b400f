/**
 * One QuickJS WebAssembly module per worker thread (module state is per thread,
 * so a module-level promise is exactly that).
 *
 * quickjs-emscripten 0.32 reads some out-parameters through typed-array views
 * created before the call (executePendingJobs, newPromise, getLength); when
 * the WASM heap grows during such a call those views are detached (upstream
 * issue 240). We hand Emscripten a memory that already has its maximum size
 * (2 GiB, the 32-bit limit), so the heap never grows. Untouched pages are never
 * committed, so this costs address space, not RSS; each runtime's own memory
 * limit keeps the actual use in check.
 */
import { newQuickJSWASMModule, newVariant, RELEASE_SYNC, type QuickJSWASMModule } from 'quickjs-emscripten';

const MAX_PAGES = 32768;

/** The project compiles without the DOM lib, which is where TypeScript declares WebAssembly. */
type WasmMemoryConstructor = new (descriptor: { initial: number; maximum: number }) => object;
const WasmMemory = (globalThis as unknown as { WebAssembly: { Memory: WasmMemoryConstructor } }).WebAssembly.Memory;

let loaded: Promise<QuickJSWASMModule> | undefined;

export function quickJSModule(): Promise<QuickJSWASMModule> {
  loaded ??= newQuickJSWASMModule(
    newVariant(RELEASE_SYNC, { wasmMemory: new WasmMemory({ initial: MAX_PAGES, maximum: MAX_PAGES }) as never }),
  );
  return loaded;
}
