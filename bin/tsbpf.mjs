#!/usr/bin/env node
// The `tsbpf` command. In a development clone (the TypeScript sources are there) it runs them
// through tsx, so a dist/ left over from an earlier build never answers for the sources; an
// installed package ships no sources and runs the compiled CLI from dist/.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(root, 'src', 'cli', 'main.ts');
if (existsSync(source)) {
  const { register } = await import('tsx/esm/api');
  register();
  await import(pathToFileURL(source).href);
} else {
  await import(pathToFileURL(join(root, 'dist', 'cli', 'main.js')).href);
}
