// The logger a connector is handed (pino, with the process's redaction paths).

export type { Logger } from '../log.ts';
