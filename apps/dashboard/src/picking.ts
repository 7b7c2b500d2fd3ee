/**
 * What the user picked or dropped, as what to send: one file, or a folder (a name and its
 * files with relative paths). A dropped directory is walked through
 * `DataTransferItem.getAsFileSystemHandle` (Chromium) or `webkitGetAsEntry`; an
 * `<input webkitdirectory>` gives each file's `webkitRelativePath`.
 */

/** One file of a folder, with its path inside the folder. */
export interface PickedFile { file: File, path: string }

/** A picked folder (or several dropped items sent as one). */
export interface PickedFolder { name: string, files: PickedFile[] }

/** The files of an `<input webkitdirectory>`: the folder is the first component of their relative paths. */
export function folderFromInput (files: File[]): PickedFolder | undefined {
  if (files.length === 0) return undefined
  const first = files[0]?.webkitRelativePath ?? ''
  const name = first.includes('/') ? first.split('/')[0] as string : 'folder'
  return { name, files: files.map((f) => ({ file: f, path: f.webkitRelativePath.includes('/') ? f.webkitRelativePath.split('/').slice(1).join('/') : f.name })) }
}

/**
 * Picked files (`<input type=file multiple>`): one file as itself, several as one folder
 * holding them, as a drop of the same files would be.
 */
export function fromPicked (files: File[]): File | PickedFolder | undefined {
  if (files.length === 0) return undefined
  if (files.length === 1) return files[0]
  return { name: `${files.length} files`, files: files.map((f) => ({ file: f, path: f.name })) }
}

type HandleItem = DataTransferItem & { getAsFileSystemHandle?: () => Promise<FileSystemHandle | null> }

/**
 * What was dropped: a single file as itself, anything else (several files, a directory)
 * as one folder. The handles are taken during the drop event (the browser clears the items
 * after it), then walked.
 */
export async function fromDrop (dt: DataTransfer | null): Promise<File | PickedFolder | undefined> {
  if (dt === null) return undefined
  const items = [...dt.items].filter((i) => i.kind === 'file') as HandleItem[]
  const handles = items.map((i) => typeof i.getAsFileSystemHandle === 'function' ? i.getAsFileSystemHandle() : undefined)
  const entries = items.map((i) => i.webkitGetAsEntry?.() ?? null)
  const plain = [...dt.files]
  const files: PickedFile[] = []
  let dirs = 0
  for (const [i, h] of handles.entries()) {
    const handle = await h?.catch(() => null)
    if (handle?.kind === 'directory') {
      dirs++
      await walkHandle(handle as FileSystemDirectoryHandle, handle.name, files)
    } else if (handle?.kind === 'file') {
      files.push({ file: await (handle as FileSystemFileHandle).getFile(), path: handle.name })
    } else if (entries[i]?.isDirectory === true) {
      dirs++
      await walkEntry(entries[i] as FileSystemDirectoryEntry, entries[i]?.name ?? 'folder', files)
    } else if (plain[i] !== undefined) {
      files.push({ file: plain[i] as File, path: (plain[i] as File).name })
    }
  }
  if (files.length === 0) return undefined
  if (files.length === 1 && dirs === 0) return files[0]?.file
  // one directory dropped: it is the folder; several items: one folder holding them
  if (dirs === 1 && handles.length === 1) {
    const top = files[0]?.path.split('/')[0] ?? 'folder'
    return { name: top, files: files.map((f) => ({ file: f.file, path: f.path.split('/').slice(1).join('/') })) }
  }
  return { name: `${files.length} files`, files }
}

async function walkHandle (dir: FileSystemDirectoryHandle, prefix: string, out: PickedFile[]): Promise<void> {
  for await (const [name, h] of dir.entries()) {
    if (h.kind === 'directory') await walkHandle(h as FileSystemDirectoryHandle, `${prefix}/${name}`, out)
    else out.push({ file: await (h as FileSystemFileHandle).getFile(), path: `${prefix}/${name}` })
  }
}

async function walkEntry (dir: FileSystemDirectoryEntry, prefix: string, out: PickedFile[]): Promise<void> {
  const reader = dir.createReader()
  for (;;) {
    const batch = await new Promise<FileSystemEntry[]>((resolve, reject) => { reader.readEntries(resolve, reject) })
    if (batch.length === 0) return
    for (const e of batch) {
      if (e.isDirectory) await walkEntry(e as FileSystemDirectoryEntry, `${prefix}/${e.name}`, out)
      else out.push({ file: await new Promise<File>((resolve, reject) => { (e as FileSystemFileEntry).file(resolve, reject) }), path: `${prefix}/${e.name}` })
    }
  }
}
