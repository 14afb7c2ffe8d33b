#!/usr/bin/env node
// Entry point for `npx changegate`; npm puts the pinned Node 24 first on PATH.
import '../src/main.ts';
