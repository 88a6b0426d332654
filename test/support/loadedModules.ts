// Run as `node loadedModules.ts <module>`: imports the module and prints, one per line, every package
// specifier that was resolved while doing so.
import { registerHooks } from 'node:module';

const seen = new Set<string>();
registerHooks({
  resolve(specifier, context, nextResolve) {
    if (!specifier.startsWith('.') && !specifier.startsWith('/') && !specifier.startsWith('file:') && !specifier.startsWith('node:')) seen.add(specifier);
    return nextResolve(specifier, context);
  },
});
await import(process.argv[2]!);
process.stdout.write([...seen].join('\n'));
