/**
 * Errors of file transfer.
 *
 * @packageDocumentation
 */
import { SubwireError } from './base.ts'

/** The receiver refused a file offer (too large, no disk space, policy). */
export class FileRefusedError extends SubwireError {
  static override name = 'FileRefusedError'
  static override code = 'ERR_FILE_REFUSED'
  static defaultMessage = 'The receiver refused the file'
}
/** The receiver is still receiving the same file (or folder) from the same sender, over an earlier connection: retried, as that transfer ends. */
export class TransferInProgressError extends SubwireError {
  static override name = 'TransferInProgressError'
  static override code = 'ERR_TRANSFER_IN_PROGRESS'
  static defaultMessage = 'The same file from the same sender is already being received; try again when that transfer ends'
}
/** A file is larger than the receiver accepts. */
export class FileTooLargeError extends SubwireError {
  static override name = 'FileTooLargeError'
  static override code = 'ERR_FILE_TOO_LARGE'
  static defaultMessage = 'File exceeds the maximum size accepted'
}
/** Accepting the file would leave less free disk space than configured. */
export class InsufficientDiskSpaceError extends SubwireError {
  static override name = 'InsufficientDiskSpaceError'
  static override code = 'ERR_INSUFFICIENT_DISK_SPACE'
  static defaultMessage = 'Not enough free disk space for this file'
}
/** A file manifest is malformed or inconsistent (chunk count, sizes, hashes). */
export class InvalidManifestError extends SubwireError {
  static override name = 'InvalidManifestError'
  static override code = 'ERR_INVALID_MANIFEST'
  static defaultMessage = 'Malformed file manifest'
}
/**
 * The receiver asks for the whole manifest before the first chunk: the sender offered it
 * streamed (chunk hashes computed as the chunks go, the root sent after the last), but the
 * receiver holds part of this file from an earlier attempt and can resume it only against
 * the chunk hashes. The sender hashes the file and offers it again, which resumes.
 */
export class ManifestRequiredError extends SubwireError {
  static override name = 'ManifestRequiredError'
  static override code = 'ERR_MANIFEST_REQUIRED'
  static defaultMessage = 'The receiver needs the whole manifest of this file to resume it'
}
/** A received chunk does not match its hash in the manifest; it was not written. */
export class ChunkHashMismatchError extends SubwireError {
  static override name = 'ChunkHashMismatchError'
  static override code = 'ERR_CHUNK_HASH_MISMATCH'
  static defaultMessage = 'A chunk does not match its hash in the manifest'
}
/** The completed file's BLAKE3 does not match the manifest; nothing reached the inbox. */
export class FileHashMismatchError extends SubwireError {
  static override name = 'FileHashMismatchError'
  static override code = 'ERR_FILE_HASH_MISMATCH'
  static defaultMessage = 'The file does not match its BLAKE3 hash'
}
/**
 * The receiver's partial copy of a file failed verification against the manifest on disk
 * (changed, truncated or torn after it was written). Nothing reached the inbox: the
 * partial was cut back to its last good chunk, and sending again resumes from there.
 */
export class PartialFileCorruptedError extends SubwireError {
  static override name = 'PartialFileCorruptedError'
  static override code = 'ERR_PARTIAL_FILE_CORRUPTED'
  static defaultMessage = 'The receiver\'s partial copy failed verification; send again to resume from its last good chunk'
}
/** The other side cancelled the transfer; the message gives its reason. */
export class TransferCancelledError extends SubwireError {
  static override name = 'TransferCancelledError'
  static override code = 'ERR_TRANSFER_CANCELLED'
  static defaultMessage = 'The transfer was cancelled'
}
/** The source file changed (size or content) while it was being sent. */
export class SourceChangedError extends SubwireError {
  static override name = 'SourceChangedError'
  static override code = 'ERR_SOURCE_CHANGED'
  static defaultMessage = 'The source changed while it was being sent'
}
/** This peer has no file storage configured, so it does not receive files. */
export class FilesNotEnabledError extends SubwireError {
  static override name = 'FilesNotEnabledError'
  static override code = 'ERR_FILES_NOT_ENABLED'
  static defaultMessage = 'This peer does not receive files'
}
/** A file sender sent more chunks than the receiver had granted credit for; the stream is reset. */
export class CreditWindowExceededError extends SubwireError {
  static override name = 'CreditWindowExceededError'
  static override code = 'ERR_CREDIT_WINDOW_EXCEEDED'
  static defaultMessage = 'The sender exceeded the credit window'
}
/**
 * A folder entry's relative path is unsafe: absolute, with a drive letter or a backslash,
 * with an empty, `.` or `..` component, or the same as another entry's (or its directory)
 * once sanitised. The whole folder is refused; nothing is created.
 */
export class UnsafePathError extends SubwireError {
  static override name = 'UnsafePathError'
  static override code = 'ERR_UNSAFE_PATH'
  static defaultMessage = 'A folder entry has an unsafe relative path'
}
/** A folder is over the protocol's limits (entries, path length, depth), checked before anything is buffered or created. */
export class FolderLimitError extends SubwireError {
  static override name = 'FolderLimitError'
  static override code = 'ERR_FOLDER_LIMIT'
  static defaultMessage = 'The folder is over the protocol\'s limits'
}
