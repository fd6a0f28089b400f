/**
 * One QuickJS WebAssembly module per thread (module state is per thread, so a
 * module-level promise is exactly that): each generator worker's, for its
 * sandbox, and the coordinator's, for the script compile check.
 *
 * quickjs-emscripten 0.32 reads some out-parameters through typed-array views
 * created before the call (executePendingJobs, newPromise, getLength); when
 * the WASM heap grows during such a call those views are detached (upstream
 * issue 240). We hand Emscripten a memory that already has its maximum size
 * (2 GiB, the 32-bit limit), so the heap never grows. Untouched pages are never
 * committed, so this costs address space, not RSS; the accounting allocator
 * (heap-accounting.ts), installed in the module's function table here, keeps
 * the actual use in check.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { newQuickJSWASMModule, newVariant, RELEASE_SYNC, type QuickJSWASMModule } from 'quickjs-emscripten';
import { HeapAccounting, TABLE_EXPORT, Wasm, withTableExport, type WasmTable } from './heap-accounting.js';

const MAX_PAGES = 32768;

export interface QuickJS {
  module: QuickJSWASMModule;
  heap: HeapAccounting;
}

let loaded: Promise<QuickJS> | undefined;

export function quickJS(): Promise<QuickJS> {
  loaded ??= load();
  return loaded;
}

export async function quickJSModule(): Promise<QuickJSWASMModule> {
  return (await quickJS()).module;
}

async function load(): Promise<QuickJS> {
  const memory = new Wasm.Memory({ initial: MAX_PAGES, maximum: MAX_PAGES });
  const wasm = withTableExport(readFileSync(createRequire(import.meta.url).resolve('@jitl/quickjs-wasmfile-release-sync/wasm')));
  let table: WasmTable | undefined;
  const module = await newQuickJSWASMModule(
    newVariant(RELEASE_SYNC, {
      wasmMemory: memory as never,
      emscriptenModule: {
        // Instantiated here rather than by Emscripten only to get hold of the function table.
        instantiateWasm(imports: object, receive: (instance: object, module: object) => void) {
          void Wasm.instantiate(wasm, imports).then(({ instance, module: compiled }) => {
            table = instance.exports[TABLE_EXPORT] as WasmTable | undefined;
            receive(instance, compiled);
          });
          return {};
        },
      },
    }),
  );
  const emscripten = (module as unknown as { module: { _malloc: (n: number) => number; _free: (p: number) => void } }).module;
  if (table === undefined) throw new Error('the QuickJS module exports no function table');
  return { module, heap: new HeapAccounting({ memory, table, malloc: emscripten._malloc, free: emscripten._free }) };
}
