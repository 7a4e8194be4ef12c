import { PassThrough, type Readable, type Transform } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import { RelayError, RelayErrorCode } from '../protocol/relay-error';

/** A decoder per `Content-Encoding` the relay undoes, in requests and in upstream answers alike. */
const DECODERS: Readonly<Record<string, () => Transform>> = {
  gzip: createGunzip,
  'x-gzip': createGunzip,
  deflate: createInflate,
  br: createBrotliDecompress,
};

/** A fresh decoder for one `Content-Encoding` value (one coding, any case), or undefined when it is not one of ours. */
export function contentDecoder(encoding: string): Transform | undefined {
  return DECODERS[encoding.trim().toLowerCase()]?.();
}

/** A request body stream as Fastify's body reader takes it from a `preParsing` hook. */
export type DecodedPayload = Readable & { receivedEncodedLength?: number };

/**
 * The request body with its `Content-Encoding` undone, so a compressed request (which the Messages API accepts)
 * is parsed and forwarded like any other; the relay then sends the decoded bytes upstream without the header.
 * `identity` or no header: the payload as it is. `receivedEncodedLength` lets Fastify check the bytes on the wire
 * against Content-Length and `server.max_body_bytes`; the decoded bytes are held to the same limit, so a small
 * compressed body cannot inflate into gigabytes. An unknown encoding is refused with 415, a corrupt one with 400.
 */
export function decodeRequestBody(
  payload: Readable,
  contentEncoding: string | string[] | undefined,
  maxBytes: number,
): DecodedPayload {
  const encoding = (Array.isArray(contentEncoding) ? contentEncoding.join(',') : (contentEncoding ?? ''))
    .trim()
    .toLowerCase();
  if (encoding === '' || encoding === 'identity') return payload;
  const decoder = contentDecoder(encoding);
  if (!decoder) {
    throw new RelayError(
      RelayErrorCode.UnsupportedMediaType,
      `unsupported content-encoding ${JSON.stringify(encoding)}: send the body as identity, gzip, deflate or br`,
    );
  }
  const out = Object.assign(new PassThrough(), { receivedEncodedLength: 0 });
  payload.on('data', (chunk: Buffer) => {
    out.receivedEncodedLength += chunk.length;
  });
  let decoded = 0;
  decoder.on('data', (chunk: Buffer) => {
    decoded += chunk.length;
    if (decoded > maxBytes) {
      decoder.destroy(
        new RelayError(
          RelayErrorCode.BodyTooLarge,
          `request body is larger than the relay accepts after decoding (server.max_body_bytes = ${maxBytes})`,
        ),
      );
    }
  });
  const fail = (err: Error) => {
    payload.unpipe(decoder);
    decoder.destroy();
    out.destroy(
      err instanceof RelayError
        ? err
        : new RelayError(
            RelayErrorCode.InvalidRequest,
            `the request body is not valid ${encoding} data (content-encoding)`,
          ),
    );
  };
  // Fastify stops listening once it has given up on the body (over its limit, say): a later error must not crash.
  out.on('error', () => {});
  payload.on('error', fail);
  decoder.on('error', fail);
  payload.pipe(decoder).pipe(out);
  return out;
}
