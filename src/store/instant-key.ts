// Sources send instants at different precisions (`…:53Z`, `…:53.000Z`,
// offsets); compared as text those sort wrongly (`.` sorts before `Z`). Stores
// sort and compare on this normalised form instead.

/** `YYYY-MM-DDTHH:mm:ss.sssZ` for any parseable instant; text that is not an instant is returned unchanged. */
export function instantKey(value: string): string {
  // The two shapes connectors emit, handled without a Date round trip (this runs for every record synced).
  if (value.charCodeAt(10) === 84 /* T */ && value.charCodeAt(value.length - 1) === 90 /* Z */) {
    if (value.length === 24 && value.charCodeAt(19) === 46 /* . */) return value;
    if (value.length === 20) return `${value.slice(0, 19)}.000Z`;
  }
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? value : new Date(ms).toISOString();
}
