// The Attachment API (reference §5): a binary upload to a record
// (`POST /api/now/attachment/file?table_name=&table_sys_id=&file_name=`, the raw
// bytes with their Content-Type), the metadata list (`GET /api/now/attachment`,
// a query on sys_attachment), one record's metadata and its bytes. Uploads
// larger than `com.glide.attachment.max_size` are refused.

import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { HttpResponse } from 'msw';
import type { RecordSerializer } from './record-serializer.ts';
import type { SimStore } from './record-store.ts';
import type { RecordWriter } from './record-writer.ts';
import { errorResponse, jsonResponse, noRecordFound } from './sim-responses.ts';
import { DT, defineTable, INT, S, type Row } from './table-schema.ts';
import type { TableApi } from './table-api.ts';

/** Field order of attachment_metadata_change_request.json (sys_attachment as the API returns it). */
export const SYS_ATTACHMENT = defineTable('sys_attachment', 'Attachment', 'file_name', {
  average_image_color: S,
  chunk_size_bytes: S,
  compressed: S,
  content_type: S,
  download_link: S,
  file_name: S,
  hash: S,
  image_height: S,
  image_width: S,
  size_bytes: S,
  size_compressed: S,
  state: S,
  sys_created_by: S,
  sys_created_on: DT,
  sys_id: S,
  sys_mod_count: INT,
  sys_tags: S,
  sys_updated_by: S,
  sys_updated_on: DT,
  table_name: S,
  table_sys_id: S,
});

/** `com.glide.attachment.max_size`: 1024 MB unless the instance sets it. */
export const DEFAULT_ATTACHMENT_MAX_BYTES = 1024 * 1024 * 1024;
/** The Attachment API lists 1000 records a page unless `sysparm_limit` says otherwise (the Table API: 10000). */
const LIST_LIMIT = 1000;

export interface AttachmentApiHost {
  readonly store: SimStore;
  readonly writer: RecordWriter;
  readonly serializer: RecordSerializer;
  readonly tableApi: TableApi;
  instanceUrl(): string;
  now(): Date;
  maxBytes(): number;
  isHidden(row: Row, table: string): boolean;
}

/**
 * The instance's answer to a file above the limit. The docs say only that the API
 * "respects" the limit; status and text are those community reports quote for it
 * [UNVERIFIED against a live instance].
 */
export function attachmentTooLarge(): Response {
  return errorResponse(400, 'Failed to create the attachment. File part might be too large.', null);
}

export class AttachmentApi {
  /** The bytes of each attachment, by its sys_id (the metadata lives in sys_attachment). */
  readonly #content = new Map<string, Uint8Array>();
  readonly #host: AttachmentApiHost;

  constructor(host: AttachmentApiHost) {
    this.#host = host;
  }

  /** `POST /api/now/attachment/file`: 201 with the new record's metadata and its URL in `Location`. */
  async upload(request: Request, url: URL, user: string): Promise<Response> {
    const tableName = url.searchParams.get('table_name') ?? '';
    const tableSysId = url.searchParams.get('table_sys_id') ?? '';
    const fileName = url.searchParams.get('file_name') ?? '';
    const missing = [['table_name', tableName], ['table_sys_id', tableSysId], ['file_name', fileName]].filter(([, v]) => v === '').map(([k]) => k);
    if (missing.length > 0) return errorResponse(400, `Missing required query parameter(s): ${missing.join(', ')}`, null);
    const contentType = request.headers.get('content-type') ?? '';
    if (contentType === '') return errorResponse(400, 'Content-Type header is required: the MIME type of the file', null);
    const target = this.#host.store.table(tableName)?.get(tableSysId);
    if (target === undefined || this.#host.isHidden(target, tableName)) return noRecordFound();
    const bytes = new Uint8Array(await request.arrayBuffer());
    if (bytes.byteLength > this.#host.maxBytes()) return attachmentTooLarge();
    const sysId = createHash('sha256').update(`${tableSysId}:${fileName}:${this.#content.size}:${this.#host.now().getTime()}`).digest('hex').slice(0, 32);
    const row = this.#host.writer.insert(
      'sys_attachment',
      {
        sys_id: sysId,
        average_image_color: '',
        chunk_size_bytes: '700000',
        compressed: 'true',
        content_type: contentType,
        download_link: `${this.#host.instanceUrl()}/api/now/attachment/${sysId}/file`,
        file_name: fileName,
        hash: createHash('sha256').update(bytes).digest('hex'),
        image_height: '',
        image_width: '',
        size_bytes: String(bytes.byteLength),
        size_compressed: String(gzipSync(bytes).byteLength),
        state: 'pending',
        table_name: tableName,
        table_sys_id: tableSysId,
      },
      { user, at: this.#host.now(), trusted: true, enforceRules: false, touchParent: false },
    );
    this.#content.set(sysId, bytes);
    return jsonResponse({ result: this.#metadata(row) }, 201, { location: `${this.#host.instanceUrl()}/api/now/attachment/${sysId}` });
  }

  /** `GET /api/now/attachment?sysparm_query=…`: sys_attachment through the Table API's paging, 1000 a page by default. */
  list(url: URL): Response {
    const paged = new URL(url);
    if (!paged.searchParams.has('sysparm_limit')) paged.searchParams.set('sysparm_limit', String(LIST_LIMIT));
    return this.#host.tableApi.list(paged, undefined, 'sys_attachment');
  }

  /** `GET /api/now/attachment/{sys_id}`. */
  metadata(sysId: string): Response {
    const row = this.#host.store.require('sys_attachment').get(sysId);
    return row === undefined ? noRecordFound() : jsonResponse({ result: this.#metadata(row) });
  }

  /** `GET /api/now/attachment/{sys_id}/file`: the bytes, with the metadata in `X-Attachment-Metadata`. */
  file(sysId: string): Response {
    const row = this.#host.store.require('sys_attachment').get(sysId);
    const bytes = this.#content.get(sysId);
    if (row === undefined || bytes === undefined) return noRecordFound();
    return new HttpResponse(bytes.slice(), {
      status: 200,
      headers: { 'content-type': row.content_type ?? 'application/octet-stream', 'x-attachment-metadata': JSON.stringify(this.#metadata(row)) },
    });
  }

  /** The bytes of an attachment, for tests. */
  content(sysId: string): Uint8Array | undefined {
    return this.#content.get(sysId)?.slice();
  }

  #metadata(row: Row): Record<string, unknown> {
    return this.#host.serializer.serialize(SYS_ATTACHMENT, row, { display: 'false', excludeReferenceLink: true, fields: [], instanceUrl: this.#host.instanceUrl(), timeZone: 'UTC' });
  }
}
