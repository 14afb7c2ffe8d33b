// A sender set to form encoding where JSON is expected (a webhook's content type
// left at application/x-www-form-urlencoded) is told which content type to set,
// rather than handed the JSON parser's complaint about the body's first byte.
// The routes decide by the bytes: JSON merely labelled so (curl -d labels every
// body so) parses and is taken; only a body that is not JSON under this label
// gets the advice.

export const FORM_ENCODED = 'application/x-www-form-urlencoded';

/** Whether a Content-Type header names form encoding (its parameters, such as charset, aside). */
export function isFormEncoded(contentType: string | string[] | undefined): boolean {
  const first = Array.isArray(contentType) ? contentType[0] : contentType;
  return first?.split(';')[0]?.trim().toLowerCase() === FORM_ENCODED;
}
