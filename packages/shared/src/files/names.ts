/**
 * File names from the network, made safe to store.
 *
 * @packageDocumentation
 */
import { MAX_FILE_NAME_BYTES } from '../constants.ts'


const RESERVED_NAMES = /^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$/i


/**
 * Neutralises a file name from the network: keeps the last path component only, drops
 * control and path characters, the bidirectional overrides and isolates that make a name
 * read other than it is (`invoice\u202Efdp.exe`), line and paragraph separators and
 * invisible spaces, refuses `.`/`..`, leading dots and Windows reserved names, and caps
 * the length (keeping the extension). Never returns an empty name.
 */
export function sanitizeFileName (name: string): string {
  const last = name.split(/[/\\]/).filter((p) => p.length > 0).pop() ?? ''
  // eslint-disable-next-line no-control-regex
  let clean = last.normalize('NFC').replace(/[\u0000-\u001f\u007f-\u009f<>:"|?*\u200b\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/g, '_').trim()
  clean = clean.replace(/^\.+/, (dots) => '_'.repeat(dots.length))
  if (clean === '') clean = 'file'
  if (RESERVED_NAMES.test(clean)) clean = `_${clean}`
  const encoder = new TextEncoder()
  if (encoder.encode(clean).byteLength > MAX_FILE_NAME_BYTES) {
    const dot = clean.lastIndexOf('.')
    const ext = dot > 0 && clean.length - dot <= 16 ? clean.slice(dot) : ''
    let base = clean.slice(0, clean.length - ext.length)
    while (encoder.encode(base + ext).byteLength > MAX_FILE_NAME_BYTES) base = base.slice(0, -1)
    clean = base + ext
  }
  return clean
}
