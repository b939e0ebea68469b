// The dentry cache's order and the capability check's cached word, on their
// own: which dentry goes first past the bound (least recently used, a
// directory only after its children, never a mount point or a deleted one),
// and hasCap answering for the credentials it is given, whichever it was
// asked about last.

import { strict as assert } from 'node:assert';
import { DentryCache } from '../../src/kernel/vfs/dcache.js';
import { Dentry, Inode } from '../../src/kernel/vfs/inode.js';
import { CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER, hasCap, type Cred } from '../../src/kernel/vfs/perm.js';
import { ENOENT, type Errno } from '../../src/linux/errno.js';
import * as abi from '../../src/linux/abi.js';

/** An inode holding a pretend backend node: evictable, and it records when it gives its node back. */
class NodeInode extends Inode {
  dropped = false;
  constructor(readonly type: number = abi.S_IFREG) {
    super();
  }
  getattr(): Errno {
    return ENOENT;
  }
  open(): Errno {
    return ENOENT;
  }
  override drop(): boolean {
    this.dropped = true;
    return true;
  }
  override get evictable(): boolean {
    return true;
  }
}

function child(parent: Dentry, name: string, type = abi.S_IFREG): Dentry {
  return parent.remember(new Dentry(name, parent, new NodeInode(type)));
}

describe('kernel/vfs: the dentry cache LRU list and hasCap', () => {
  const dropped = (...ds: Dentry[]) => ds.map((x) => (x.inode as NodeInode).dropped);

  it('evicts the least recently used first, a touch making a dentry the newest again', () => {
    const root = new Dentry('', null, new NodeInode(abi.S_IFDIR));
    const cache = new DentryCache(3);
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((n) => child(root, n));
    for (const x of [a, b, c]) cache.touch(x);
    cache.touch(a); // order now b, c, a
    cache.touch(a); // touching the newest again changes nothing
    assert.equal(cache.size, 3);
    cache.touch(d); // past the bound: b goes
    assert.equal(cache.size, 3);
    assert.equal(cache.evictions, 1);
    assert.deepEqual(dropped(a, b, c, d), [false, true, false, false]);
    assert.equal(root.cachedChildren, 3);
    // Still held here, b is found again by its name (one live dentry per name), and a touch makes it the newest: c is now the oldest.
    assert.equal(root.cached('b'), b);
    cache.touch(b);
    assert.deepEqual(dropped(a, c, d), [false, true, false]);
    assert.equal(cache.evictions, 2);
  });

  it('a directory with cached children leaves the list instead of going; once they are gone it joins it as the newest', () => {
    const root = new Dentry('', null, new NodeInode(abi.S_IFDIR));
    const cache = new DentryCache(2);
    const dir = child(root, 'dir', abi.S_IFDIR);
    cache.touch(dir);
    const f = child(dir, 'f');
    cache.touch(f);
    const g = child(root, 'g');
    cache.touch(g); // past the bound: dir, the oldest, has a child: off the list, nothing evicted
    assert.equal(cache.evictions, 0);
    assert.equal(cache.size, 2);
    assert.deepEqual(dropped(dir, f, g), [false, false, false]);
    const h = child(root, 'h');
    cache.touch(h); // f goes; dir, childless now, is the newest; then g goes
    assert.deepEqual(dropped(dir, f, g, h), [false, true, true, false]);
    assert.equal(cache.size, 2);
    cache.touch(child(root, 'i')); // the oldest is h, then dir
    assert.deepEqual(dropped(dir, h), [false, true]);
  });

  it('never lists the root, mount roots or deleted dentries', () => {
    const root = new Dentry('', null, new NodeInode(abi.S_IFDIR));
    const cache = new DentryCache(1);
    cache.touch(root);
    const m = child(root, 'mnt', abi.S_IFDIR);
    m.mountRoot = true;
    cache.touch(m);
    const gone = child(root, 'gone');
    gone.deleted = true;
    cache.touch(gone);
    assert.equal(cache.size, 0);
    const x = child(root, 'x');
    cache.touch(x);
    assert.equal(cache.size, 1);
  });

  it('hasCap answers for the set it is given, whichever set it saw last', () => {
    const all: Cred = { euid: 0, egid: 0, groups: [], caps: { effective: (1n << 41n) - 1n } };
    const none: Cred = { euid: 0, egid: 0, groups: [], caps: { effective: 0n } };
    const readSearch: Cred = { euid: 1000, egid: 1000, groups: [], caps: { effective: 1n << BigInt(CAP_DAC_READ_SEARCH) } };
    const high: Cred = { euid: 0, egid: 0, groups: [], caps: { effective: 1n << 40n } };
    for (let round = 0; round < 2; round++) {
      assert.equal(hasCap(all, CAP_DAC_OVERRIDE), true);
      assert.equal(hasCap(none, CAP_DAC_OVERRIDE), false);
      assert.equal(hasCap(readSearch, CAP_DAC_OVERRIDE), false);
      assert.equal(hasCap(readSearch, CAP_DAC_READ_SEARCH), true);
      assert.equal(hasCap(all, CAP_FOWNER), true);
      assert.equal(hasCap(high, CAP_CHOWN), false);
      assert.equal(hasCap(high, 40), true);
      assert.equal(hasCap(all, 40), true);
      assert.equal(hasCap(none, 40), false);
    }
    // A set changed in place (capset replaces the bigint): the new value counts.
    const mutable: Cred = { euid: 0, egid: 0, groups: [], caps: { effective: 1n << BigInt(CAP_FOWNER) } };
    assert.equal(hasCap(mutable, CAP_FOWNER), true);
    mutable.caps!.effective = 0n;
    assert.equal(hasCap(mutable, CAP_FOWNER), false);
    // Without capability sets, euid 0 holds them all.
    assert.equal(hasCap({ euid: 0, egid: 0, groups: [] }, CAP_DAC_OVERRIDE), true);
    assert.equal(hasCap({ euid: 5, egid: 0, groups: [] }, CAP_DAC_OVERRIDE), false);
  });
});
