/**
 * How pages find their owners again. A page's `mapping` word (P_MAPPING) holds the id
 * of its owner in a per-thread registry: an even value for a file's page cache
 * (`address_space`), odd for anonymous memory (`anon_vma`, PAGE_MAPPING_ANON). The
 * owner knows every reference to its pages — the page-cache slot, the page-table entries
 * of the VMAs that map it — so migration and reclaim can move or drop a page without
 * scanning page tables (reverse mapping).
 *
 * Reference counting convention (as Linux): the page cache holds one reference to each
 * of its pages; each page-table entry mapping a page holds one reference and one
 * mapcount; anyone else who needs a page to stay put (nfsd handing it to a socket)
 * takes a reference with `getPage` and drops it with `putPage`. A page whose refcount
 * is above what its owner accounts for cannot be migrated (EAGAIN) or reclaimed.
 *
 * @see include/linux/fs.h (struct address_space), mm/rmap.c, mm/migrate.c
 */

import { KernelError } from '@kern/core';

/** A page's owner, as migration and reclaim see it. */
export interface MappingOps {
  /** Whether this is anonymous memory (anon_vma) rather than a file's page cache. */
  readonly anon: boolean;
  /**
   * References the owner holds on a page it owns (page cache slot: 1; anonymous: 0;
   * page-table mappings are counted separately through the mapcount).
   */
  ownerRefs(pfn: number): number;
  /**
   * Replaces `oldPfn` by `newPfn` in every place the owner refers to it: the page-cache
   * slot and each mapping VMA's page-table entry (`rmap_walk` + `remove_migration_ptes`).
   * Called with the old page isolated and its contents already copied. Returns false
   * to refuse, leaving everything pointing at the old page.
   */
  migratePage(oldPfn: number, newPfn: number, index: number): boolean;
  /**
   * Drops the page from the owner if it is clean and unmapped-or-unmappable (reclaim:
   * `__remove_mapping` after `try_to_unmap`). The caller holds one reference of its own
   * (the isolation reference), so the owner lets go only when the refcount is exactly
   * that plus its own. Returns true if the owner let go of it (its references dropped);
   * the caller frees it by dropping its reference.
   */
  releasePage?(pfn: number, index: number): boolean;
}

/** Ids for page owners, so a 32-bit word in a struct page can name one. */
export class MappingRegistry {
  private readonly owners = new Map<number, MappingOps>();
  private next = 1;

  /** Registers an owner and returns the value to store in P_MAPPING for its pages. */
  register(ops: MappingOps): number {
    const id = this.next++;
    if (id >= 2 ** 30) throw new KernelError('ENOSPC', 'mapping registry is full');
    this.owners.set(id, ops);
    return (id << 1) | (ops.anon ? 1 : 0);
  }

  /** Forgets an owner (its P_MAPPING value). */
  unregister(mappingWord: number): void {
    this.owners.delete(mappingWord >>> 1);
  }

  /** The owner a P_MAPPING value names, if registered in this thread. */
  lookup(mappingWord: number): MappingOps | undefined {
    return mappingWord ? this.owners.get(mappingWord >>> 1) : undefined;
  }
}

/** Whether a P_MAPPING value names anonymous memory (`PageAnon`). */
export function mappingIsAnon(mappingWord: number): boolean {
  return (mappingWord & 1) === 1;
}

/**
 * A VMA as reverse mapping sees it: something that may map pages of an owner at a page
 * index and can repoint or drop that mapping. Implemented by the address-space code
 * (mmap.ts); the page cache and anon_vma keep sets of these.
 */
export interface RmapVma {
  /**
   * If this VMA maps `oldPfn` at owner index `index`, points that entry at `newPfn`
   * instead, moving the reference and mapcount. Returns how many entries changed.
   */
  remapPage(index: number, oldPfn: number, newPfn: number): number;
  /** If this VMA maps `pfn` at `index`, clears that entry (dropping its reference and mapcount). Returns entries cleared. */
  unmapPage(index: number, pfn: number): number;
  /**
   * If this VMA maps `pfn` at `index` writable, makes the entry read-only so the next
   * store faults into `pageMkwrite` again (writeback: `folio_mkclean`). Returns whether
   * an entry was changed. Optional: without it, writeback unmaps the page instead.
   */
  wrprotectPage?(index: number, pfn: number): boolean;
}

/**
 * What a file mapping needs from the file's page cache (implemented by filemap.ts,
 * used by mmap.ts): faulting pages in, the write-fault hook, dirtying, and the set of
 * VMAs mapping the file (`i_mmap`).
 */
export interface FileBacking {
  /** The P_MAPPING value of the file's pages. */
  readonly mappingWord: number;
  /** File size in bytes (a fault beyond it is SIGBUS). */
  size(): number;
  /**
   * Finds the page at `index`, reading it in if needed (`filemap_fault`), and returns its
   * PFN with one extra reference taken for the caller.
   * @throws KernelError EFAULT beyond end of file (SIGBUS), EIO on a read error, ENOMEM.
   */
  faultPage(index: number): number;
  /**
   * Called before a page of a shared mapping becomes writable (`page_mkwrite`). May
   * block or throw (a frozen filesystem: fsfreeze hangs write protection here).
   */
  pageMkwrite(pfn: number, index: number): void;
  /** Marks a page dirty (`set_page_dirty`), with dirty accounting. */
  setPageDirty(pfn: number): void;
  /** The VMAs that map this file. */
  readonly iMmap: Set<RmapVma>;
}
