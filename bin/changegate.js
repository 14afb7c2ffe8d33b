#!/usr/bin/env -S node --max-semi-space-size=8
// Entry point for `npx changegate`; npm puts the pinned Node 24 first on PATH.
// oxlint-disable-next-line import/no-unassigned-import
import '../src/main.ts';
