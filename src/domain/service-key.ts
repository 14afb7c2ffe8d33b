// How a service or CI is named alike across systems: the services mapping, the
// changes' services and CIs, and the store's index of them compare this key.

/** `Payments API`, `payments-api` and `payments_api` are one service. */
export const serviceKey = (name: string): string => name.toLowerCase().replace(/[^a-z0-9]/g, '');
