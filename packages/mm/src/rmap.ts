/**
 * Reverse mapping of anonymous pages: the `anon_vma`, and the mapcount bookkeeping every
 * page-table entry does when it starts or stops mapping a page.
 *
 * An anonymous page's P_MAPPING word names the {@link AnonVma} of the VMA it was
 * created in (odd id, PAGE_MAPPING_ANON) and P_INDEX its linear page index in that VMA
 * (`vm_pgoff + (addr − vm_start) / PAGE_SIZE`), so migration can find every page-table
 * entry that maps it without scanning page tables: each VMA in the anon_vma computes the
 * one address the page can sit at. P_INDEX is a 32-bit word while an anonymous VMA's
 * pgoff is `addr / PAGE_SIZE` (up to 2^35), so the index is stored modulo 2^32 and VMAs
 * compare it modulo 2^32; mmap keeps every VMA below 2^32 pages (16 TiB) so that is exact.
 *
 * kern keeps one flat set of VMAs per anon_vma. Linux chains a child's anon_vma to its
 * parent's after fork (`anon_vma_chain`) so a walk of a child-created page skips the
 * parent; here a forked child's VMAs join the parent's anon_vma, so walks may visit VMAs
 * that do not map the page. That is slower, never wrong: every {@link RmapVma} checks
 * that its entry really maps the PFN before touching it.
 *
 * Counters kept here, as `folio_add_*_rmap` / `folio_remove_rmap_pte` keep them:
 * `nr_anon_pages` (NR_ANON_MAPPED) counts anonymous pages mapped at least once,
 * `nr_mapped` (NR_FILE_MAPPED) file pages mapped at least once.
 *
 * Locking: the simulation runs one task at a time; the mapcount word is nevertheless
 * updated with Atomics so a worker reading struct pages sees whole values. Linux guards
 * the VMA set with the anon_vma rwsem.
 *
 * @see mm/rmap.c, include/linux/rmap.h
 */

import { KernelError } from '@kern/core';
import { P_INDEX, P_MAPCOUNT, P_MAPPING } from './layout.js';
import { type MappingOps, type RmapVma, mappingIsAnon } from './mapping.js';
import type { Memory } from './memory.js';
import { PG_swapbacked } from './page-flags.js';

/**
 * An anon_vma: the owner of the anonymous pages of one or more VMAs (a VMA, the pieces
 * it was split into, and the copies fork made of them). Registered in `mem.mappings`
 * with `anon: true`; its pages carry {@link AnonVma.mappingWord} in P_MAPPING.
 *
 * @see mm/rmap.c: anon_vma_prepare, anon_vma_fork, unlink_anon_vmas
 */
export class AnonVma implements MappingOps {
  /** Always true: this owns anonymous memory. */
  readonly anon = true;
  /** The P_MAPPING value of this anon_vma's pages (odd: PAGE_MAPPING_ANON). */
  readonly mappingWord: number;
  /**
   * The VMAs whose anonymous pages this owns (`anon_vma->rb_root`). Guarded by the
   * mmap lock of the mms involved (one simulated task at a time).
   */
  readonly vmas = new Set<RmapVma>();
  private dead = false;

  /** Registers a new anon_vma in `mem.mappings`. Use {@link anonVmaAlloc}. */
  constructor(readonly mem: Memory) {
    this.mappingWord = mem.mappings.register(this);
  }

  /** Whether it was released (its last VMA went away). */
  get released(): boolean {
    return this.dead;
  }

  /** Anonymous pages are held by their page-table entries only: 0 owner references. */
  ownerRefs(_pfn: number): number {
    return 0;
  }

  /**
   * Repoints every page-table entry that maps `oldPfn` at linear index `index` to
   * `newPfn` (`rmap_walk` + `remove_migration_ptes`), moving each entry's reference and
   * mapcount. Never refuses: an entry that no longer maps the page is simply skipped.
   * @see mm/migrate.c: remove_migration_ptes
   */
  migratePage(oldPfn: number, newPfn: number, index: number): boolean {
    for (const vma of this.vmas) vma.remapPage(index, oldPfn, newPfn);
    return true;
  }

  /** No swap: an anonymous page cannot be dropped (`shrink_folio_list` keeps it). */
  releasePage(_pfn: number, _index: number): boolean {
    return false;
  }

  /** Adds a VMA (`anon_vma_chain_link`). @throws KernelError EINVAL after release. */
  link(vma: RmapVma): void {
    if (this.dead)
      throw new KernelError(
        'EINVAL',
        `anon_vma 0x${this.mappingWord.toString(16)} was already released`,
      );
    this.vmas.add(vma);
  }

  /**
   * Removes a VMA (`unlink_anon_vmas`); the last one out unregisters the anon_vma, as
   * `put_anon_vma` frees it. A page still naming it then has no mapping left (its last
   * holder frees it with `putLruPage`); registry ids are never reused, so a lookup of
   * its P_MAPPING finds nothing rather than a stranger.
   */
  unlink(vma: RmapVma): void {
    this.vmas.delete(vma);
    if (this.vmas.size === 0 && !this.dead) {
      this.dead = true;
      this.mem.mappings.unregister(this.mappingWord);
    }
  }
}

/**
 * Creates and registers an anon_vma (`anon_vma_alloc`).
 * @throws KernelError ENOSPC when the mapping registry is full.
 * @see mm/rmap.c: anon_vma_alloc
 */
export function anonVmaAlloc(mem: Memory): AnonVma {
  return new AnonVma(mem);
}

/**
 * How many page-table entries map a page (`page_mapcount`): P_MAPCOUNT + 1, since the
 * word holds mapcount − 1 (−1 for an unmapped page).
 * @see include/linux/mm.h: page_mapcount
 */
export function pageMapcount(mem: Memory, pfn: number): number {
  return mem.pageField(pfn, P_MAPCOUNT) + 1;
}

/**
 * First mapping of a freshly allocated anonymous page (`folio_add_new_anon_rmap`): sets
 * P_MAPPING to the anon_vma, P_INDEX to the linear index, the mapcount to 1 (word 0)
 * and PG_swapbacked, and counts it in `nr_anon_pages`. The caller's reference becomes the
 * page-table entry's.
 * @see mm/rmap.c: folio_add_new_anon_rmap
 */
export function pageAddNewAnonRmap(
  mem: Memory,
  pfn: number,
  anonVma: AnonVma,
  index: number,
): void {
  const [a, i] = mem.pageWords(pfn);
  a[i + P_MAPPING] = anonVma.mappingWord;
  a[i + P_INDEX] = index;
  Atomics.store(a, i + P_MAPCOUNT, 0);
  mem.setPageFlag(pfn, PG_swapbacked);
  mem.modNodeState(mem.pageToNid(pfn), 'nr_anon_pages', 1);
}

/**
 * One more page-table entry maps a page that is already mapped or owned
 * (`folio_add_file_rmap_pte`, `folio_dup_file_rmap_pte` and fork's
 * `folio_try_dup_anon_rmap_pte`): mapcount + 1, and the first mapping of a file page is
 * counted in `nr_mapped` (an anonymous page is counted from its first mapping on).
 * The caller supplies the entry's reference.
 * @see mm/rmap.c: __folio_add_rmap
 */
export function pageAddRmap(mem: Memory, pfn: number): void {
  const [a, i] = mem.pageWords(pfn);
  const was = Atomics.add(a, i + P_MAPCOUNT, 1);
  if (was === -1)
    mem.modNodeState(
      mem.pageToNid(pfn),
      mappingIsAnon(a[i + P_MAPPING]! >>> 0) ? 'nr_anon_pages' : 'nr_mapped',
      1,
    );
}

/**
 * A page-table entry stopped mapping a page (`folio_remove_rmap_pte`): mapcount − 1, and
 * the last unmap uncounts it from `nr_anon_pages` or `nr_mapped`. Returns true if that was
 * the last mapping. Does not drop the entry's reference: the caller does, after this,
 * with swap.ts's `putLruPage`, which takes a page whose last reference goes off its LRU
 * list and clears an anonymous P_MAPPING (as `free_pages_prepare` does).
 * @throws KernelError EINVAL if the page was not mapped (a bug; reported as bad_page).
 * @see mm/rmap.c: folio_remove_rmap_pte
 */
export function pageRemoveRmap(mem: Memory, pfn: number): boolean {
  const [a, i] = mem.pageWords(pfn);
  const was = Atomics.sub(a, i + P_MAPCOUNT, 1);
  if (was < 0) {
    Atomics.add(a, i + P_MAPCOUNT, 1);
    mem.badPage(pfn, 'page_remove_rmap on an unmapped page', false);
    throw new KernelError(
      'EINVAL',
      `unmapping pfn 0x${pfn.toString(16)} whose mapcount is already 0`,
    );
  }
  if (was !== 0) return false;
  const anon = mappingIsAnon(a[i + P_MAPPING]! >>> 0);
  mem.modNodeState(mem.pageToNid(pfn), anon ? 'nr_anon_pages' : 'nr_mapped', -1);
  return true;
}

/** What {@link rmapWalk} calls for each VMA that may map the page. Return false to stop. @see include/linux/rmap.h: struct rmap_walk_control */
export type RmapWalkFn = (vma: RmapVma, index: number) => boolean | void;

/**
 * Calls `fn` for every VMA that may map `pfn` at its P_INDEX (`rmap_walk`): the VMAs of
 * its anon_vma for an anonymous page, the owner's `iMmap` for a file page (an owner
 * registered in `mem.mappings` that has an `iMmap` set, as filemap.ts's address space
 * does). Returns how many VMAs were visited; 0 for a page with no known owner.
 * @see mm/rmap.c: rmap_walk, rmap_walk_anon, rmap_walk_file
 */
export function rmapWalk(mem: Memory, pfn: number, fn: RmapWalkFn): number {
  const word = mem.pageField(pfn, P_MAPPING) >>> 0;
  const owner = mem.mappings.lookup(word);
  if (!owner) return 0;
  const vmas: ReadonlySet<RmapVma> | undefined =
    owner instanceof AnonVma ? owner.vmas : (owner as { iMmap?: Set<RmapVma> }).iMmap;
  if (!vmas) return 0;
  const index = mem.pageField(pfn, P_INDEX) >>> 0;
  let n = 0;
  for (const vma of [...vmas]) {
    n++;
    if (fn(vma, index) === false) break;
  }
  return n;
}
