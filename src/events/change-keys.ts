// Change keys as people write them in commit messages, branch names, PR titles
// and deployment payloads. One extractor for every source (sources/change-keys.ts);
// this name is what correlation and the first sources call it.

export { extractChangeKeys as findChangeKeys } from './sources/change-keys.ts';
