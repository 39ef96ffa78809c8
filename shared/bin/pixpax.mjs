#!/usr/bin/env node
// Runs the TypeScript CLI without a build step: tsx compiles it on load.
import { register } from 'tsx/esm/api'

register()
await import('../src/cli/pixpax.ts')
